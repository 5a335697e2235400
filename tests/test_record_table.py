"""The virtual table against the truth: every key lands on the row a full list would show."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

import tui.widgets.record_table as record_table
from data.database import Database
from data.records import PageRequest
from tests.console_support import console, current, demo_database, settle, table
from tui.views import PRODUCTS_VIEW
from tui.widgets.record_table import column_widths

KEYS = ["j", "k", "pagedown", "pageup", "g", "G", "down", "up"]


@pytest.fixture
def big(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """2,500 products, and a table that holds at most 300 rows read 50 at a time."""
    monkeypatch.setattr(record_table, "PAGE_SIZE", 50)
    monkeypatch.setattr(record_table, "MAX_WINDOW", 300)
    db = demo_database(tmp_path / "big.db", users=20, products=2_500)
    yield db
    db.dispose()


@pytest.mark.parametrize("sort", ["id", "price", "name"])
async def test_a_random_walk_always_shows_the_right_row(big: Database, sort: str) -> None:
    truth = [p.id for p in big.products.stream(PageRequest(sort=sort))]
    app = console(big)
    walk = random.Random(f"walk-{sort}")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await settle(app, pilot)
        grid = table(app)
        grid.set_query(record_table.Query(sort=sort))
        await settle(app, pilot)
        for step in range(120):
            key = walk.choice(KEYS)
            await pilot.press(key)
            await settle(app, pilot)
            row = grid.cursor_row
            assert current(app).id == truth[row], (step, key, row)
            assert grid.position == f"Row {row + 1:,} of {len(truth):,}"
            assert len(grid._rows) <= record_table.MAX_WINDOW + record_table.PAGE_SIZE * 2


def test_spare_width_goes_to_the_growable_columns() -> None:
    least = column_widths(PRODUCTS_VIEW.columns, 0)
    assert least == [c.width for c in PRODUCTS_VIEW.columns]
    wide = column_widths(PRODUCTS_VIEW.columns, 200)
    fixed = [i for i, c in enumerate(PRODUCTS_VIEW.columns) if not c.grow]
    assert all(wide[i] == least[i] for i in fixed)
    assert sum(wide) + record_table.MARK_WIDTH + len(wide) * record_table.GAP == 200
