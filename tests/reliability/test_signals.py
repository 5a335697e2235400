"""Killed, hung up, terminated or quit in the middle of a write: all of it or none of it.

Issue 5, items 8, 9 and 14, on SQLite, PostgreSQL and MariaDB, with real processes and real
signals. A multi-row write (an import, a bulk update, a bulk delete, a save with its audit
entry) must be whole or absent afterwards, SQLite's file sound, and no server left holding
a lock or a transaction of the dead process; a console closed by a signal or a key exits
promptly, without a traceback, and the next writer writes at once.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Engine

from data.actor import Actor
from data.database import Database
from data.engine import WRITE_OPTION
from data.transfer import import_records
from tests.reliability.support_signals import (
    ACCESSGUARD,
    admin_engine,
    leftovers,
    poll,
    sqlite_integrity,
    sqlite_write_lock_is_free,
    write_in_flight,
)
from tui.cli import main

KILL_TRIALS = 100
KILL_SEED = 20260501
IMPORT_ROWS = 100  # per import or bulk update
DELETE_ROWS = 20  # per bulk delete (a row at a time, so slower per row)
SUBPROCESS_TRIALS = 1  # a fresh `accessguard import` process, killed mid-write
SUBPROCESS_ROWS = 1_000
# A killed client's server session may take a moment to be noticed by the server.
SERVER_NOTICES_S = 10.0
ACTOR = Actor(os_user="killer", source="test:kills")
FORK = multiprocessing.get_context("fork")


def url_text(url: URL) -> str:
    """The URL as a command line takes it (no password on the test servers)."""
    return url.render_as_string(hide_password=False)


@dataclass
class Target:
    """The test database as the parent process sees it: where, and how to look at it."""

    db: Database
    admin: Engine
    name: str
    sqlite_path: Path | None

    def scalar(self, sql: str, **params: Any) -> int:
        """One number, read through the parent's own autocommit connection."""
        with self.admin.connect() as connection:
            return int(connection.execute(text(sql), params).scalar_one())

    def audit_count(self) -> int:
        """How many audit entries there are."""
        return self.scalar("SELECT count(*) FROM audit_entries")

    def assert_nothing_left_behind(self) -> float:
        """The file is sound and unlocked, or the server has no session of a dead client.

        Returns how long the server took to notice (0 on SQLite).
        """
        if self.sqlite_path is not None:
            assert sqlite_integrity(self.sqlite_path) == "ok"
            assert sqlite_write_lock_is_free(self.sqlite_path)
            return 0.0
        return poll(
            lambda: not leftovers(self.admin, self.name),
            seconds=SERVER_NOTICES_S,
            what=f"sessions of a killed client still open: {leftovers(self.admin, self.name)}",
        )


@pytest.fixture
def target(db: Database, database_url: URL) -> Iterator[Target]:
    """The test database, its pool emptied so that every other session is a child's."""
    db.engine.dispose()
    sqlite_path = Path(database_url.database or "") if db.backend == "sqlite" else None
    admin = admin_engine(database_url)
    try:
        yield Target(db, admin, database_url.database or "", sqlite_path)
    finally:
        admin.dispose()


# Item 8: kill -9 in the middle of a multi-row write


@dataclass
class Write:
    """One multi-row write a child process makes, and how to tell whether it happened."""

    kind: str  # import, update, delete, cli-import
    rows: int
    audit_entries: int  # what it adds to the audit trail when whole
    emails: list[str] = field(default_factory=list)
    targets: dict[int, int] = field(default_factory=dict)  # delete: id -> version
    new_name: str = ""
    csv: str = ""

    def state(self, target: Target) -> tuple[int, int]:
        """(how many of its rows show the change, how many audit entries there are), read
        in one statement so that both come from one snapshot."""
        if self.kind == "delete":
            ids = ",".join(str(i) for i in self.targets)
            rows = f"{self.rows} - (SELECT count(*) FROM users WHERE id IN ({ids}))"
        else:
            emails = ",".join(f"'{e}'" for e in self.emails)
            renamed = " AND name = :n" if self.kind == "update" else ""
            rows = f"(SELECT count(*) FROM users WHERE email IN ({emails}){renamed})"
        with target.admin.connect() as connection:
            done, audit = connection.execute(
                text(f"SELECT {rows}, (SELECT count(*) FROM audit_entries)"),
                {"n": self.new_name} if self.kind == "update" else {},
            ).one()
        return int(done), int(audit)


