"""Helpers for the bad-input tests: the corpus, one database per backend, the CLI in-process,
counting statements, storing text the way another tool would, and reading the screen."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Engine

from data.database import Database
from data.schema import upgrade
from tests.cli_support import COLUMNS, ROWS, in_process
from tests.conftest import empty_database
from tests.console_support import TIME_PARAMETER
from tests.preloaded import PtyChild

CORPUS = Path(__file__).with_name("corpus.json")
AT = datetime(2026, 1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Entry:
    """One corpus entry: the text, its category and what must happen to it."""

    id: str
    category: str
    text: str
    expect: str
    named: str = ""  # the character a refusal names (ESC, U+009B, ...)
    field: str = ""  # the field it is refused in (numbers)
    message: str = ""  # the exact reason
    hidden: bool = False  # whether it holds characters nobody can see


def corpus(category: str) -> list[Entry]:
    """The corpus entries of ``category``, texts expanded (``repeat``)."""
    entries = json.loads(CORPUS.read_text(encoding="utf-8"))["entries"]
    chosen = []
    for raw in entries:
        if raw["category"] != category:
            continue
        fields = {k: v for k, v in raw.items() if k != "repeat"}
        fields["text"] = raw["text"] * raw.get("repeat", 1)
        chosen.append(Entry(**fields))
    return chosen


# One database per backend for a whole module: creating one per test (and migrating it)
# would cost most of the module's time budget on the servers.


@contextmanager
def migrated(url: URL) -> Iterator[Database]:
    """A `Database` at schema head on ``url``, disposed after."""
    db = Database.connect(url)
    upgrade(db.engine)
    try:
        yield db
    finally:
        db.dispose()


@contextmanager
def fresh_database(backend: str, directory: Path, *, prefix: str) -> Iterator[Database]:
    """A new database at schema head on ``backend`` (a file in ``directory`` for SQLite),
    dropped afterwards."""
    with empty_database(backend, directory, prefix=prefix) as url, migrated(url) as db:
        yield db


def empty(db: Database) -> None:
    """Remove every record and audit entry (the schema stays)."""
    with db.engine.begin() as connection:
        for table in ("products", "audit_entries", "users"):
            connection.execute(text(f"DELETE FROM {table}"))


def cli_url(url: URL) -> str:
    """``url`` as the command line takes it."""
    return url.render_as_string(hide_password=False)


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the command line in this process: (exit status, stdout, stderr)."""
    ran = in_process(*args)
    return ran.status, ran.out, ran.err


@contextmanager
def statements(engine: Engine | type[Engine]) -> Iterator[list[str]]:
    """Every statement ``engine`` runs while the block runs (`Engine` itself: every engine)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


# Storing text the way another tool would: plain SQL, no validation.


def raw_user(db: Database, user_id: int, name: str, email: str) -> None:
    """A user row written past validation."""
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, name, email, role, is_active, created_at, updated_at,"
                " version) VALUES (:id, :name, :email, 'viewer', :yes, :at, :at, 1)"
            ).bindparams(TIME_PARAMETER),
            {"id": user_id, "name": name, "email": email, "yes": True, "at": AT},
        )


def raw_product(
    db: Database, product_id: int, sku: str, name: str, owner_id: int | None, description: str = ""
) -> None:
    """A product row written past validation."""
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO products (id, sku, name, description, price, stock, is_active,"
                " owner_id, created_at, updated_at, version) VALUES (:id, :sku, :name,"
                " :description, 12.5, 3, :yes, :owner, :at, :at, 1)"
            ).bindparams(TIME_PARAMETER),
            {
                "id": product_id,
                "sku": sku,
                "name": name,
                "description": description,
                "owner": owner_id,
                "yes": True,
                "at": AT,
            },
        )


def fix_sequences(db: Database) -> None:
    """After rows with explicit ids, let PostgreSQL's id sequences continue past them."""
    if db.engine.dialect.name != "postgresql":
        return
    with db.engine.begin() as connection:
        for table in ("users", "products", "audit_entries"):
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            )


def stored(db: Database, sql: str, **params: Any) -> list[Any]:
    """The first column of ``sql``'s rows, read with plain SQL (not through the models)."""
    with db.engine.connect() as connection:
        return list(connection.execute(text(sql), params).scalars())


# Reading the screen


def python() -> str:
    """The interpreter running the tests (its venv has the ``accessguard`` script)."""
    return sys.executable


def accessguard() -> str:
    """The installed ``accessguard`` console script beside the interpreter."""
    return str(Path(sys.executable).with_name("accessguard"))


# Another tool: the database's own command-line client


