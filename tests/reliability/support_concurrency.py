"""Colleagues in other processes, and a fault that strikes after the k-th row written.

A colleague is a real OS process forked from the (already imported) test process, with an
engine and a `Database` of its own, serving calls sent down a pipe: forking once per test
and reusing the process for every trial keeps a hundred trials cheap.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import random
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stderr, suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import delete, event, select, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.engine.interfaces import ExecuteStyle

from data.actor import Actor
from data.database import Database
from data.errors import AccessGuardError, Busy, Conflict, Invalid
from data.schema import upgrade
from models import AuditEntry, Product, User
from tests.conftest import empty_database

FORK = multiprocessing.get_context("fork")
# Longest a colleague may take to answer one call before the test fails (never reached
# when all is well: it only stops a hung child from hanging the run).
ANSWER_DEADLINE_S = 120.0
BARRIER_DEADLINE_S = 60.0
RETRY_PAUSE_S = 0.002
# A writer refused as busy tries again for up to this long before the test fails.
BUSY_GIVE_UP_S = 120.0


def colleague_actor(name: str) -> Actor:
    """The identity a colleague's changes are audited under."""
    return Actor(os_user=name, client_addr="10.0.0.9", source=f"test:{name}")


@dataclass(frozen=True)
class Outcome:
    """What one data operation did, in a shape that crosses a process boundary.

    The data core's exceptions take keyword arguments, so they do not survive pickling;
    this carries what a test asserts on instead.
    """

    kind: Literal["done", "conflict", "invalid", "refused"]
    record: Any = None  # the saved record, or `Conflict.current` (None: deleted)
    message: str = ""
    title: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def outcome_of(call: Callable[[], Any]) -> Outcome:
    """Run one data operation and say how it went."""
    try:
        record = call()
    except Conflict as error:
        return Outcome("conflict", error.current, error.message, error.title)
    except Invalid as error:
        return Outcome("invalid", None, error.message, error.title, error.errors)
    except AccessGuardError as error:
        return Outcome("refused", None, error.message, error.title)
    return Outcome("done", record)


@dataclass(frozen=True)
class _Crash:
    """A colleague's call raised something unexpected; the test shows its traceback."""

    traceback: str


Task = Callable[..., Any]


class Colleague:
    """A forked process with its own `Database` on ``url``, running tasks sent to it.

    A task is a module-level function ``task(db, barrier, **kwargs)``; ``barrier`` is shared
    by every colleague of one `colleagues` block, so they can be released together.
    """

    def __init__(self, url: URL, barrier: Barrier) -> None:
        self._pipe, child_end = FORK.Pipe()
        self._process = FORK.Process(target=_serve, args=(url, child_end, barrier), daemon=True)
        self._process.start()
        child_end.close()

    def send(self, task: Task, **kwargs: Any) -> None:
        """Start ``task`` in the colleague; `result` collects what it returns."""
        self._pipe.send((task, kwargs))

    def result(self) -> Any:
        """What the task sent last returned (its exception's traceback fails the test)."""
        if not self._pipe.poll(ANSWER_DEADLINE_S):
            raise AssertionError(f"colleague {self._process.pid} did not answer in time")
        answer = self._pipe.recv()
        if isinstance(answer, _Crash):
            raise AssertionError(f"colleague {self._process.pid} failed:\n{answer.traceback}")
        return answer

    def call(self, task: Task, **kwargs: Any) -> Any:
        """Run ``task`` in the colleague and wait for its answer."""
        self.send(task, **kwargs)
        return self.result()

    def stop(self) -> None:
        """Let the process end, or end it (this process's own child only) if it will not."""
        with suppress(OSError):  # it may have gone already
            self._pipe.send(None)
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(10)
        self._pipe.close()


def _serve(url: URL, pipe: Pipe, barrier: Barrier) -> None:
    # Forked: the parent's engine and its pooled connections came along, and are never
    # touched here; this process builds its own, as another console would.
    db = Database.connect(url)
    try:
        while True:
            message = pipe.recv()
            if message is None:
                return
            task, kwargs = message
            try:
                pipe.send(task(db, barrier, **kwargs))
            except BaseException:  # reported to the test, which fails with it
                pipe.send(_Crash(traceback.format_exc()))
    finally:
        db.dispose()


@contextmanager
def colleagues(url: URL, count: int) -> Iterator[list[Colleague]]:
    """``count`` colleague processes on ``url`` sharing one barrier; stopped afterwards."""
    barrier = FORK.Barrier(count)
    started: list[Colleague] = []
    try:
        for _ in range(count):
            started.append(Colleague(url, barrier))
        yield started
    finally:
        for colleague in started:
            colleague.stop()


def gather(workers: Sequence[Colleague]) -> list[Any]:
    """Every worker's answer to the task it was sent, in order."""
    return [worker.result() for worker in workers]


