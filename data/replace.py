"""Writing a file that appears whole or not at all, and only ever as a regular file.

An export is written to a private temporary file beside its target and renamed over it at
the end. Only a regular file (or nothing) is ever replaced: a symbolic link (dangling or
not), a directory, a FIFO, a socket or a device at the target is refused with a message
naming it, both before anything is written and again at the moment of replacement, so a
target swapped for something else meanwhile is refused too. A new target is created with
link(2), which never replaces anything that appeared in between. A hard-linked target is
replaced under this name only: its other names keep the old contents.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from data.errors import Invalid

_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO (named pipe)"), None for a regular file."""
    for check, name in _KINDS:
        if check(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def _refused(path: Path, found: os.stat_result) -> Invalid:
    what = _kind(found.st_mode)
    if stat.S_ISLNK(found.st_mode):
        target = os.readlink(path)
        dangling = "" if path.exists() else ", which does not exist"
        what = f"{what} to {target!r}{dangling}"
    return Invalid(
        {
            "file": f"{str(path)!r} is {what}; export replaces only a regular file: "
            "give another name, or remove it first"
        }
    )


def existing(path: Path) -> os.stat_result | None:
    """``path``'s own status (a link is not followed), None if nothing is there; `Invalid`
    if it is anything but a regular file."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(found.st_mode):
        raise _refused(path, found)
    return found


def target_problem(path: Path) -> str | None:
    """Why an export to ``path`` would be refused, or None: the console's prompt says it
    before the export starts (the export checks again as it replaces the file)."""
    try:
        existing(path)
    except Invalid as refused:
        return refused.errors["file"]
    except OSError as error:
        return f"{error.strerror or error}"
    return None


@contextmanager
def atomic_file(path: Path) -> Iterator[TextIO]:
    """A private (0600) temp file beside ``path`` that replaces it only once fully written.

    A failed or interrupted export never leaves a half-written file behind, nor clobbers
    an older one; anything at ``path`` but a regular file is refused (`Invalid`).
    """
    before = existing(path)
    try:
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except PermissionError as error:
        raise Invalid(
            {"file": f"cannot write in the folder {str(path.parent)!r}: {error.strerror}"}
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        _replace(Path(temp_name), path, before)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _replace(temp: Path, path: Path, before: os.stat_result | None) -> None:
    """Rename ``temp`` over ``path`` if ``path`` is still what it was (``before``)."""
    if before is None:
        try:
            # link(2) fails if anything appeared at the name meanwhile: never a replacement.
            os.link(temp, path)
        except FileExistsError:
            now = os.lstat(path)
            if not stat.S_ISREG(now.st_mode):
                raise _refused(path, now) from None
            raise Invalid(
                {"file": f"{str(path)!r} was created by someone else during the export"}
            ) from None
        except OSError:
            # A file system without hard links: the checked rename below.
            _checked_replace(temp, path, None)
            return
        temp.unlink()
        return
    _checked_replace(temp, path, before)


def _checked_replace(temp: Path, path: Path, before: os.stat_result | None) -> None:
    if _identity(existing(path)) != _identity(before):
        raise Invalid({"file": f"{str(path)!r} was replaced by someone else during the export"})
    os.replace(temp, path)


def _identity(found: os.stat_result | None) -> tuple[int, int] | None:
    return None if found is None else (found.st_dev, found.st_ino)


__all__ = ["atomic_file", "existing", "target_problem"]
