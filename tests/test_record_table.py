"""The virtual table against the truth: every key lands on the row a full list would show."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tui.widgets.record_table as record_table
from data.database import Database
from data.records import PageRequest
from tests.console_support import console, current, demo_database, settle, table
from tui.views import view_named
from tui.widgets import table_layout
from tui.widgets.table_layout import column_widths

PRODUCTS_VIEW = view_named("products")

KEYS = ["j", "k", "pagedown", "pageup", "g", "G", "down", "up"]
STEPS = 50  # per sort: every key many times over (the window's trim has its own test)


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
        for step in range(STEPS):
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
    assert sum(wide) + table_layout.MARK_WIDTH + len(wide) * table_layout.GAP == 200


async def test_paging_past_the_window_bound_trims_it_and_keeps_the_right_rows(
    big: Database,
) -> None:
    """Page down twice the window's bound and back: the window lets go of the rows away from
    the cursor (first its start, then its end), and every row shown is still the right one."""
    truth = [p.id for p in big.products.stream(PageRequest(sort="id"))]
    bound = record_table.MAX_WINDOW + record_table.PAGE_SIZE * 2
    app = console(big)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await settle(app, pilot)
        grid = table(app)
        furthest_end = 0
        while grid.cursor_row < 2 * record_table.MAX_WINDOW:
            await pilot.press("pagedown")
            await settle(app, pilot)
            assert current(app).id == truth[grid.cursor_row], grid.cursor_row
            assert len(grid._rows) <= bound
            furthest_end = max(furthest_end, grid._first + len(grid._rows))
        assert grid._first > 0, "the window never let go of its first rows"
        while grid.cursor_row > 0:
            await pilot.press("pageup")
            await settle(app, pilot)
            assert current(app).id == truth[grid.cursor_row], grid.cursor_row
            assert len(grid._rows) <= bound
        assert grid._first == 0
        assert grid._first + len(grid._rows) < furthest_end, "the window kept its far end"
        assert not grid._at_end


async def test_a_move_made_while_the_window_is_re_read_is_kept_when_the_rows_land(
    tmp_path: Path,
) -> None:
    """Keys typed while a reload is on its way (an undo's, a colleague's change) count: the
    re-read rows do not put the cursor back where it was when the reload began."""
    db = demo_database(tmp_path / "reload.db", products=0)
    truth = [u.id for u in db.users.stream(PageRequest())]
    app = console(db, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        grid = table(app)
        fetch, held, release = grid._fetch_page, threading.Event(), threading.Event()

        def slow_fetch(request: PageRequest) -> Any:
            held.set()
            release.wait(10)
            return fetch(request)

        grid._fetch_page = slow_fetch
        grid.reload()
        assert await asyncio.to_thread(held.wait, 10)
        await pilot.press("j", "j")
        assert grid.cursor_row == 2
        release.set()
        await settle(app, pilot)
        assert current(app).id == truth[2]
    db.dispose()
