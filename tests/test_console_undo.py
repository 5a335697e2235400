"""`u` asks first, naming what it takes back; U (or ctrl+r) redoes; Escape changes nothing."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.geometry import Region
from textual.widgets._toast import Toast

from data.database import Database
from data.records import PageRequest
from data.transfer import import_records
from tests.console_support import (
    CONSOLE_ACTOR,
    console,
    demo_database,
    settle,
    table,
    table_lines,
    wait_until,
)
from tui.app import AccessGuardApp
from tui.screens.dialogs import ConfirmDialog
from tui.screens.table_screen import StatusLine
from tui.screens.undo import UndoProgress

SIZE = (80, 24)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """Five demo users, no products."""
    database = demo_database(tmp_path / "undo.db", users=5, products=0)
    yield database
    database.dispose()


def _rename_first(db: Database, name: str) -> int:
    first = min(u.id for u in db.users.stream(PageRequest()))
    record = db.users.get(first)
    db.users.update(first, {"name": name}, expected_version=record.version, actor=CONSOLE_ACTOR)
    return int(first)


async def test_undo_asks_naming_each_field_esc_cancels_and_enter_undoes(db: Database) -> None:
    first = _rename_first(db, "Renamed Person")
    before = db.audit.count()
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert dialog.dialog_title.startswith("Undo: user ")
        assert "Changed by alice from 10.0.0.7 at " in dialog.message
        assert "  name: Renamed Person → " in dialog.message
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert db.users.get(first).name == "Renamed Person"
        assert db.audit.count() == before  # nothing written

        await pilot.press("u")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert db.users.get(first).name != "Renamed Person"
        assert any(n.title == "Undone" for n in app._notifications)


async def test_redo_asks_too_and_brings_back_what_was_undone(db: Database) -> None:
    first = _rename_first(db, "Renamed Person")
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        original = db.users.get(first).name
        await pilot.press("U")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert dialog.dialog_title.startswith("Redo: user ")
        assert f"  name: {original} → Renamed Person" in dialog.message
        await pilot.press("n")
        await settle(app, pilot)
        assert db.users.get(first).name == original
        await pilot.press("ctrl+r", "enter")
        await settle(app, pilot)
        assert db.users.get(first).name == "Renamed Person"
        assert any(n.title == "Redone" for n in app._notifications)
        assert any("Renamed Person" in line for line in table_lines(app))


async def test_undoing_a_deleted_user_says_the_password_cannot_come_back(db: Database) -> None:
    first = min(u.id for u in db.users.stream(PageRequest()))
    user = db.users.get(first)
    user = db.users.set_secret(
        first, "a long passphrase here", expected_version=user.version, actor=CONSOLE_ACTOR
    )
    db.users.delete(first, expected_version=user.version, actor=CONSOLE_ACTOR)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert "comes back:" in dialog.message
        assert (
            "Cannot come back: A password is never kept in the audit: the user comes back "
            "without one" in dialog.message
        )
        await pilot.press("enter")
        await settle(app, pilot)
        assert db.users.get(first).has_password is False


async def test_help_and_the_palette_list_redo(db: Database) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        keys = {description: key for key, description in app.screen_keys()}
        assert keys["Redo"] == "U, ^r"
        assert keys["Undo"] == "u"
        commands = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Undo", "Redo"} <= commands


async def test_a_save_waiting_for_another_writer_says_so_until_it_has_the_lock(
    db: Database, tmp_path: Path
) -> None:
    """Another program holds SQLite's write lock (BEGIN IMMEDIATE) while the admin undoes."""
    first = _rename_first(db, "Renamed Person")
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        holder = sqlite3.connect(tmp_path / "undo.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            await pilot.press("enter")
            await wait_until(pilot, lambda: WAITING in status_line(app))
            assert db.users.get(first).name == "Renamed Person"  # not saved yet
        finally:
            holder.execute("COMMIT")
            holder.close()
        await settle(app, pilot)
        assert WAITING not in status_line(app)
        assert db.users.get(first).name != "Renamed Person"


WAITING = "Saving… waiting for another writer"


def status_line(app: AccessGuardApp) -> str:
    """The top line of the screen on top of the table screen's stack."""
    return str(app.screen.query_one(StatusLine).render())


async def test_toasts_keep_off_the_cursor_row_and_the_status_and_position_lines(
    tmp_path: Path,
) -> None:
    db = demo_database(tmp_path / "toasts.db", users=40, products=0)
    app = console(db)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        for moves in ((), ("j",) * 15, ("k",) * 12, ("G",)):
            await pilot.press(*moves)
            app.notify("A long enough note to need two lines of a toast here", title="Note")
            app.notify("Another one", title="Note")
            await wait_until(pilot, lambda: len(app.screen.query(Toast)) == 2)
            await settle(app, pilot)
            grid = table(app)
            cursor_y = grid.region.y + 1 + grid.cursor_row - grid.scroll_offset.y
            kept_clear = [
                app.screen.query_one(StatusLine).region,
                app.screen.query_one("#position-line").region,
                Region(0, cursor_y, SIZE[0], 1),
            ]
            toasts = [toast.region for toast in app.screen.query(Toast)]
            assert toasts
            for toast in toasts:
                assert not any(toast.overlaps(clear) for clear in kept_clear), (moves, toast)
            app.clear_notifications()
            await settle(app, pilot)
    db.dispose()


async def test_toasts_up_when_a_dialog_opens_stay_off_the_lines_that_show_through_it(
    db: Database,
) -> None:
    _rename_first(db, "Renamed Person")
    app = console(db)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        app.notify("Merged with bob's change to name", title="Merged")
        await pilot.press("u")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await wait_until(pilot, lambda: bool(app.screen.query(Toast)))
        beneath = app.screen_stack[-2]
        kept_clear = [
            beneath.query_one(StatusLine).region,
            beneath.query_one("#position-line").region,
            app.screen.query_one(".dialog").region,
        ]
        toasts = [toast.region for toast in app.screen.query(Toast)]
        for toast in toasts:
            assert not any(toast.overlaps(clear) for clear in kept_clear), toast


async def test_a_big_undo_runs_under_a_progress_bar_and_undoes_every_row(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("data.undo.UNDO_CHUNK", 4)  # a "big" batch of 10 rows: 3 chunks
    rows = "".join(f"Person {i},p{i}@example.com\n" for i in range(10))
    source = io.StringIO("name,email\n" + rows, newline="")
    import_records(db, "users", source, fmt="csv", actor=CONSOLE_ACTOR, dry_run=False)
    seen: list[str] = []
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert dialog.dialog_title == "Undo the change to 10 records?"
        assert "… and 6 more records." in dialog.message
        original = UndoProgress.show

        def noted(self: UndoProgress, done: int | None, total: int | None, status: str) -> None:
            seen.append(status)
            original(self, done, total, status)

        monkeypatch.setattr(UndoProgress, "show", noted)
        await pilot.press("enter")
        await settle(app, pilot)
        assert not isinstance(app.screen, UndoProgress)
        assert db.users.count() == 5
        assert seen == ["4 of 10 taken back", "8 of 10 taken back", "10 of 10 taken back"]
        assert any(n.title == "Undone" for n in app._notifications)