@contextlib.contextmanager
def write_moments(began: Callable[[], None], committing: Callable[[], None]) -> Iterator[None]:
    """Call ``began`` when a write transaction starts (its first statement) and
    ``committing`` when it asks to commit, on every engine of this process."""
    started: set[int] = set()

    def before_execute(conn: Any, *_args: Any) -> None:
        if conn.get_execution_options().get(WRITE_OPTION) and id(conn) not in started:
            started.add(id(conn))
            began()

    def commit(conn: Any) -> None:
        if conn.get_execution_options().get(WRITE_OPTION):
            committing()

    event.listen(Engine, "before_cursor_execute", before_execute)
    event.listen(Engine, "commit", commit)
    try:
        yield
    finally:
        event.remove(Engine, "before_cursor_execute", before_execute)
        event.remove(Engine, "commit", commit)


def _write(db: Database, url: str, write: Write, csv_path: str) -> int:
    """Make ``write`` through the real data core, or the CLI's entry function (which opens
    the database itself, as the command does)."""
    if write.kind == "cli-import":
        Path(csv_path).write_text(write.csv, encoding="utf-8")
        with contextlib.redirect_stdout(io.StringIO()):  # its report of what it imported
            return main(["--db", url, "import", "users", csv_path])
    if write.kind == "delete":
        db.users.delete_many(write.targets, actor=ACTOR)
    else:
        source = io.StringIO(write.csv)
        import_records(db, "users", source, fmt="csv", actor=ACTOR, dry_run=False)
    return 0


def _child(db: Database, url: str, write: Write, pipe: int, csv_path: str) -> None:
    """A forked child: say B and C through ``pipe`` as its write begins and commits.

    ``db`` is the parent's, whose pool is empty: the child opens its own connections, and
    finds the statements already compiled.
    """
    with write_moments(
        lambda: os.write(pipe, b"B") and None, lambda: os.write(pipe, b"C") and None
    ):
        os._exit(_write(db, url, write, csv_path))


def _csv(rows: list[tuple[str, str]]) -> str:
    return "name,email,role\n" + "".join(f"{name},{email},viewer\n" for name, email in rows)


