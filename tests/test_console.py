"""The console driven from the keyboard, as an admin would, over a real SQLite file."""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from data.actor import Actor
from data.config import normalise_url
from data.database import Database
from data.errors import ReadOnly
from data.records import PageRequest
from tests.console_support import (
    console,
    current,
    demo_database,
    insert_raw_user,
    screen_text,
    settle,
    sql_on_the_ui_thread,
    table,
    table_lines,
    wait_until,
)
from tests.data_support import find
from tui.screens.audit import AuditScreen
from tui.screens.dialogs import ConfirmDialog, ConflictDialog, HelpScreen
from tui.screens.form import RecordForm
from tui.screens.records import RecordScreen

SIZE = (80, 24)
CONSOLE_COLLEAGUE = Actor(os_user="bob", source="console:colleague")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """30 users and 40 products from seed 7."""
    database = demo_database(tmp_path / "console.db")
    yield database
    database.dispose()


async def test_opens_on_users_and_switches_screens_without_sql_on_the_ui_thread(
    db: Database,
) -> None:
    app = console(db)
    with sql_on_the_ui_thread(db.engine) as offenders:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            assert isinstance(app.screen, RecordScreen)
            assert app.screen.view.key == "users"
            assert table(app).total == 30
            assert "Row 1 of 30" in str(app.screen.query_one("#position-line").render())
            for key, expected in (("2", "products"), ("3", "audit"), ("1", "users")):
                await pilot.press(key)
                await settle(app, pilot)
                assert app.current_mode == expected
            await pilot.press("2", "j", "j", "G", "g", "slash", *"steel", "enter")
            await settle(app, pilot)
    assert offenders == []


async def test_cursor_keys_page_and_jump_to_either_end(db: Database) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        grid = table(app)
        await pilot.press("j", "j", "down")
        assert grid.cursor_row == 3
        await pilot.press("k")
        assert grid.cursor_row == 2
        await pilot.press("G")
        await settle(app, pilot)
        assert grid.cursor_row == 29
        assert grid.cursor_record is not None
        assert grid.cursor_record.id == 30
        await pilot.press("g")
        await settle(app, pilot)
        assert grid.cursor_row == 0
        await pilot.press("pagedown")
        await settle(app, pilot)
        assert grid.cursor_row > 10


async def test_search_as_you_type_and_escape_clears(db: Database) -> None:
    target = next(iter(db.users.stream(PageRequest()))).email
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *target)
        # No Enter: the debounce timer applies the search on its own.
        await wait_until(pilot, lambda: table(app).query_state.search == target)
        await settle(app, pilot)
        assert table(app).total == 1
        assert target in table_lines(app)[1]
        await pilot.press("escape")
        await settle(app, pilot)
        assert table(app).total == 30
        assert app.screen.query_one("#search", Input).value == ""


async def test_sort_by_the_column_under_the_cursor_and_reverse(db: Database) -> None:
    names = sorted(user.name for user in db.users.stream(PageRequest()))
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("l", "s")  # column 2 is Name
        await settle(app, pilot)
        grid = table(app)
        assert grid.query_state.sort == "name"
        assert current(app).name == names[0]
        await pilot.press("S")
        await settle(app, pilot)
        assert grid.query_state.descending is True
        assert current(app).name == names[-1]


async def test_create_edit_and_see_it_in_the_audit_log(db: Database) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(app.screen, RecordForm)
        await pilot.press(*"Zed Test")
        app.screen.query_one("#field-email", Input).value = "zed@example.com"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, RecordScreen)
        created = find(db, "users", "zed@example.com")
        assert created.name == "Zed Test"
        # The cursor lands on the new record, with the count and position updated.
        assert current(app).id == created.id
        assert table(app).position == "Row 31 of 31"
        await pilot.press("e")
        await settle(app, pilot)
        name = app.screen.query_one("#field-name", Input)
        name.value = "Zed Tested"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert db.users.get(created.id).name == "Zed Tested"
        assert current(app).name == "Zed Tested"

        await pilot.press("3")
        await settle(app, pilot)
        assert isinstance(app.screen, AuditScreen)
        newest = table_lines(app)[1]
        assert "update" in newest
        assert f"user {created.id}" in newest


