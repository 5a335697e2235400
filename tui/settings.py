"""The admin's config file (TOML) and what the console remembers by itself.

The config file (`tui.paths.config_path`, ``~/.config/accessguard/config.toml`` on Linux) is
read, never written::

    database_url_env = "SHOP_DB"     # or: database_url = "postgresql://admin@db/shop"
    theme = "ansi-dark"
    page_size = 200

    [keys]                            # Textual keymaps: binding id = keys
    "records.new" = "a"
    "app.quit" = "q,ctrl+q"

A broken file is refused with a `ConfigError` naming the file, the line or key and the
problem. Parsing loads neither Textual nor SQLAlchemy: the scripting commands read the
file too (for the database URL). Theme names and binding ids are checked against the
console's own (`check_console_names`) when the console starts and by ``config path``.

What the console remembers (the theme last chosen in the palette) is a small JSON state
file (`tui.paths.state_path`), so the admin's config file is never rewritten.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from tui.paths import private_dir

PAGE_SIZE_RANGE = (10, 500)
# Where a config file's URL may come from; `database_url_env` names an environment variable.
URL_KEYS = ("database_url", "database_url_env")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ConfigError(Exception):
    """The config file cannot be used: ``str`` names the file, where, and what is wrong."""

    def __init__(self, path: Path, where: str, problem: str) -> None:
        self.path = path
        self.where = where
        self.problem = problem
        place = f"{path}, {where}" if where else str(path)
        super().__init__(f"config file {place}: {problem}")


class Settings(NamedTuple):
    """The config file's values; every one optional (None / empty: the built-in default)."""

    path: Path | None = None
    database_url: str | None = None
    database_url_env: str | None = None
    theme: str | None = None
    page_size: int | None = None
    keys: Mapping[str, str] = MappingProxyType({})

    def url(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The database URL this file gives, if any (reading ``database_url_env``'s variable).

        Raises `ConfigError` if the variable it names is not set: a silent fall back to the
        local SQLite file would open the wrong database.
        """
        if self.database_url_env is None:
            return self.database_url
        env = os.environ if environ is None else environ
        value = env.get(self.database_url_env)
        if not value:
            assert self.path is not None
            raise ConfigError(
                self.path,
                "database_url_env",
                f"the environment variable {self.database_url_env} is not set (or empty)",
            )
        return value


# What each key must be: (type, its name in messages).
_TYPES: dict[str, tuple[type, str]] = {
    "database_url": (str, "a string"),
    "database_url_env": (str, "a string"),
    "theme": (str, "a string"),
    "page_size": (int, "a whole number"),
    "keys": (dict, "a table ([keys])"),
}


def load_settings(path: Path) -> Settings:
    """The settings in ``path``; defaults if it does not exist. Raises `ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except UnicodeDecodeError:
        raise ConfigError(path, "", "not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(path, "", f"cannot be read: {error.strerror or error}") from None
    import tomllib  # only for a file that exists: most starts have none (~4 ms to load)

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # tomllib's message ends with "(at line N, column M)": put the place first.
        message = str(error)
        found = re.search(r"\(at line (\d+), column (\d+)\)$", message)
        at_end = message.endswith("(at end of document)")
        if found:
            problem = message[: found.start()].strip()
            where = f"line {found.group(1)}, column {found.group(2)}"
        elif at_end:
            problem = message[: -len("(at end of document)")].strip()
            where = f"line {max(1, len(text.splitlines()))} (end of file)"
        else:
            problem, where = message, ""
        raise ConfigError(path, where, f"not valid TOML: {problem}") from None
    return _settings(path, text, raw)


def _settings(path: Path, text: str, raw: dict[str, Any]) -> Settings:
    for key, value in raw.items():
        if key not in _TYPES:
            known = ", ".join(_TYPES)
            raise ConfigError(path, _where(text, key), f"unknown key {key!r} (known: {known})")
        kind, name = _TYPES[key]
        # bool is an int in Python, but `page_size = true` is a mistake.
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ConfigError(
                path, _where(text, key), f"{key} must be {name}, not {_toml_type(value)}"
            )
    if all(key in raw for key in URL_KEYS):
        raise ConfigError(
            path, _where(text, URL_KEYS[1]), "give database_url or database_url_env, not both"
        )
    env_name = raw.get("database_url_env")
    if env_name is not None and not _ENV_NAME.fullmatch(env_name):
        raise ConfigError(
            path,
            _where(text, "database_url_env"),
            "database_url_env must be the NAME of an environment variable (e.g. SHOP_DB), "
            "not a URL",
        )
    for key in ("database_url", "theme"):
        if raw.get(key) == "":
            raise ConfigError(path, _where(text, key), f"{key} is empty")
    page_size = raw.get("page_size")
    low, high = PAGE_SIZE_RANGE
    if page_size is not None and not low <= page_size <= high:
        raise ConfigError(
            path, _where(text, "page_size"), f"page_size must be {low} to {high}, not {page_size}"
        )
    keys: dict[str, str] = {}
    for binding_id, value in raw.get("keys", {}).items():
        where = _where(text, binding_id, f"keys.{binding_id}")
        if not isinstance(value, str):
            raise ConfigError(
                path,
                where,
                f'keys.{binding_id} must be a string of keys like "ctrl+n,a", '
                f"not {_toml_type(value)}",
            )
        if not value.strip() or any(not key.strip() for key in value.split(",")):
            raise ConfigError(path, where, f"keys.{binding_id} has an empty key: {value!r}")
        keys[binding_id] = value
    return Settings(
        path=path,
        database_url=raw.get("database_url"),
        database_url_env=env_name,
        theme=raw.get("theme"),
        page_size=page_size,
        keys=keys,
    )


def check_console_names(
    settings: Settings, *, themes: Collection[str], binding_ids: Collection[str]
) -> None:
    """Refuse a theme or a binding id the console does not have (`ConfigError`)."""
    if settings.path is None:
        return
    text = _text_of(settings.path)
    if settings.theme is not None and settings.theme not in themes:
        raise ConfigError(
            settings.path,
            _where(text, "theme"),
            f"unknown theme {settings.theme!r} (known: {', '.join(sorted(themes))})",
        )
    for binding_id in settings.keys:
        if binding_id not in binding_ids:
            close = difflib.get_close_matches(binding_id, binding_ids, n=3)
            hint = f"did you mean {' or '.join(close)}?" if close else "see the README's keys"
            raise ConfigError(
                settings.path,
                _where(text, binding_id, f"keys.{binding_id}"),
                f"unknown binding id {binding_id!r} under [keys]; {hint}",
            )


def _text_of(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _where(text: str, key: str, name: str | None = None) -> str:
    """``line N (key)`` for the first line assigning ``key``, or ``key`` if none is found."""
    label = name or key
    pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return f"line {number} ({label})"
    return label


def _toml_type(value: object) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", str: "a string"}
    for kind, name in names.items():
        if type(value) is kind:
            return name
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return "a date or time"


# What the console remembers


def remembered_state(path: Path) -> tuple[str, str | None] | None:
    """(theme last chosen in the palette, the config file's theme then), if one was chosen.

    A missing or damaged state file is no choice: it is the console's note, not the admin's.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError):  # ValueError: not UTF-8
        return None
    import json  # only once there is a note to read: the import costs every start ~1.5 ms

    try:
        state = json.loads(text)
    except ValueError:
        return None
    if not isinstance(state, dict) or not isinstance(state.get("theme"), str):
        return None
    over = state.get("config_theme")
    return state["theme"], over if isinstance(over, str) else None


def remember_theme(path: Path, theme: str, *, over: str | None) -> None:
    """Note ``theme``, chosen over the config file's ``over``, in the state file (private
    directory, replaced whole). Raises OSError."""
    import json

    private_dir(path.parent)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps({"theme": theme, "config_theme": over}) + "\n", encoding="utf-8")
    temp.replace(path)
