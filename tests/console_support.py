"""Helpers for console tests: a small fixed database, the app over it, and waiting properly."""

from __future__ import annotations

import asyncio
import io
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import event, func, select, text, update
from sqlalchemy.engine import Engine
from textual.pilot import Pilot
from textual.worker import WorkerFailed

from data.actor import Actor
from data.config import normalise_url
from data.database import Database
from data.schema import upgrade
from data.seed import seed_demo
from models import AuditEntry
from tui.app import AccessGuardApp
from tui.widgets.record_table import RecordTable

FIXED_TIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CONSOLE_ACTOR = Actor(os_user="alice", client_addr="10.0.0.7", source="console:test")


def demo_database(path: Path, *, users: int = 30, products: int = 40) -> Database:
    """A SQLite file with fixed demo data and fixed audit times (stable screens)."""
    db = Database.connect(normalise_url(f"sqlite:///{path}"))
    upgrade(db.engine)
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
            ),
            {"id": user_id, "name": name, "email": email, "at": FIXED_TIME.replace(tzinfo=None)},
        )


def console(db: Database, *, read_only: bool = False) -> AccessGuardApp:
    """The console over ``db``, acting as the test's admin."""
    return AccessGuardApp(db, actor=CONSOLE_ACTOR, read_only=read_only)


async def settle(app: AccessGuardApp, pilot: Pilot[Any]) -> None:
    """Wait until no worker runs and every message they posted has been handled."""
    for _ in range(20):
        # A refused save or undo fails its worker: the tests assert on the toast instead.
        with suppress(WorkerFailed):
            await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(worker.is_running for worker in app.workers):
            await pilot.pause()
            if not any(worker.is_running for worker in app.workers):
                return


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