async def test_a_refused_save_keeps_the_form_and_names_the_field(db: Database) -> None:
    taken = next(iter(db.users.stream(PageRequest()))).email
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        app.screen.query_one("#field-name", Input).value = "Dup"
        app.screen.query_one("#field-email", Input).value = taken.upper()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, RecordForm)
        error = str(app.screen.query_one("#error-email").render())
        assert "already used" in error
        assert app.screen.query_one("#field-name", Input).value == "Dup"
    assert db.users.count() == 30


async def test_positions_stay_exact_when_rows_come_and_go_at_the_end(tmp_path: Path) -> None:
    db = demo_database(tmp_path / "end.db", users=5, products=300)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "G")
        await settle(app, pilot)
        assert table(app).position == "Row 300 of 300"
        await pilot.press("d", "y")
        await settle(app, pilot)
        assert table(app).position == "Row 299 of 299"
        assert current(app).id == 299
        await pilot.press("u")
        await settle(app, pilot)
        await pilot.press("enter")  # the undo confirm
        await settle(app, pilot)
        assert table(app).total == 300
        assert current(app).id == 299
        await pilot.press("j")
        assert current(app).id == 300
        assert table(app).position == "Row 300 of 300"
    db.dispose()


async def test_delete_with_confirm_then_undo_restores_it(db: Database) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        victim = current(app)
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await settle(app, pilot)
        assert db.users.count() == 30
        await pilot.press("d")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert db.users.count() == 29
        assert table(app).total == 29
        await pilot.press("u")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert victim.email in app.screen.dialog_title
        await pilot.press("y")
        await settle(app, pilot)
        restored = db.users.get(victim.id)
        assert restored.email == victim.email
        assert table(app).total == 30


async def test_delete_confirm_names_the_products_that_lose_their_owner(db: Database) -> None:
    owner_id = next(p.owner_id for p in db.products.stream(PageRequest()) if p.owner_id)
    owned = sum(d.count for d in db.dependants("users", [owner_id]))
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table(app).move_to(owner_id - 1)
        await pilot.press("d")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        noun = "product" if owned == 1 else "products"
        assert f"{owned} {noun} will lose" in dialog.message


async def test_mark_rows_and_delete_them_in_one_go(db: Database) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(app, pilot)
        await pilot.press("space", "space", "space")
        assert len(table(app).marked) == 3
        await pilot.press("D")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "3 marked products" in app.screen.dialog_title
        await pilot.press("y")
        await settle(app, pilot)
        assert db.products.count() == 37
        assert table(app).marked == {}
        await pilot.press("u")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert db.products.count() == 40


async def test_a_colleagues_save_under_an_open_form_is_a_conflict(
    db: Database, tmp_path: Path
) -> None:
    colleague = Database.connect(normalise_url(f"sqlite:///{tmp_path / 'console.db'}"))
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        record = current(app)
        await pilot.press("e")
        await settle(app, pilot)
        colleague.users.update(
            record.id,
            {"name": "Changed Elsewhere"},
            expected_version=record.version,
            actor=CONSOLE_COLLEAGUE,
        )
        app.screen.query_one("#field-name", Input).value = "Mine"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConflictDialog)
        await pilot.press("e")  # keep editing: the form is still there, with my value
        await settle(app, pilot)
        assert isinstance(app.screen, RecordForm)
        assert app.screen.query_one("#field-name", Input).value == "Mine"
    colleague.dispose()
    assert db.users.get(record.id).name == "Changed Elsewhere"