# Tasks (run in a colleague; module level, so they pickle by name)


def read_then_update(
    db: Database,
    barrier: Barrier,
    *,
    entity: str,
    record_id: int,
    changes: Mapping[str, Any],
    delay: float,
    who: str,
) -> tuple[Any, Outcome]:
    """Read the record, wait for the others to have read it too, pause ``delay`` seconds
    (the random part of the timing), then save ``changes`` against the version read."""
    table = db.table(entity)
    read = table.get(record_id)
    barrier.wait(BARRIER_DEADLINE_S)
    time.sleep(delay)
    saved = outcome_of(
        lambda: table.update(
            record_id, changes, expected_version=read.version, actor=colleague_actor(who)
        )
    )
    return read, saved


def read_then_delete(
    db: Database, barrier: Barrier, *, entity: str, record_id: int, delay: float, who: str
) -> tuple[Any, Outcome]:
    """As `read_then_update`, deleting the record against the version read."""
    table = db.table(entity)
    read = table.get(record_id)
    barrier.wait(BARRIER_DEADLINE_S)
    time.sleep(delay)
    deleted = outcome_of(
        lambda: table.delete(record_id, expected_version=read.version, actor=colleague_actor(who))
    )
    return read, deleted


def read_then_delete_many(
    db: Database, barrier: Barrier, *, entity: str, record_ids: Sequence[int], who: str
) -> Outcome:
    """Read the records, wait for the others, then delete them all in the order given,
    as marked rows (marked in that order) are deleted together."""
    table = db.table(entity)
    targets = {record_id: table.get(record_id).version for record_id in record_ids}
    barrier.wait(BARRIER_DEADLINE_S)
    return outcome_of(lambda: table.delete_many(targets, actor=colleague_actor(who)))


def update(
    db: Database,
    barrier: Barrier,
    *,
    entity: str,
    record_id: int,
    changes: Mapping[str, Any],
    expected_version: int,
    who: str,
) -> Outcome:
    """Save ``changes`` against ``expected_version``, as a colleague's form would."""
    return outcome_of(
        lambda: db.table(entity).update(
            record_id, changes, expected_version=expected_version, actor=colleague_actor(who)
        )
    )


def command_line(db: Database, barrier: Barrier, *, argv: Sequence[str]) -> tuple[int, str]:
    """Run ``accessguard ARGV`` (the console script's own entry point) in the colleague's
    process; its exit status and what it wrote to stderr."""
    from tui.cli import main

    errors = io.StringIO()
    with redirect_stderr(errors):
        status = main(list(argv))
    return status, errors.getvalue()


def create(
    db: Database, barrier: Barrier | None, *, entity: str, values: Mapping[str, Any], who: str
) -> Outcome:
    """Create a record, as a colleague's form would."""
    return outcome_of(lambda: db.table(entity).create(values, actor=colleague_actor(who)))


def create_together(
    db: Database, barrier: Barrier, *, values: Mapping[str, Any], then: Mapping[str, Any], who: str
) -> tuple[Outcome, Outcome, int]:
    """Wait for the other colleague, create a user at the same moment; then, in the same
    process and `Database`, create ``then`` and count the users (the session still works)."""
    barrier.wait(BARRIER_DEADLINE_S)
    first = create(db, None, entity="user", values=values, who=who)
    after = create(db, None, entity="user", values=then, who=who)
    return first, after, db.users.count()


@dataclass(frozen=True)
class Adjusted:
    """What one stock worker did: the sum of the deltas it saved, and its retries."""

    total: int
    saves: int
    conflicts: int
    busy: int  # refused as busy on SQLite (nothing written) and tried again


def adjust_stock(
    db: Database,
    barrier: Barrier,
    *,
    product_id: int,
    deltas: Sequence[int],
    who: str,
    seed: int,
) -> Adjusted:
    """Add each delta to the product's stock through the versioned update, retrying on
    `Conflict` from the record it carries, as an admin taking theirs and re-typing would.

    Like a person, a worker pauses a random moment before retrying, longer after each
    refusal in a row: eight workers retrying at once would mostly refuse each other.
    """
    actor = colleague_actor(who)
    pause = random.Random(seed)
    barrier.wait(BARRIER_DEADLINE_S)
    product = db.products.get(product_id)
    total = saves = conflicts = busy = 0
    save_time = RETRY_PAUSE_S
    began = time.perf_counter()
    for delta in deltas:
        refused = 0
        while True:
            started = time.perf_counter()
            try:
                product = db.products.update(
                    product_id,
                    {"stock": product.stock + delta},
                    expected_version=product.version,
                    actor=actor,
                )
            except Conflict as error:
                conflicts += 1
                refused += 1
                current = error.current
                if current is None:
                    raise AssertionError("the product vanished") from None
                product = current
                # Back off about as long as a save takes here, doubling with each refusal.
                time.sleep(pause.uniform(0, save_time * 2 ** min(refused, 5)))
                continue
            except Busy:
                # SQLite's busy handler is no queue: on a loaded machine one of eight writers
                # can wait past the 5 s timeout. Nothing was written ("Try again"), and the
                # admin tries again; what must hold is the total, not who waited how long.
                busy += 1
                if time.perf_counter() - began > BUSY_GIVE_UP_S:
                    raise
                time.sleep(pause.uniform(0, RETRY_PAUSE_S * 10))
                continue
            save_time = time.perf_counter() - started
            total += delta
            saves += 1
            break
    return Adjusted(total=total, saves=saves, conflicts=conflicts, busy=busy)


