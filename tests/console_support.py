"""Helpers for console tests: a small fixed database, the app over it, and waiting properly."""

from __future__ import annotations

import asyncio
import io
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import DateTime, bindparam, event, func, select, text, update
from sqlalchemy.engine import URL, Engine
from textual.app import App
from textual.message_pump import MessagePump
from textual.pilot import Pilot
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from data.actor import Actor
from data.config import normalise_url
from data.database import Database
from data.errors import AccessGuardError
from data.seed import seed_demo
from models import AuditEntry
from tests import preloaded
from tests.migrated import copy_sqlite_at_head
from tui.app import AccessGuardApp, ConsoleOptions
from tui.live import LIVE_GROUP
from tui.typeahead import KeysInOrder, handled_what_they_hold
from tui.widgets.record_table import RecordTable

FIXED_TIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
# A time bound in plain SQL as each backend stores one (not through sqlite3's default
# adapter, deprecated since Python 3.12).
TIME_PARAMETER = bindparam("at", type_=DateTime())
CONSOLE_ACTOR = Actor(os_user="alice", client_addr="10.0.0.7", source="console:test")


def demo_database(path: Path, *, users: int = 30, products: int = 40) -> Database:
    """A SQLite file with fixed demo data and fixed audit times (stable screens)."""
    copy_sqlite_at_head(path)
    db = Database.connect(normalise_url(f"sqlite:///{path}"))
    seed_demo(db, users=users, products=products, seed=7, actor=Actor("seeder", source="cli"))
    freeze_audit_times(db)
    return db


def freeze_audit_times(db: Database) -> None:
    """Fixed times and batch ids for every audit entry, so screens showing them never change.

    Batches keep their grouping: the n-th batch (by its first entry) becomes ``batch-000n``.
    """
    with db.sessions.begin() as session:
        session.execute(update(AuditEntry).values(at=FIXED_TIME))
        first_ids = session.execute(
            select(AuditEntry.batch, func.min(AuditEntry.id)).group_by(AuditEntry.batch)
        ).all()
        ordered = sorted(first_ids, key=lambda row: row[1])
        for number, (batch, _first) in enumerate(ordered, start=1):
            session.execute(
                update(AuditEntry)
                .where(AuditEntry.batch == batch)
                .values(batch=f"batch-{number:04d}")
            )


def insert_raw_user(db: Database, user_id: int, name: str, email: str) -> None:
    """Store a user the way another tool might: no validation, any characters."""
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, name, email, role, is_active, created_at, updated_at,"
                " version) VALUES (:id, :name, :email, 'viewer', 1, :at, :at, 1)"
            ).bindparams(TIME_PARAMETER),
            {"id": user_id, "name": name, "email": email, "at": FIXED_TIME.replace(tzinfo=None)},
        )


def console(db: Database, *, read_only: bool = False, live: bool = True) -> AccessGuardApp:
    """The console over ``db``, acting as the test's admin; ``live=False`` leaves others'
    changes unnoticed until a key reads them (what a save finds must hold without the live
    views, which look once a second)."""
    return AccessGuardApp(
        db, actor=CONSOLE_ACTOR, read_only=read_only, options=ConsoleOptions(live=live)
    )


# The workers each console has started since `watch_workers`: settle waits for every one
# of them and reads how it ended, even one that ended (and left `app.workers`) before it looked.
_STARTED: weakref.WeakKeyDictionary[App[Any], list[Worker[Any]]] = weakref.WeakKeyDictionary()
SETTLE_ROUNDS = 100
HANDLED_WITHIN_S = 30.0
# True only in a test marked ``provokes_errors`` (tests/conftest.py): it breaks a worker on
# purpose to see the console survive, so that failure is no bug of the console's.
BUGS_EXPECTED = False


def watch_workers(app: App[Any]) -> None:
    """Note every worker ``app`` starts from now on. Call it before the app runs to see the
    ones its first frame starts too; `settle` calls it anyway (idempotent)."""
    if app in _STARTED:
        return
    started: list[Worker[Any]] = []
    _STARTED[app] = started
    manager = app.workers
    add_worker = manager.add_worker

    def add_and_note(worker: Worker[Any], start: bool = True, exclusive: bool = True) -> None:
        started.append(worker)
        add_worker(worker, start=start, exclusive=exclusive)

    # WorkerManager forgets a worker as it ends; this keeps it until settle has read it.
    manager.add_worker = add_and_note  # type: ignore[method-assign]


async def settle(app: App[Any], pilot: Pilot[Any]) -> None:
    """Wait until every worker has ended and every message has been handled; fail on a bug.

    Deterministic: it waits for the workers themselves and for each message queue to be
    worked through, round after round, until a round starts no worker and leaves no message
    unhandled. A cancelled worker is normal (a newer read replaced it). A worker that failed
    with a data error (`AccessGuardError`: Invalid, Busy, ReadOnly...) was refused on
    purpose and the console shows why (tests assert on that); any other failure is a bug,
    and the test fails with it.
    """
    watch_workers(app)
    started = _STARTED[app]
    for _ in range(SETTLE_ROUNDS):
        # The live views' watcher runs as long as the console: never waited for.
        workers = [w for w in dict.fromkeys([*started, *app.workers]) if w.group != LIVE_GROUP]
        started.clear()
        for worker in workers:
            await _ended(worker)
        quiet = await _messages_handled(app)
        # Keys that came together wait their turn (tui.typeahead): all of them must be in.
        held = isinstance(app, KeysInOrder) and app.keys_waiting
        if isinstance(app, KeysInOrder):  # at once when no key is held
            await asyncio.wait_for(app.keys_handed_on(), HANDLED_WITHIN_S)
        # The live views' watcher never ends: the rest must have.
        busy = any(w.is_running and w.group != LIVE_GROUP for w in app.workers)
        if quiet and not held and not started and not busy:
            await _screens_below_repainted(app)
            await pilot.pause()  # the screen on top: its nodes' queues, then its repaint
            return
    raise AssertionError(f"the console was still busy after {SETTLE_ROUNDS} rounds")