def sequences_past(db: Database, last_id: int) -> list[str]:
    """Statements that let PostgreSQL's id sequences go on past ``last_id`` after rows were
    written with explicit ids (nothing on the other backends, whose ids follow the rows)."""
    if db.engine.dialect.name != "postgresql":
        return []
    return [
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {last_id})"
        for table in ("users", "products", "audit_entries")
    ]


def run_client(db: Database, statements: list[str]) -> None:
    """Run ``statements`` with the database's own client (sqlite3, psql, mariadb), as
    another tool would: nothing of AccessGuard's validation or types on the way."""
    script = ";\n".join(statements) + ";\n"
    url = db.engine.url
    backend = db.engine.dialect.name
    if backend == "sqlite":
        command = ["sqlite3", str(url.database)]
    elif backend == "postgresql":
        command = ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-h", "127.0.0.1", "-U", "postgres"]
        command += ["-d", str(url.database)]
    else:
        command = ["mariadb", "-h", "127.0.0.1", "-u", "root", str(url.database)]
    subprocess.run(command, input=script.encode(), check=True, capture_output=True, timeout=30)


# The console on a real terminal

KEY_DEADLINE_S = 15.0


class Terminal:
    """The console running on a real pseudo-terminal; everything it writes is kept.

    It is a process forked from the tests' preloaded server (tests/preloaded.py), unless
    ``fresh``: then the installed script in a new interpreter, for tests whose subject is
    that process.
    """

    def __init__(
        self,
        url: str,
        *args: str,
        cwd: Path | None = None,
        columns: int = COLUMNS,
        fresh: bool = False,
    ) -> None:
        """``accessguard --db URL ARGS...`` (the console without ARGS), in ``cwd``, on a
        terminal ``columns`` wide."""
        self.output = bytearray()
        self.child: PtyChild | None = None
        if not fresh:
            env = {**os.environ, "TERM": "xterm-256color"}
            env["COLUMNS"], env["LINES"] = str(columns), str(ROWS)
            self.child = PtyChild(
                [accessguard(), "--db", url, *args], rows=ROWS, columns=columns, env=env, cwd=cwd
            )
            self.pid, self.fd = self.child.pid, self.child.fd
            return
        pid, fd = pty.fork()
        if pid == 0:  # the child: the console, as an admin would start it
            os.environ["TERM"] = "xterm-256color"
            os.environ["COLUMNS"], os.environ["LINES"] = str(columns), str(ROWS)
            try:
                if cwd is not None:
                    os.chdir(cwd)
                os.execv(accessguard(), [accessguard(), "--db", url, *args])
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, columns, 0, 0))

    def _reap(self) -> int:
        """Wait for the process (it has ended or been killed); its exit status."""
        if self.child is not None:
            return self.child.wait()
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)

    def read(self, timeout: float) -> bool:
        """Read what is there (waiting up to ``timeout``); False once the console has gone."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.output.extend(data)
        return bool(data)

    def wait_for(self, marker: bytes, *, since: int = 0) -> None:
        """Read until ``marker`` has been written after offset ``since``."""
        deadline = time.monotonic() + KEY_DEADLINE_S
        while marker not in self.output[since:]:
            if time.monotonic() > deadline:
                tail = bytes(self.output[-400:])
                raise AssertionError(f"{marker!r} not shown within {KEY_DEADLINE_S} s: {tail!r}")
            if not self.read(0.05):
                raise AssertionError(f"the console exited before showing {marker!r}")

    def press(self, keys: bytes, then_shows: bytes) -> None:
        """Type ``keys`` and read until the console shows ``then_shows`` (after them; with
        no keys, anything shown so far counts)."""
        since = len(self.output) if keys else 0
        os.write(self.fd, keys)
        self.wait_for(then_shows, since=since)

    def quit(self) -> int:
        """Press q and read until the console exits; its exit status."""
        os.write(self.fd, b"q")
        return self.wait()

    def wait(self) -> int:
        """Read until the process exits (closing the terminal); its exit status."""
        deadline = time.monotonic() + KEY_DEADLINE_S
        while self.read(0.05):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                raise AssertionError("the process did not end")
        status = self._reap()
        os.close(self.fd)
        return status

    def close(self) -> None:
        """Make sure the child is gone (after a failed assertion)."""
        if self.child is not None:
            self.child.kill()
            self.child.wait()
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass

    def walk(self, *steps: tuple[bytes, bytes]) -> tuple[int, bytes]:
        """Press each step's keys and read until it shows its marker, then quit; the exit
        status and every byte written. The process is gone afterwards, whatever happened."""
        try:
            for keys, then_shows in steps:
                self.press(keys, then_shows)
            status = self.quit()
        finally:
            self.close()
        return status, bytes(self.output)
