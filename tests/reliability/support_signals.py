"""Helpers for the signal tests: a real console on a pseudo-terminal, what a backend shows of
other sessions' transactions and locks, and a way to keep a write in flight.

Nothing here mocks the database: the console is the installed ``accessguard`` script in a
process of its own (forked from the tests' preloaded server, or a fresh interpreter where a
start-up hook must load), the servers are the real ones, and a write is held in flight at
its audit insert by a file lock the test holds (`HeldAuditInsert`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pty
import re
import select
import signal
import sqlite3
import struct
import sys
import termios
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine

from tests.preloaded import PtyChild

# The `accessguard` console script installed beside this interpreter.
ACCESSGUARD = Path(sys.executable).with_name("accessguard")

# CSI and OSC sequences, charset selections and single-character escapes: what is left of
# a Textual frame once they are gone is the text on screen, in drawing order.
_ESCAPES = re.compile(
    rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]"
    rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    rb"|\x1b[()][0-9A-Za-z]|\x1b[=>78]"
)
# Python's own words when an exception escapes to the terminal.
TRACEBACK_MARKERS = ("Traceback (most recent call last)", "Exception ignored", "Error:")


def plain(data: bytes) -> str:
    """The text a terminal would show of ``data``, escape sequences removed."""
    return _ESCAPES.sub(b"", data).decode("utf-8", errors="replace")


class PtyConsole:
    """``accessguard --db URL [options]`` running on a pseudo-terminal: a process forked
    from the tests' preloaded server (tests/preloaded.py), or with ``fresh`` the installed
    script in a new interpreter (what a start-up hook such as `HeldAuditInsert` needs).

    The test is the terminal: it reads everything the console draws and types keys into it.
    """

    def __init__(
        self,
        url: str,
        *,
        columns: int = 100,
        rows: int = 30,
        stderr: Path | None = None,
        env: dict[str, str] | None = None,
        options: Sequence[str] = (),
        fresh: bool = False,
    ) -> None:
        self.started = time.monotonic()
        self.output = b""
        self.status: int | None = None
        self.child: PtyChild | None = None
        if not fresh:
            environment = {**os.environ, "TERM": "xterm-256color"}
            environment.pop("ACCESSGUARD_DEBUG", None)
            # As an admin runs it: output buffered (unbuffered output hid a wrong exit status).
            environment.pop("PYTHONUNBUFFERED", None)
            environment.update(env or {})
            argv = [str(ACCESSGUARD), "--db", url, *options]
            if stderr is None:
                self.child = PtyChild(argv, rows=rows, columns=columns, env=environment)
            else:
                with open(stderr, "wb") as file:
                    os.chmod(stderr, 0o600)
                    self.child = PtyChild(
                        argv, rows=rows, columns=columns, env=environment, stderr=file
                    )
            self.pid = self.child.pid
            self.fd: int | None = self.child.fd
            return
        pid, fd = pty.fork()
        if pid == 0:  # the child: become the console (exec replaces this interpreter)
            os.environ["TERM"] = "xterm-256color"
            os.environ.pop("ACCESSGUARD_DEBUG", None)
            # As an admin runs it: output buffered (unbuffered output hid a wrong exit status).
            os.environ.pop("PYTHONUNBUFFERED", None)
            os.environ.update(env or {})
            if stderr is not None:  # where it can still be read once the terminal is gone
                os.dup2(os.open(stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
            os.execv(str(ACCESSGUARD), [str(ACCESSGUARD), "--db", url, *options])
        self.pid = pid
        self.fd = fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    @property
    def screen_text(self) -> str:
        """Everything drawn so far, as text."""
        return plain(self.output)

    def _read(self, timeout: float) -> bool:
        """Read what is there within ``timeout``; False once the terminal is closed."""
        if self.fd is None:
            return False
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError as error:  # EIO: every process holding the terminal has gone
            if error.errno != errno.EIO:
                raise
            data = b""
        if not data:
            os.close(self.fd)
            self.fd = None
            return False
        self.output += data
        return True

    def expect(self, wanted: str, *, after: int = 0, seconds: float = 15.0) -> None:
        """Wait until ``wanted`` has been drawn (after output offset ``after``)."""
        deadline = time.monotonic() + seconds
        while wanted not in plain(self.output[after:]):
            if time.monotonic() > deadline or not self._read(0.05):
                raise AssertionError(
                    f"{wanted!r} not on screen after {seconds} s; the screen ends with:\n"
                    + self.screen_text[-1500:]
                )

    def press(self, keys: bytes) -> None:
        """Type ``keys`` (raw bytes: b"j", b"\\x13" for ctrl+s)."""
        assert self.fd is not None, "the terminal is closed"
        os.write(self.fd, keys)

    def hang_up(self) -> None:
        """Close the terminal's master side, as sshd does when the link drops."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def send(self, signum: int) -> None:
        """Send ``signum`` to the console process."""
        os.kill(self.pid, signum)

    def wait(self, seconds: float) -> int:
        """Wait up to ``seconds`` for the console to end, draining its output; its wait status.

        Fails (after killing it) if it is still running then.
        """
        deadline = time.monotonic() + seconds
        while self.status is None:
            status = self._ended()
            if status is not None:
                self.status = status
                break
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(
                    f"the console was still running {seconds} s later; the screen ends with:\n"
                    + self.screen_text[-1500:]
                )
            if not self._read(0.02):
                time.sleep(0.01)  # the terminal is closed: only the exit is left to see
        while self._read(0.02):  # what it wrote on its way out
            pass
        return self.status

    def _ended(self) -> int | None:
        """The wait status if the console has ended, else None."""
        if self.child is not None:
            self.child.poll()
            return self.child.wait_status
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        return status if pid else None

    def kill(self) -> None:
        """SIGKILL the console (cleanup; idempotent) and reap it."""
        if self.status is None and self.child is not None:
            self.child.kill()
            self.child.wait()
            self.status = self.child.wait_status
        elif self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            _, self.status = os.waitpid(self.pid, 0)
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def poll(
    condition: Callable[[], bool], *, seconds: float, every: float = 0.01, what: str = ""
) -> float:
    """Wait until ``condition()`` holds; how long it took. Fails after ``seconds``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"still not true after {seconds} s: {what}")
        time.sleep(every)
    return time.monotonic() - start


# What a backend shows of other sessions


@dataclass(frozen=True)
class Leftover:
    """A session of the test database still open on the server, and what it holds."""

    session: str
    state: str
    in_transaction: bool
    locks: int


def admin_engine(url: URL) -> Engine:
    """An autocommit engine on the server of ``url`` (its database), for looking at sessions."""
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)


def leftovers(admin: Engine, database: str) -> list[Leftover]:
    """Every other session connected to ``database``: what a killed client might leave."""
    with admin.connect() as connection:
        if admin.dialect.name == "postgresql":
            rows = connection.execute(
                text(
                    "SELECT a.pid, coalesce(a.state, ''), a.xact_start IS NOT NULL,"
                    " (SELECT count(*) FROM pg_locks l WHERE l.pid = a.pid)"
                    " FROM pg_stat_activity a"
                    " WHERE a.datname = :db AND a.pid <> pg_backend_pid()"
                ),
                {"db": database},
            ).all()
        else:
            rows = connection.execute(
                text(
                    "SELECT p.ID, coalesce(p.COMMAND, ''),"
                    " EXISTS (SELECT 1 FROM information_schema.INNODB_TRX t"
                    "         WHERE t.trx_mysql_thread_id = p.ID),"
                    " coalesce((SELECT sum(t.trx_rows_locked) FROM information_schema.INNODB_TRX t"
                    "           WHERE t.trx_mysql_thread_id = p.ID), 0)"
                    " FROM information_schema.PROCESSLIST p"
                    " WHERE p.DB = :db AND p.ID <> CONNECTION_ID()"
                ),
                {"db": database},
            ).all()
    return [Leftover(str(row[0]), str(row[1]), bool(row[2]), int(row[3])) for row in rows]


def sqlite_write_lock_is_free(path: Path) -> bool:
    """Whether a writer could start on the SQLite file at once (nobody holds its write lock)."""
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            return False
        raise
    finally:
        connection.close()


def sqlite_integrity(path: Path) -> str:
    """``PRAGMA integrity_check``'s verdict on the file: ``ok`` when sound."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(row[0]) for row in rows)
    finally:
        connection.close()