class Planner:
    """Chooses each trial's write from what the database holds now."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.batches: list[list[str]] = []  # emails of imported batches still there
        self.serial = 0

    def next(self, target: Target, kind: str | None = None) -> Write:
        """A write of ``kind`` (else a random one the data allows)."""
        self.serial += 1
        if kind is None:
            kinds = ["import", "cli-import"] + (["update", "delete"] if self.batches else [])
            kind = self.rng.choice(kinds)
        if kind in ("import", "cli-import"):
            emails = [f"k{self.serial}.{i}@example.com" for i in range(IMPORT_ROWS)]
            rows = [(f"Kill {self.serial} {i}", e) for i, e in enumerate(emails)]
            return Write(kind, IMPORT_ROWS, IMPORT_ROWS + 1, emails=emails, csv=_csv(rows))
        batch = self.rng.choice(self.batches)
        if kind == "update":
            name = f"Renamed {self.serial}"
            csv = _csv([(name, email) for email in batch])
            return Write(kind, len(batch), len(batch) + 1, emails=batch, new_name=name, csv=csv)
        chosen = batch[:DELETE_ROWS]
        emails = ",".join(f"'{e}'" for e in chosen)
        with target.admin.connect() as connection:
            found = connection.execute(
                text(f"SELECT id, version FROM users WHERE email IN ({emails})")
            ).all()
        return Write(
            kind, len(found), len(found), emails=chosen, targets={r[0]: r[1] for r in found}
        )

    def done(self, write: Write) -> None:
        """``write`` happened: remember the rows it made or took away."""
        if write.kind in ("import", "cli-import"):
            self.batches.append(write.emails)
        elif write.kind == "delete":
            for batch in self.batches:
                batch[:] = [e for e in batch if e not in set(write.emails)]
            self.batches = [b for b in self.batches if b]


@dataclass
class KillTally:
    """What the trials saw."""

    mid_write: int = 0  # killed after the write began and before it asked to commit
    at_or_after_commit: int = 0  # killed once it had asked to commit: either outcome is right
    whole: int = 0
    absent: int = 0
    slowest_notice_s: float = 0.0


def _run_and_kill(target: Target, write: Write, *, url: str, csv_path: Path, delay: float) -> bool:
    """Fork a child that makes ``write`` and SIGKILL it ``delay`` s after its write began.

    Returns whether it had asked to commit by then.
    """
    read_end, write_end = os.pipe()
    child = FORK.Process(target=_child, args=(target.db, url, write, write_end, str(csv_path)))
    child.start()
    os.close(write_end)
    try:
        assert os.read(read_end, 1) == b"B", "the child ended before its write began"
        time.sleep(delay)  # the random moment itself, not a wait for something
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join(30)
        os.set_blocking(read_end, False)
        try:
            return b"C" in os.read(read_end, 16)
        except BlockingIOError:
            return False
    finally:
        os.close(read_end)


def _check_all_or_nothing(target: Target, write: Write, before_audit: int, *, what: str) -> bool:
    """Assert ``write`` is whole or absent (rows and audit entries agree); True if whole."""
    done, audit = write.state(target)
    audit_delta = audit - before_audit
    assert (done, audit_delta) in ((0, 0), (write.rows, write.audit_entries)), (
        f"{what}: partial write: {done} of {write.rows} rows, "
        f"{audit_delta} of {write.audit_entries} audit entries"
    )
    return done == write.rows


def test_kill_9_in_the_middle_of_a_multi_row_write_leaves_all_or_nothing(
    target: Target, database_url: URL, tmp_path: Path
) -> None:
    """Item 8: 100 children killed at random moments of an import, bulk update, bulk delete
    or CLI import; then fresh `accessguard import` processes killed mid-write."""
    rng = random.Random(KILL_SEED)
    url = url_text(database_url)
    planner = Planner(rng)
    tally = KillTally()
    csv_path = tmp_path / "rows.csv"

    # How long each kind of write takes here, from its first statement to its commit,
    # measured in this process: that also loads and compiles everything the children run.
    durations: dict[str, float] = {}
    for kind in ("import", "cli-import", "update", "delete"):
        write = planner.next(target, kind)
        before = target.audit_count()
        moments: list[float] = []
        with write_moments(
            lambda: moments.append(time.monotonic()), lambda: moments.append(time.monotonic())
        ):
            assert _write(target.db, url, write, str(csv_path)) == 0
        durations[kind] = moments[-1] - moments[0]
        assert _check_all_or_nothing(target, write, before, what=f"uninterrupted {kind}")
        planner.done(write)
    target.db.engine.dispose()  # the children must not share a connection with this process

    for trial in range(KILL_TRIALS):
        write = planner.next(target)
        delay = rng.uniform(0, 1.25 * durations[write.kind])
        before = target.audit_count()
        what = f"trial {trial} (seed {KILL_SEED}): {write.kind} killed {delay * 1000:.0f} ms in"
        asked = _run_and_kill(target, write, url=url, csv_path=csv_path, delay=delay)
        # First the server must be done with the dead client's session: a COMMIT it had
        # sent may still be landing.
        notice = target.assert_nothing_left_behind()
        tally.slowest_notice_s = max(tally.slowest_notice_s, notice)
        whole = _check_all_or_nothing(target, write, before, what=what)
        if not asked:
            assert not whole, f"{what}: written although killed before it asked to commit"
            tally.mid_write += 1
        else:
            tally.at_or_after_commit += 1
        tally.whole += whole
        tally.absent += not whole
        if whole:
            planner.done(write)

    for trial in range(SUBPROCESS_TRIALS):
        _kill_a_fresh_cli_import(target, url, tmp_path, rng, trial, tally)

    print(f"\n{database_url.get_backend_name()}: {tally}")
    # Most kills must land inside the write, or the test proves little.
    assert tally.mid_write >= KILL_TRIALS // 2, tally


def _kill_a_fresh_cli_import(
    target: Target, url: str, tmp_path: Path, rng: random.Random, trial: int, tally: KillTally
) -> None:
    """`accessguard import` in a fresh interpreter, SIGKILLed at a random moment of its write."""
    emails = [f"fresh{trial}.{i}@example.com" for i in range(SUBPROCESS_ROWS)]
    rows = [(f"Fresh {trial} {i}", e) for i, e in enumerate(emails)]
    write = Write("cli-import", SUBPROCESS_ROWS, SUBPROCESS_ROWS + 1, emails=emails, csv=_csv(rows))
    path = tmp_path / f"fresh{trial}.csv"
    path.write_text(write.csv, encoding="utf-8")
    before = target.audit_count()
    process = subprocess.Popen(
        [str(ACCESSGUARD), "--db", url, "import", "users", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        poll(
            lambda: (
                process.poll() is not None
                or write_in_flight(target.admin, target.name, target.sqlite_path)
            ),
            seconds=30,
            every=0.002,
            what="the import's write never began",
        )
        in_flight = process.poll() is None
        time.sleep(rng.uniform(0, 0.02))
        process.kill()
    finally:
        process.wait(30)
    tally.slowest_notice_s = max(tally.slowest_notice_s, target.assert_nothing_left_behind())
    whole = _check_all_or_nothing(target, write, before, what=f"fresh CLI import {trial}")
    if in_flight and not whole:
        tally.mid_write += 1
    tally.whole += whole
    tally.absent += not whole
