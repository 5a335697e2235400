"""The error log: where an unexpected error's traceback goes, so the screen need not show it.

One entry per error: when, which AccessGuard, and the traceback as Python prints it, which
names each frame and its source line but never a frame's local variables (Textual's crash
screen and rich tracebacks show those, and passwords and stored data live in locals). A
URL's password is masked and control characters are made visible, so ``cat errors.log``
cannot drive the reader's terminal.

The file is created 0600 in a 0700 directory (`tui.paths`). It is bounded: when an entry
would take it past `MAX_BYTES`, it is renamed to ``errors.log.1`` (replacing the older one)
and a new file is started, so the two never hold more than twice that.
"""

from __future__ import annotations

import os
import traceback
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from data.redact import redact
from tui.paths import error_log_path, private_dir
from tui.text import visible

MAX_BYTES = 256 * 1024
# One entry's share at most (characters of traceback; at most 3 bytes each once
# made visible): a 10 MB message keeps its head and its tail.
MAX_ENTRY_CHARS = 16 * 1024
CUT = "\n[... cut ...]\n"


def log_error(error: BaseException, *, path: Path | None = None) -> Path:
    """Append ``error``'s traceback to the error log and return the log's path.

    Raises `OSError` when the log cannot be written (the caller says so instead).
    """
    path = path or error_log_path()
    private_dir(path.parent)
    entry = _entry(error)
    _rotate_if_full(path, len(entry))
    # O_NOFOLLOW: a symlink planted where the log goes is refused, not written through.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a file made by an older version or under another umask
        os.write(fd, entry)
    finally:
        os.close(fd)
    return path


def _entry(error: BaseException) -> bytes:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    # Masked before it is cut, so a cut cannot leave a password without the "@" that
    # marks it.
    lines = redact("".join(traceback.format_exception(type(error), error, error.__traceback__)))
    if len(lines) > MAX_ENTRY_CHARS:
        half = (MAX_ENTRY_CHARS - len(CUT)) // 2
        lines = lines[:half] + CUT + lines[-half:]
    # visible() per line keeps the line breaks and nothing else that could steer a terminal.
    body = "\n".join(visible(line) for line in lines.splitlines())
    text = f"--- {when}  AccessGuard {_version()}  pid {os.getpid()}\n{body}\n\n"
    return text.encode("utf-8", errors="replace")


def _rotate_if_full(path: Path, adding: int) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size + adding > MAX_BYTES:
        # The old file keeps its 0600 mode through the rename.
        os.replace(path, path.with_name(path.name + ".1"))


def _version() -> str:
    try:
        return version("accessguard")
    except PackageNotFoundError:
        return "(source)"
