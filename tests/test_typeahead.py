"""Keys that arrive in one read land where they were typed (tui.typeahead): a key that
opens an input sends the keys after it into that input, not to the old focus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input

from data.database import Database
from data.records import PageRequest
from tests.console_support import (
    CONSOLE_ACTOR,
    console,
    current,
    demo_database,
    settle,
    table,
)
from tests.reliability.support_input import Terminal
from tui.app import AccessGuardApp
from tui.screens.dialogs import ConfirmDialog
from tui.screens.records import RecordScreen

SIZE = (80, 24)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """30 demo users and one named so that a search for "pan" finds only her."""
    database = demo_database(tmp_path / "typeahead.db", products=0)
    database.users.create({"name": "Pania Walker", "email": "pw@example.com"}, actor=CONSOLE_ACTOR)
    yield database
    database.dispose()


def arrive_together(app: AccessGuardApp, *keys: str) -> None:
    """Queue ``keys`` as one read from the terminal would: all of them before any is handled."""
    driver = app._driver
    assert driver is not None
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        driver.send_message(event)


async def test_keys_after_slash_go_into_the_search_and_nothing_else_runs(db: Database) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        start = current(app)
        before = db.audit.count()
        arrive_together(app, "slash", "p", "a", "n")  # n alone opens a new-user form
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RecordScreen)  # no form, no dialog
        assert screen.query_one("#search", Input).value == "pan"
        assert app.focused is screen.query_one("#search", Input)
        arrive_together(app, "enter")
        await settle(app, pilot)
        assert table(app).position == "Row 1 of 1"
        assert current(app).name == "Pania Walker"
        assert current(app) != start
        assert db.audit.count() == before


async def test_keys_after_u_go_to_the_confirm_it_opens_once_its_plan_is_read(
    db: Database,
) -> None:
    pania = next(u for u in db.users.stream(PageRequest()) if u.name == "Pania Walker")
    db.users.update(pania.id, {"role": "admin"}, expected_version=1, actor=CONSOLE_ACTOR)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        arrive_together(app, "u", "n")  # n: "No" in the confirm, "New" on the table
        await settle(app, pilot)
        assert isinstance(app.screen, RecordScreen)  # the confirm came and went, no form
        assert db.users.get(pania.id).role == "admin"  # n said no
        arrive_together(app, "u", "y", "j")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert db.users.get(pania.id).role == "viewer"
        assert table(app).cursor_row == 1  # j moved the table, after the dialog closed


async def test_a_screen_switch_then_end_lands_on_the_new_screens_last_row(
    tmp_path: Path,
) -> None:
    db = demo_database(tmp_path / "switch.db", users=5, products=300)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        arrive_together(app, "2", "G")  # before the products are even loaded
        await settle(app, pilot)
        assert app.current_mode == "products"
        assert table(app).position == "Row 300 of 300"
    db.dispose()


def test_bytes_written_in_one_write_to_a_real_terminal_search(db: Database) -> None:
    url = str(db.engine.url)
    terminal = Terminal(url)
    status, written = terminal.walk(
        (b"", b"Row 1 of 31"),
        (b"/pan\r", "search “pan”".encode()),  # one write(): the whole line at once
        (b"", b"Row 1 of 1 "),
    )
    assert status == 0
    assert b"New user" not in written  # n never reached the table


def test_the_groups_of_every_write_are_the_ones_keys_do_not_wait_for() -> None:
    """A key after ctrl+s must answer while the save waits for a lock (the busy tests of
    tests/reliability/test_local_faults.py): the form's write group is among those."""
    from tui.screens.form import WRITE_GROUP
    from tui.typeahead import WRITE_GROUPS

    assert {WRITE_GROUP, "write"} <= WRITE_GROUPS
