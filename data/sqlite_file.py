"""The SQLite file behind an engine: opened by its exact name, and still that file at each write.

Naming. A ``sqlite:///`` URL's path is percent-decoded by SQLAlchemy, as in any URL: a file
``a?b.db`` is ``sqlite:///a%3Fb.db`` and ``100%.db`` is ``sqlite:///100%25.db`` (``#``,
spaces, brackets and non-ASCII letters may be written as they are). The engine then opens
that path through a ``file:`` URI it builds itself, every byte quoted, so nothing in the
name can be read as a URI's query, fragment or escape, in read-only and read-write mode
alike; ``mode=ro`` / ``mode=rw`` means SQLite never creates a file either (AccessGuard
creates a new one itself, 0600). AccessGuard builds the URI, so a URL may carry no SQLite
URI options of its own: only ``timeout``.

Identity. The engine remembers the file's (device, inode) when it is built, and checks it
when a connection opens and when a write transaction begins. A file deleted, moved or
replaced (another database moved over it) since then is not written: the write is refused
with `FileReplaced`, and nothing lands in the unlinked file or the stranger. The refusal
also empties the -wal into the old file: SQLite names the -wal after the path, so the
newcomer would otherwise take the old file's last pages for its own. Before that (an idle
console whose last save is still in the -wal) another program opening the newcomer can
see them; emptying the -wal after every write would close that window, but made eight
concurrent writers 5-8x slower, so docs/guarantees.md says to quit AccessGuard first.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from data.config import BadDatabaseURL
from data.errors import FileReplaced

if TYPE_CHECKING:
    # Only named: `file_uri` serves the console's first page before SQLAlchemy loads.
    from sqlalchemy.engine import URL

# The pysqlite options a SQLite URL may carry (`data.engine.sqlite_busy_timeout_ms` reads it).
ALLOWED_OPTIONS = frozenset({"timeout"})


def sqlite_path(url: URL) -> Path:
    """The database file ``url`` names, made absolute against the working directory now."""
    name = url.database or ""
    if "\x00" in name:
        raise BadDatabaseURL("the SQLite file name holds a NUL character (%00)")
    return Path(os.path.abspath(name))


def check_options(url: URL) -> None:
    """Refuse query options other than ``timeout``: a ``?`` meant as part of the file name,
    or SQLite URI options (``mode``, ``uri``, ``cache``...) AccessGuard decides itself."""
    unknown = sorted(set(url.query) - ALLOWED_OPTIONS)
    if unknown:
        raise BadDatabaseURL(
            f"the SQLite URL has options AccessGuard does not take ({', '.join(unknown)}); "
            "only ?timeout=SECONDS is. A ? in the file name is written %3F and a % is %25, "
            "e.g. sqlite:///a%3Fb.db; for read-only use --read-only"
        )


def file_uri(path: Path, *, read_only: bool) -> str:
    """The ``file:`` URI that opens exactly ``path`` (absolute) and never creates it.

    Every byte outside the unreserved set is percent-encoded (from the file system's own
    bytes, so any name round-trips), and the empty authority keeps a path that starts
    with ``//`` a path.
    """
    quoted = quote(os.fsencode(path), safe="/")
    return f"file://{quoted}?mode={'ro' if read_only else 'rw'}"


class FileIdentity:
    """The (device, inode) of the file an engine opened, and the check against it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._identity: tuple[int, int] | None = None
        self.remember()

    def remember(self) -> None:
        """Record the file now at the path, unless one is recorded (or there is none yet)."""
        with self._lock:
            if self._identity is None:
                self._identity = self._current()

    def _current(self) -> tuple[int, int] | None:
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (found.st_dev, found.st_ino)

    def check(self) -> None:
        """Raise `FileReplaced` unless the file at the path is the one first opened."""
        self.remember()
        with self._lock:
            expected = self._identity
        if expected is None:
            return  # there never was a file: SQLite says why it cannot open it
        now = self._current()
        if now is None:
            raise FileReplaced(
                f"The database file {self.path} was deleted or moved since it was opened; "
                "not saved: nothing was changed. Put it back, or quit and open the file "
                "where it is now."
            )
        if now != expected:
            raise FileReplaced(
                f"The database file {self.path} was replaced since it was opened (another "
                "file is at that path now); not saved: nothing was changed. Quit and open "
                "it again to work on the file now there."
            )

    def check_connection(self, dbapi_connection: Any) -> None:
        """At connect: the new connection opened the file first opened, or it is closed."""
        try:
            self.check()
        except FileReplaced:
            dbapi_connection.close()
            raise

    def check_write(self, dbapi_connection: Any, *, busy_timeout_ms: int) -> None:
        """Inside a write transaction just begun: refuse it if the file was replaced.

        The transaction is rolled back, and this connection's pages are moved out of the
        -wal file (`empty_wal`).
        """
        try:
            self.check()
        except FileReplaced:
            dbapi_connection.execute("ROLLBACK")
            empty_wal(dbapi_connection, busy_timeout_ms=busy_timeout_ms)
            raise


def empty_wal(dbapi_connection: Any, *, busy_timeout_ms: int) -> None:
    """Checkpoint the -wal file into the database file this connection has open, and
    truncate it; at once or not at all (another connection still reading needs it).

    SQLite names the -wal and -shm after the path, not the file: a database moved over an
    open one inherits its -wal, and whoever opens the newcomer next reads these pages as
    its own and, closing, writes them into it. Emptied, the -wal holds nothing to take.
    """
    try:
        dbapi_connection.execute("PRAGMA busy_timeout = 0")
        dbapi_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    except sqlite3.Error:
        pass  # busy: another connection still reads it; the write is refused all the same
    finally:
        with contextlib.suppress(sqlite3.Error):
            dbapi_connection.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