async def _screens_below_repainted(app: App[Any]) -> None:
    """Let the screens under a dialog or form pass what changed on them to the screen on top.

    A widget there repaints at its next idle round, and only a message to it starts one:
    each of their nodes is sent one (the screen on top gets its own from pilot.pause).
    """
    below = app.screen_stack[:-1]
    nodes: list[MessagePump] = [
        node for screen in below for node in screen.walk_children(with_self=True)
    ]
    if nodes and not await handled_what_they_hold(nodes, within_s=HANDLED_WITHIN_S, idle_too=True):
        raise AssertionError(f"messages still unhandled after {HANDLED_WITHIN_S} s")


async def _ended(worker: Worker[Any]) -> None:
    """Wait for ``worker`` to end; raise if it failed with anything but a data error."""
    if worker.state == WorkerState.PENDING:
        return  # never started (start=False): nothing to wait for
    try:
        await worker.wait()
    except WorkerCancelled:
        return
    except WorkerFailed as failed:
        if isinstance(failed.error, AccessGuardError) or BUGS_EXPECTED:
            return
        raise AssertionError(
            f"worker {worker.name!r} ({worker.description}) failed: {failed.error!r}"
        ) from failed.error


async def _messages_handled(app: App[Any]) -> bool:
    """Wait until the app and every node on its screens (all modes, dialogs and the screens
    under them) has handled what was posted to it before this call.

    True if every queue was empty already: nothing was left to handle.
    """
    if app._exception is not None or app._closing or app._closed:
        return True  # the app crashed or is closing: nothing more will be handled
    await asyncio.sleep(0)  # what worker threads posted (call_soon_threadsafe) lands first
    nodes: list[MessagePump] = [app]
    for stack in app._screen_stacks.values():
        for screen in stack:
            nodes.extend(screen.walk_children(with_self=True))
    quiet = all(node._message_queue.empty() for node in nodes)
    if not await handled_what_they_hold(nodes, within_s=HANDLED_WITHIN_S):
        raise AssertionError(f"messages still unhandled after {HANDLED_WITHIN_S} s")
    return quiet


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], bool], *, seconds: float = 10.0
) -> None:
    """Let the app run until ``condition`` holds (a timer's effect, say), failing after a while.

    Condition-driven, not a fixed sleep: it returns as soon as the app gets there.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"still not true after {seconds} s")
        await pilot.pause(0.01)


async def watching(app: AccessGuardApp, pilot: Pilot[Any]) -> None:
    """Wait until the console's live watcher knows where the trail ends: a change committed
    from now on is one it will show."""
    await wait_until(pilot, lambda: app.live is not None and app.live.watching.is_set())


def table(app: AccessGuardApp) -> RecordTable:
    """The record table of the screen on top (below any dialog)."""
    for screen in reversed(app.screen_stack):
        for widget in screen.query(RecordTable):
            assert isinstance(widget, RecordTable)
            return widget
    raise AssertionError("no record table on screen")


def current(app: AccessGuardApp) -> Any:
    """The record under the table's cursor (it must be loaded)."""
    record = table(app).cursor_record
    assert record is not None, "no record under the cursor"
    return record


def table_lines(app: AccessGuardApp) -> list[str]:
    """The text of the table's visible lines, header first."""
    widget = table(app)
    return [widget.render_line(y).text for y in range(widget.size.height)]


@contextmanager
def sql_on_the_ui_thread(engine: Engine | type[Engine]) -> Iterator[list[str]]:
    """Collect every statement that runs on the main (UI) thread while the block runs.

    ``engine`` is the one to watch, or `Engine` itself to watch every engine, including one
    the console builds as it opens its database.
    """
    offenders: list[str] = []

    def check(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.current_thread() is threading.main_thread():
            offenders.append(statement)

    event.listen(engine, "before_cursor_execute", check)
    try:
        yield offenders
    finally:
        event.remove(engine, "before_cursor_execute", check)


def screen_text(app: AccessGuardApp) -> str:
    """Everything the terminal shows now (dialogs over their screens, toasts), as text.

    What `App.export_screenshot` draws, recorded as text instead of SVG (whose export drops
    runs of spaces).
    """
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    console.print(update)
    return console.export_text()


REPO = Path(__file__).resolve().parent.parent
HEADLESS_DRIVER = "textual.drivers.headless_driver:HeadlessDriver"


def child_console_environment() -> dict[str, str]:
    """This interpreter's environment for a console run as a child process: headless, with
    no database URL or debug output inherited, importing this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ACCESSGUARD_DEBUG")}
    env["TEXTUAL_DRIVER"] = HEADLESS_DRIVER
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def colleague(url: URL, *args: str) -> None:
    """Run ``accessguard ARGS`` as a second admin: another process, its own connection, as
    this process's OS user with no SSH address."""
    env = child_console_environment()
    for name in ("SSH_CONNECTION", "SSH_CLIENT"):
        env.pop(name, None)
    done = preloaded.run(
        [sys.executable, "-m", "tui", "--db", url.render_as_string(hide_password=False), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
