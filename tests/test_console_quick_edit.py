"""Quick edits in the console: F2 stages a cell, ctrl+s reviews and commits them all at once.

Pilot tests at 80x24 over a small SQLite file; the data core's `update_many` is tested on
all three backends in tests/test_update_many.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from data.actor import Actor
from data.database import Database
from tests.console_support import console, demo_database, screen_text, settle, table
from tests.data_support import record_history
from tui.app import AccessGuardApp
from tui.screens.dialogs import ConfirmDialog, StagedEditsDialog
from tui.screens.records import RecordScreen
from tui.widgets.quick_edit import QuickEditor

SIZE = (80, 24)
STOCK = 4  # the products table's columns: ID, SKU, Name, Price, Stock, ...


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Database]:
    """A few users and products on a SQLite file."""
    db = demo_database(tmp_path / "shop.db", users=5, products=12)
    yield db
    db.dispose()


def records_screen(app: AccessGuardApp) -> RecordScreen:
    """The Users or Products screen under any dialog."""
    return next(s for s in reversed(app.screen_stack) if isinstance(s, RecordScreen))


def notes(app: AccessGuardApp) -> str:
    """Every toast shown so far, ``title: message`` a line."""
    return "\n".join(f"{n.title}: {n.message}" for n in app._notifications)


def position_line(app: AccessGuardApp) -> str:
    """What the bottom line says."""
    return str(records_screen(app).query_one("#position-line").render())


async def open_products_at(app: AccessGuardApp, pilot: Pilot[Any], column: int) -> None:
    """The Products screen, its column cursor on ``column``."""
    await pilot.press("2")
    await settle(app, pilot)
    await pilot.press(*["l"] * column)


async def type_cell(app: AccessGuardApp, pilot: Pilot[Any], value: str) -> None:
    """F2, clear the value, type ``value``, Enter: as an admin does."""
    await pilot.press("f2", "ctrl+u", *value, "enter")
    await settle(app, pilot)


async def test_correct_three_stock_counts_with_one_review_and_one_commit(shop: Database) -> None:
    before = [shop.products.get(record_id) for record_id in (1, 2, 3)]
    counted = [record.stock + 7 for record in before]  # what the admin found on the shelves
    app = console(shop)
    async with app.run_test(size=SIZE) as pilot:
        await open_products_at(app, pilot, STOCK)
        for stock in counted:
            await type_cell(app, pilot, str(stock))
            assert not records_screen(app).editor.is_open
            await pilot.press("j")
        assert "3 staged edits (ctrl+s reviews)" in position_line(app)
        # Staged, not saved: the table draws the new values, the database has the old ones.
        assert [shop.products.get(r.id).stock for r in before] == [r.stock for r in before]
        assert table(app).staged == {
            r.id: {"stock": str(n)} for r, n in zip(before, counted, strict=True)
        }

        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, StagedEditsDialog)
        review = screen_text(app)
        assert "Commit 3 staged edits to 3 products?" in review
        for record, stock in zip(before, counted, strict=True):
            assert f"product {record.id} <{record.sku}>" in review
            assert f"Stock: {record.stock} → {stock}" in review
        await pilot.press("y")
        await settle(app, pilot)

        assert [shop.products.get(r.id).stock for r in before] == counted
        assert [shop.products.get(r.id).version for r in before] == [r.version + 1 for r in before]
        assert records_screen(app).staged == {}
        assert "staged" not in position_line(app)
        assert "Saved 3 edits to 3 products. Press u to undo." in notes(app)

        # Every change is in the audit log: the data, and the Audit screen.
        entries = [record_history(shop, "product", r.id)[-1] for r in before]
        assert [entry.changes for entry in entries] == [
            {"stock": (r.stock, new)} for r, new in zip(before, counted, strict=True)
        ]
        assert len({entry.batch for entry in entries}) == 1
        assert {(entry.actor, entry.source) for entry in entries} == {
            ("alice from 10.0.0.7", "console:test")
        }
        await pilot.press("3")
        await settle(app, pilot)
        audit = screen_text(app)
        for record, new in zip(before, counted, strict=True):
            assert f"product {record.id}   stock: {record.stock} -> {new}" in audit


async def test_a_refused_value_stays_for_correction_and_escape_drops_it(shop: Database) -> None:
    app = console(shop)
    async with app.run_test(size=SIZE) as pilot:
        await open_products_at(app, pilot, STOCK)
        await type_cell(app, pilot, "-3")
        editor = records_screen(app).editor
        assert editor.is_open
        assert editor.input.value == "-3"
        assert "Stock must not be negative" in screen_text(app)
        assert records_screen(app).staged == {}
        # Corrected in place, then Enter stages it.
        await pilot.press("backspace", "backspace", "4", "enter")
        await settle(app, pilot)
        assert not editor.is_open
        assert "1 staged edit (ctrl+s reviews)" in position_line(app)

        # Escape drops an edit in progress; the staged one stays.
        await pilot.press("h", "f2", "ctrl+u", "1", "escape")
        await settle(app, pilot)
        assert not editor.is_open
        assert list(records_screen(app).staged) == [(1, "stock")]
        # Re-typing the stored value stages nothing.
        price = str(shop.products.get(1).price)
        await type_cell(app, pilot, price)
        assert list(records_screen(app).staged) == [(1, "stock")]

        # Not editable in place: the id (and times, passwords: no column offers them).
        await pilot.press("h", "h", "h", "f2")
        await settle(app, pilot)
        assert not editor.is_open
        assert "ID cannot be edited in place: h / l choose another column." in notes(app)


async def test_ctrl_z_drops_the_last_staged_edit(shop: Database) -> None:
    app = console(shop)
    async with app.run_test(size=SIZE) as pilot:
        await open_products_at(app, pilot, STOCK)
        await type_cell(app, pilot, "5")
        await pilot.press("h")
        await type_cell(app, pilot, "1.25")
        await pilot.press("j")
        await type_cell(app, pilot, "2.50")
        assert list(records_screen(app).staged) == [(1, "stock"), (1, "price"), (2, "price")]
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert list(records_screen(app).staged) == [(1, "stock"), (1, "price")]
        assert table(app).staged == {1: {"stock": "5", "price": "1.25"}}
        assert "2 staged edits" in position_line(app)
        await pilot.press("ctrl+z", "ctrl+z")
        await settle(app, pilot)
        assert records_screen(app).staged == {}
        # With nothing staged, the review and unstage keys leave the footer.
        assert "Review edits" not in screen_text(app)


async def test_leaving_with_staged_edits_asks_first(shop: Database) -> None:
    app = console(shop)
    async with app.run_test(size=SIZE) as pilot:
        await open_products_at(app, pilot, STOCK)
        await type_cell(app, pilot, "9")
        for leave, keep in (("q", "n"), ("ctrl+c", "escape"), ("3", "escape"), ("1", "n")):
            await pilot.press(leave)
            await settle(app, pilot)
            assert isinstance(app.screen, ConfirmDialog), leave
            assert "1 staged edit to products has not been saved" in screen_text(app)
            await pilot.press(keep)
            await settle(app, pilot)
            assert isinstance(app.screen, RecordScreen)
            assert app.current_mode == "products"
            assert list(records_screen(app).staged) == [(1, "stock")]
        await pilot.press("3", "y")
        await settle(app, pilot)
        assert app.current_mode == "audit"
        await pilot.press("2")
        await settle(app, pilot)
        assert records_screen(app).staged == {}
        assert table(app).staged == {}
        await type_cell(app, pilot, "8")
        await pilot.press("q", "y")
        await settle(app, pilot)
        assert app.return_code == 0
    assert shop.products.get(1).stock != 8


async def test_a_colleagues_change_refuses_the_whole_commit_and_keeps_the_edits(
    shop: Database,
) -> None:
    one, two = shop.products.get(1), shop.products.get(2)
    app = console(shop)
    async with app.run_test(size=SIZE) as pilot:
        await open_products_at(app, pilot, STOCK)
        await type_cell(app, pilot, "11")
        await pilot.press("j")
        await type_cell(app, pilot, "22")
        shop.products.update(
            two.id, {"stock": 99}, expected_version=two.version, actor=Actor("bob", source="cli")
        )
        await pilot.press("ctrl+s", "y")
        await settle(app, pilot)
        assert (
            f"Changed by someone else: Product {two.id}: bob changed stock since you opened "
            "it, and so did you, differently. None of the 2 products were saved; your edits "
            "are kept."
        ) in notes(app)
        assert (shop.products.get(one.id).stock, shop.products.get(two.id).stock) == (
            one.stock,
            99,
        )
        assert list(records_screen(app).staged) == [(one.id, "stock"), (two.id, "stock")]
        assert not records_screen(app).query_one(QuickEditor).is_open


async def test_a_colleagues_change_to_another_field_merges_with_the_commit(
    shop: Database,
) -> None:
    """Only the fields staged are written: a colleague's rename of a staged product stays,
    their same stock is no conflict, and a toast says the commit merged with them."""
    one, two = shop.products.get(1), shop.products.get(2)
    app = console(shop)
    async with app.run_test(size=SIZE) as pilot:
        await open_products_at(app, pilot, STOCK)
        await type_cell(app, pilot, "11")
        await pilot.press("j")
        await type_cell(app, pilot, "22")
        shop.products.update(
            two.id,
            {"name": "Renamed", "stock": 22},
            expected_version=two.version,
            actor=Actor("bob", source="cli"),
        )
        await pilot.press("ctrl+s", "y")
        await settle(app, pilot)
        assert "Saved 2 edits to 2 products" in notes(app)
        assert "Merged with bob's change to name, stock" in notes(app)
        assert not records_screen(app).staged
    stored = shop.products.get(two.id)
    assert (stored.name, stored.stock) == ("Renamed", 22)
    assert shop.products.get(one.id).stock == 11
