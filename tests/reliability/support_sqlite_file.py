"""Helpers for tests/reliability/test_sqlite_file.py: the installed command line in a child
process of its own, SQLite files with awkward names, and what a folder and a file hold.

Nothing here touches the database through AccessGuard: files are read with Python's own
sqlite3 module, by absolute path (so a name starting ``file:`` is never taken as a URI).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from tests import preloaded
from tests.cli_support import Ran
from tests.console_support import child_console_environment
from tests.reliability.support_input import accessguard

CLI_SECONDS = 60.0

# One name per kind of character a URI gives a meaning to (issue 11, item 1), and one
# with them all. Each is written in a URL as RFC 3986 says: every byte percent-encoded.
HOSTILE_NAMES = (
    "a#b.db",
    "a?b.db",
    "a%41.db",
    "a%.db",
    "a b.db",
    "[x].db",
    "é 数据.db",
    "file:x.db",
    "file:a#b?mode=rwc&c=%41 [é].db",
)


def url_for(path: Path | str) -> str:
    """The ``sqlite:///`` URL of ``path`` (relative, or absolute), every byte encoded."""
    return "sqlite:///" + quote(os.fsencode(str(path)), safe="/")


def cli(argv: Sequence[str], *, cwd: Path) -> Ran:
    """Run the installed ``accessguard`` with ``argv`` in ``cwd``, in a process of its own."""
    done = preloaded.run(
        [accessguard(), *argv],
        cwd=cwd,
        env=child_console_environment(),
        capture_output=True,
        timeout=CLI_SECONDS,
        check=False,
    )
    ran = Ran.of(done)
    assert "Traceback" not in ran.err, ran.err
    return ran


def start_cli(argv: Sequence[str], *, cwd: Path) -> preloaded.Child:
    """Start the installed ``accessguard`` with ``argv``; the caller waits for it."""
    return preloaded.Child(
        [accessguard(), *argv],
        cwd=cwd,
        env=child_console_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def folder(path: Path) -> list[str]:
    """The names in the folder ``path``, sorted."""
    return sorted(entry.name for entry in path.iterdir())


def users(path: Path, *, immutable: bool = False) -> list[tuple[str, str]]:
    """(email, name) of every user in the SQLite file ``path``, by id.

    Opened read-write (``mode=rw`` never creates a missing file), so SQLite removes the
    -wal and -shm it made on closing; a read-only connection would leave them behind.
    ``immutable``: the file alone, as written, whatever waits in a -wal beside it.
    """
    options = "immutable=1" if immutable else "mode=rw"
    connection = sqlite3.connect(f"file:{quote(str(path.absolute()))}?{options}", uri=True)
    try:
        rows = connection.execute("SELECT email, name FROM users ORDER BY id").fetchall()
        return [(str(email), str(name)) for email, name in rows]
    finally:
        connection.close()


def has_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has the file ``path`` open (what /proc/PID/fd shows)."""
    fds = Path(f"/proc/{pid}/fd")
    for fd in fds.iterdir():
        try:
            if os.readlink(fd) == str(path):
                return True
        except OSError:
            continue  # closed meanwhile
    return False
