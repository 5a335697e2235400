"""Following relations from the keyboard, and restoring any audit entry's "before" state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from data.actor import Actor
from data.database import Database
from data.records import PageRequest
from tests.console_support import console, current, demo_database, settle, table
from tui.app import AccessGuardApp
from tui.screens.audit import AuditScreen
from tui.screens.dialogs import ConfirmDialog
from tui.screens.form import RecordForm
from tui.screens.records import RecordScreen
from tui.views import view_named

PRODUCTS_VIEW = view_named("products")

SIZE = (80, 24)
COLLEAGUE = Actor(os_user="bob", source="console:colleague")
OWNER_COLUMN = next(i for i, c in enumerate(PRODUCTS_VIEW.columns) if c.link is not None)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """30 users and 40 products from seed 7."""
    database = demo_database(tmp_path / "relations.db")
    yield database
    database.dispose()


def position_line(app: AccessGuardApp) -> str:
    """The bottom line of the table screen on top, whole (the terminal may cut it)."""
    screen = app.screen
    assert isinstance(screen, RecordScreen | AuditScreen)
    return screen.position_text(table(app))


async def test_enter_on_the_owner_follows_to_that_user_and_escape_shows_all(
    db: Database,
) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(app, pilot)
        await pilot.press("enter")  # on the ID column: Enter still edits
        await settle(app, pilot)
        assert isinstance(app.screen, RecordForm)
        await pilot.press("escape")
        await settle(app, pilot)
        owned = next(p for p in db.products.stream(PageRequest()) if p.owner_id)
        table(app).move_to(owned.id - 1)
        await pilot.press(*["l"] * OWNER_COLUMN, "enter")
        await settle(app, pilot)
        assert app.current_mode == "users"
        assert table(app).total == 1
        assert current(app).id == owned.owner_id
        assert f"user: {owned.owner_email} (Esc clears)" in position_line(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert table(app).total == 30
        assert current(app).id == owned.owner_id
        assert "user:" not in position_line(app)


async def test_o_lists_a_users_products_filtered_and_search_combines(db: Database) -> None:
    owner_id = next(p.owner_id for p in db.products.stream(PageRequest()) if p.owner_id)
    owner = db.users.get(owner_id)
    owned = sum(d.count for d in db.dependants("users", [owner_id]))
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table(app).move_to(owner_id - 1)
        await pilot.press("o")
        await settle(app, pilot)
        assert app.current_mode == "products"
        assert table(app).total == owned
        assert f"owner: {owner.email} (Esc clears)" in position_line(app)
        sku = current(app).sku
        await pilot.press("slash", *sku, "enter")
        await settle(app, pilot)
        assert table(app).total == 1
        assert f"owner: {owner.email}  ·" in position_line(app)
        await pilot.press("escape")  # the search first
        await settle(app, pilot)
        assert table(app).total == owned
        await pilot.press("escape")  # then the filter
        await settle(app, pilot)
        assert table(app).total == 40
        assert "owner:" not in position_line(app)


async def test_restore_any_entry_asks_with_the_fields_and_is_audited(db: Database) -> None:
    user = db.users.get(3)
    db.users.update(3, {"name": "Renamed"}, expected_version=user.version, actor=COLLEAGUE)
    db.users.update(3, {"role": "admin"}, expected_version=user.version + 1, actor=COLLEAGUE)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        await pilot.press("j", "R")  # the rename, under the role change
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert dialog.dialog_title == f"Restore user 3 <{user.email}>?"
        assert f"name: Renamed → {user.name}" in dialog.message
        assert "Changed since: 1 later change, the latest by bob" in dialog.message
        await pilot.press("y")
        await settle(app, pilot)
        after = db.users.get(3)
        assert (after.name, after.role) == (user.name, "admin")
        assert current(app).action == "update"  # the cursor stays on the restored entry
        newest = db.audit.page(PageRequest(limit=1)).records[0]
        assert (newest.action, newest.actor) == ("restore", "alice from 10.0.0.7")
        await pilot.press("R")  # done already: nothing left to put back
        await settle(app, pilot)
        assert isinstance(app.screen, AuditScreen)
        assert db.audit.count() == newest.id
