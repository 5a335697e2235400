"""Where AccessGuard keeps its own files for the person running it (never the database).

The directories come from platformdirs, so they follow each platform's rules: on Linux the
XDG base directories (``$XDG_CONFIG_HOME``, else ``~/.config``; ``$XDG_STATE_HOME``, else
``~/.local/state``). Every directory made here is private (0700): what the console writes
about its errors is nobody else's business. The config file is the admin's: AccessGuard
reads it and never writes it; what the console remembers by itself (the theme last chosen
in the palette) goes to a state file instead.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "accessguard"


def log_dir() -> Path:
    """The console's log directory, e.g. ``~/.local/state/accessguard/log`` on Linux."""
    return platformdirs.user_log_path(APP_NAME, appauthor=False)


def error_log_path() -> Path:
    """The file unexpected errors are logged to, with their tracebacks."""
    return log_dir() / "errors.log"


def config_path() -> Path:
    """The admin's config file, e.g. ``~/.config/accessguard/config.toml`` on Linux."""
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "config.toml"


def state_path() -> Path:
    """What the console remembers between runs, e.g. ``~/.local/state/accessguard/state.json``."""
    return platformdirs.user_state_path(APP_NAME, appauthor=False) / "state.json"


def private_dir(path: Path) -> Path:
    """``path`` made if missing (0700, parents too) and returned."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