# One database per backend for the whole module


@contextmanager
def throwaway_database(backend: str, directory: Path) -> Iterator[Database]:
    """An empty database at schema head on ``backend``, dropped afterwards.

    As the suite's ``db`` fixture, but meant to serve a whole module (emptied between tests
    by `empty`): creating and migrating a MariaDB database costs seconds, and the races
    here need many trials, not many databases.
    """
    with empty_database(backend, directory, prefix="ag_concurrency") as url:
        db = Database.connect(url)
        try:
            upgrade(db.engine)
            yield db
        finally:
            db.dispose()


def empty(db: Database) -> None:
    """Delete every user, product and audit entry (ids keep counting up)."""
    with db.engine.begin() as connection:
        for model in (AuditEntry, Product, User):
            connection.execute(delete(model))


# What the database holds


def holdings(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in id order: equal before and after means nothing changed."""
    with db.engine.connect() as connection:
        return {
            model.__tablename__: [
                tuple(row)
                for row in connection.execute(
                    select(model.__table__).order_by(model.__table__.c.id)
                )
            ]
            for model in (User, Product, AuditEntry)
        }


# A fault after the k-th row

_WRITES = ("insert", "update", "delete")


class InjectedFault:
    """Make the driver fail once ``k`` rows have been written on ``engine``.

    Counts the rows of every INSERT, UPDATE and DELETE the engine sends. Rows already
    written stay in the open transaction on the real database; the statement that would
    write row k+1 raises the driver's own ``OperationalError`` instead (an executemany is
    cut after exactly row k: its first rows are sent, then it fails), as a lost disk or
    server would. SQLAlchemy wraps it as it would a real one.
    """

    def __init__(self, engine: Engine | type[Engine], k: int) -> None:
        self.engine = engine
        self.k = k
        self.written = 0
        self.struck = False

    def __enter__(self) -> InjectedFault:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def _fail(self, conn: Connection) -> Exception:
        self.struck = True
        error: Exception = conn.dialect.loaded_dbapi.OperationalError(
            f"injected fault after row {self.k}"
        )
        return error

    def _before(
        self,
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if self.struck or not _is_write(statement):
            return
        if self.written >= self.k:
            raise self._fail(conn)
        if _one_row_per_parameter_set(context, executemany, parameters):
            room = self.k - self.written
            if len(parameters) > room:
                cursor.executemany(statement, list(parameters)[:room])
                self.written = self.k
                raise self._fail(conn)

    def _after(
        self,
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if self.struck or not _is_write(statement):
            return
        if _one_row_per_parameter_set(context, executemany, parameters):
            self.written += len(parameters)
        else:
            self.written += max(cursor.rowcount, 0)


def _one_row_per_parameter_set(context: Any, executemany: bool, parameters: Any) -> bool:
    """Whether the driver gets an executemany of one row per parameter set. A batch of
    SQLAlchemy's "insertmanyvalues" is flagged executemany too, but is one multi-row
    INSERT statement with its rows' values run together: it counts by its rowcount."""
    batched = getattr(context, "execute_style", None) is ExecuteStyle.INSERTMANYVALUES
    return executemany and not batched and isinstance(parameters, Sequence)


def _is_write(statement: str) -> bool:
    return statement.lstrip().split(None, 1)[0].lower() in _WRITES


def open_transactions(db: Database) -> list[tuple[Any, ...]]:
    """Other sessions of this test's database still inside a transaction (servers only)."""
    if db.backend == "sqlite":
        return []
    name = db.engine.url.database
    with db.engine.connect() as connection:
        if db.backend == "postgresql":
            query = text(
                "SELECT pid, state FROM pg_stat_activity WHERE datname = :name"
                " AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
            )
        else:
            query = text(
                "SELECT trx_mysql_thread_id, trx_state FROM information_schema.innodb_trx t"
                " JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id"
                " WHERE p.db = :name AND p.id <> CONNECTION_ID()"
            )
        return [tuple(row) for row in connection.execute(query, {"name": name})]


def process_id(db: Database, barrier: Barrier) -> int:
    """The colleague's process id (a task, to show it is another process)."""
    return os.getpid()
