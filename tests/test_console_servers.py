"""The console against a real PostgreSQL server: a database that vanishes, a crash's output."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from data import paging
from data.database import Database
from data.records import PageRequest
from data.schema import upgrade
from data.seed import seed_demo
from data.transfer import import_records
from tests.console_support import CONSOLE_ACTOR, console, current, settle, table, wait_until
from tui.screens.records import RecordScreen
from tui.screens.table_screen import StatusLine

PASSWORD = "pw-s3cret-not-shown"
ON_POSTGRES = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _with_password(url: URL) -> URL:
    # Trust authentication ignores it, so the console works and the secret is in its URL.
    return url.set(password=PASSWORD)


@ON_POSTGRES
async def test_a_big_postgres_table_shows_an_estimated_total_and_searches_exact_counts(
    database_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database.connect(database_url)
    upgrade(db.engine)
    seed_demo(db, users=150, products=1, seed=1, actor=CONSOLE_ACTOR)
    with db.engine.begin() as connection:
        connection.execute(text("ANALYZE users"))
    monkeypatch.setattr(paging, "ESTIMATE_FROM", 100)  # "big" from 100 rows on
    app = console(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert table(app).position == "Row 1 of ~150"
        await pilot.press("slash", *"^a", "enter")
        await settle(app, pilot)
        searched = db.users.count(search="^a")
        assert 0 < searched < 100
        assert table(app).position == f"Row 1 of {searched:,}"  # a search counts exactly
        await pilot.press("escape")
        await settle(app, pilot)
        assert table(app).position == "Row 1 of ~150"
    db.dispose()


@ON_POSTGRES
async def test_a_database_dropped_under_an_open_screen_is_reported_not_fatal(
    database_url: URL,
) -> None:
    db = Database.connect(database_url)
    upgrade(db.engine)
    seed_demo(db, users=10, products=10, seed=1, actor=CONSOLE_ACTOR)
    app = console(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert table(app).total == 10
        admin = create_engine(database_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{database_url.database}" WITH (FORCE)'))
        admin.dispose()
        await pilot.press("r")
        await settle(app, pilot)
        await pilot.press("2")
        await settle(app, pilot)
        titles = [notification.title for notification in app._notifications]
        assert "Database unavailable" in titles
        assert app.is_running
        assert isinstance(app.screen, RecordScreen)
    db.dispose()


@ON_POSTGRES
async def test_crash_output_never_shows_the_url_password(
    database_url: URL, capfd: pytest.CaptureFixture[str]
) -> None:
    db = Database.connect(_with_password(database_url))
    upgrade(db.engine)
    app = console(db)

    def explode(*_args: Any) -> None:
        raise RuntimeError("a bug, not a database failure")

    app.action_help = explode  # type: ignore[method-assign]

    async def crash_it() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            await pilot.press("question_mark")
            await settle(app, pilot)

    with pytest.raises(RuntimeError):
        await crash_it()
    # Textual printed its crash report on exit: a traceback with each frame's locals.
    crash = capfd.readouterr().err
    assert "RuntimeError" in crash
    assert "locals" in crash
    assert "pw-s3cret" not in crash
    db.dispose()


async def test_the_palette_offers_every_action_of_the_screen(tmp_path: Any) -> None:
    from tests.console_support import demo_database

    db = demo_database(tmp_path / "palette.db")
    app = console(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        described = {description for _keys, description in app.screen_keys()}
        assert described <= titles | {"palette"}
        assert {"New", "Edit", "Delete", "Delete marked", "Undo", "Search", "Sort"} <= titles
        await pilot.press("ctrl+p")
        await settle(app, pilot)
        await pilot.press(*"New")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        from tui.screens.form import RecordForm

        assert isinstance(app.screen, RecordForm)
    db.dispose()


WAITING = "Saving… waiting for another writer"


@pytest.mark.parametrize("database_url", ["postgresql", "mysql"], indirect=True)
async def test_a_save_waiting_for_a_row_lock_on_a_server_says_so_until_it_has_it(
    db: Database, database_url: URL
) -> None:
    """Another session holds the row (SELECT ... FOR UPDATE) while the admin saves it."""
    seed_demo(db, users=3, products=0, seed=1, actor=CONSOLE_ACTOR)
    app = console(db)
    holder = create_engine(database_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        record = current(app)
        await pilot.press("e")
        await settle(app, pilot)
        await pilot.press("ctrl+u", *"Held Row")
        with holder.connect() as connection, connection.begin():
            connection.execute(
                text("SELECT id FROM users WHERE id = :id FOR UPDATE"), {"id": record.id}
            )
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: WAITING in _top_line(app))
            assert db.users.get(record.id).name == record.name  # not saved yet
        await settle(app, pilot)
        assert WAITING not in _top_line(app)
        assert db.users.get(record.id).name == "Held Row"
    holder.dispose()


@pytest.mark.parametrize("database_url", ["postgresql", "mysql"], indirect=True)
async def test_an_undo_waiting_for_a_row_lock_on_a_server_says_so_until_it_has_it(
    db: Database, database_url: URL
) -> None:
    """Undoing an import (its creates are taken back in bulk, rows locked FOR UPDATE at
    once) while another session holds one of them."""
    source = io.StringIO("name,email\nAda,ada@example.com\nBo,bo@example.com\n", newline="")
    import_records(db, "users", source, fmt="csv", actor=CONSOLE_ACTOR, dry_run=False)
    held = min(user.id for user in db.users.stream(PageRequest()))
    app = console(db)
    holder = create_engine(database_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        with holder.connect() as connection, connection.begin():
            connection.execute(text("SELECT id FROM users WHERE id = :id FOR UPDATE"), {"id": held})
            await pilot.press("enter")
            await wait_until(pilot, lambda: WAITING in _top_line(app))
            assert db.users.count() == 2  # not undone yet
        await settle(app, pilot)
        assert WAITING not in _top_line(app)
        assert db.users.count() == 0
    holder.dispose()


def _top_line(app: Any) -> str:
    """The status line at the top, under a form too (the form is a dialog over the table)."""
    table_screen = next(screen for screen in app.screen_stack if screen.query(StatusLine))
    return str(table_screen.query_one(StatusLine).render())