async def test_read_only_hides_write_keys_and_the_database_refuses(tmp_path: Path) -> None:
    demo_database(tmp_path / "ro.db").dispose()
    reader = Database.connect(normalise_url(f"sqlite:///{tmp_path / 'ro.db'}"), read_only=True)
    app = console(reader, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "READ-ONLY" in str(app.screen.query_one("#status-line").render())
        await pilot.press("n", "e", "d", "u")
        await settle(app, pilot)
        assert isinstance(app.screen, RecordScreen)
        keys = {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}
        assert not keys & {"new", "edit", "delete", "undo", "delete_marked"}
    with pytest.raises(ReadOnly):
        reader.users.create({"name": "X", "email": "x@example.com"}, actor=CONSOLE_COLLEAGUE)
    reader.dispose()


async def test_a_locked_database_reports_busy_and_the_console_keeps_going(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import data.engine

    monkeypatch.setattr(data.engine, "SQLITE_BUSY_TIMEOUT_MS", 200)
    locked = Database.connect(normalise_url(f"sqlite:///{tmp_path / 'console.db'}"))
    app = console(locked)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        blocker = sqlite3.connect(tmp_path / "console.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            await pilot.press("e")
            await settle(app, pilot)
            app.screen.query_one("#field-name", Input).value = "Blocked"
            await pilot.press("ctrl+s")
            await settle(app, pilot)
            assert isinstance(app.screen, RecordForm)  # still open, values kept
            titles = [n.title for n in app._notifications]
            assert "Database busy" in titles
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, RecordScreen)
    locked.dispose()
    assert db.users.get(1).name == "Blocked"


async def test_stored_markup_and_escapes_show_literally(db: Database) -> None:
    insert_raw_user(db, 900, "[bold]x[/]", "markup@example.com")
    insert_raw_user(db, 901, "[@click=app.quit]", "click@example.com")
    insert_raw_user(db, 902, "evil\x1b]0;pwn\x07\x1b[2J\x9b", "escape@example.com")
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("G")
        await settle(app, pilot)
        lines = "\n".join(table_lines(app))
        assert "[bold]x[/]" in lines
        assert "[@click=app.quit]" in lines
        assert "evil␛]0;pwn␇␛[2J\ufffd" in lines
        assert "\x1b" not in lines
        assert "\x9b" not in lines
        assert app.is_running


async def test_help_lists_the_keys_of_this_screen(db: Database) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        described = {description for _key, description in app.screen.keys}
        assert {"New", "Edit", "Delete", "Search", "Undo", "Quit", "Sort"} <= described
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, RecordScreen)


async def test_undo_with_nothing_to_undo_says_so_and_keeps_running(db: Database) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        notes = [(n.title, n.message) for n in app._notifications]
        assert ("Not found", "Nothing to undo: no change made here is left to undo.") in notes
        assert app.is_running
        assert isinstance(app.screen, RecordScreen)


async def test_switching_screens_leaves_no_footer_keys_behind(db: Database) -> None:
    # Textual 8.2.8 kept every footer's old key widgets alive through a data binding: memory
    # grew with each switch, and so did every full garbage collection (a frozen key press).
    app = console(db)

    def footer_keys() -> int:
        gc.collect()
        return sum(1 for obj in gc.get_objects() if isinstance(obj, FooterKey))

    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for key in ("2", "1"):
            await pilot.press(key)
            await settle(app, pilot)
        after_one_round = footer_keys()
        for _ in range(4):  # every round leaked a footer's keys: four show growth
            for key in ("2", "1"):
                await pilot.press(key)
                await settle(app, pilot)
        assert footer_keys() == after_one_round


async def test_the_footer_redraws_its_keys_only_when_they_change(db: Database) -> None:
    # Textual asks the footer to recompose after every focus move and binding check; most
    # of those asks offer the same keys, and redrawing them cost the console's keys CPU.
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)

        def footer_keys() -> list[FooterKey]:
            return list(app.screen.query(FooterKey))

        drawn = footer_keys()
        assert "Edit" in screen_text(app)
        app.screen.refresh_bindings()  # asked again, for the same keys
        await settle(app, pilot)
        assert footer_keys() == drawn  # the same widgets: nothing was redrawn

        await pilot.press("slash")  # the search has the focus: its own keys
        await settle(app, pilot)
        searching = footer_keys()
        assert not any(key in drawn for key in searching)
        await pilot.press("escape")
        await settle(app, pilot)
        assert [key.description for key in footer_keys()] == [key.description for key in drawn]