# Holding a write in flight

# A folder whose sitecustomize.py makes a console hold its audit insert (see there).
_HOLD_HOOK = Path(__file__).with_name("hold")


class HeldAuditInsert:
    """Makes the consoles started with `env` hold their audit insert about ``record_id``
    until `release`: the record's own row is written by then (the audit entry comes after it
    in the same transaction), so the write is in flight with part of it done.

    The console waits for a file lock the test holds: its code runs unchanged, and the test,
    not this machine's speed, decides when the write goes on.
    """

    def __init__(self, directory: Path, record_id: int) -> None:
        self.lock_path = directory / f"hold-{record_id}.lock"
        self.lock_path.touch()
        self._reached = self.lock_path.with_name(self.lock_path.name + ".reached")
        self._reached.unlink(missing_ok=True)
        self._lock: int | None = os.open(self.lock_path, os.O_RDONLY)
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        path = os.pathsep.join(p for p in (str(_HOLD_HOOK), os.environ.get("PYTHONPATH")) if p)
        self.env = {
            "PYTHONPATH": path,
            "AG_HOLD_LOCK": str(self.lock_path),
            "AG_HOLD_RECORD": str(record_id),
        }

    def reached(self) -> bool:
        """Whether a console is waiting at the held audit insert."""
        return self._reached.exists()

    def release(self) -> None:
        """Let the held write go on (idempotent)."""
        if self._lock is not None:
            os.close(self._lock)  # closing drops the lock
            self._lock = None

    def __enter__(self) -> HeldAuditInsert:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def write_in_flight(admin: Engine, database: str, sqlite_path: Path | None) -> bool:
    """Whether another process is in the middle of a write on the test database.

    SQLite: someone holds the write lock. PostgreSQL: another session holds a row-write lock.
    MariaDB: another session's transaction has changed or locked rows.
    """
    if sqlite_path is not None:
        return not sqlite_write_lock_is_free(sqlite_path)
    with admin.connect() as connection:
        if admin.dialect.name == "postgresql":
            found = connection.execute(
                text(
                    "SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                    " WHERE d.datname = :db AND l.mode = 'RowExclusiveLock'"
                    " AND l.pid <> pg_backend_pid() LIMIT 1"
                ),
                {"db": database},
            ).first()
        else:
            found = connection.execute(
                text(
                    "SELECT 1 FROM information_schema.INNODB_TRX t"
                    " JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id"
                    " WHERE p.DB = :db AND (t.trx_rows_modified > 0 OR t.trx_rows_locked > 0)"
                    " LIMIT 1"
                ),
                {"db": database},
            ).first()
    return found is not None
