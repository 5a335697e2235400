"""What the admin sees: every screen and dialog at 80x24 and 120x40, on fixed data.

The database is a relative SQLite path inside the test's own directory, so the status line
reads the same on every machine; audit times are frozen; cursors do not blink. Update the
SVGs only after opening the report and agreeing with every changed cell.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

import tui.screens.transfer
from data.actor import Actor
from data.config import normalise_url
from data.database import Database
from data.records import PageRequest
from data.schema import upgrade
from data.seed import seed_demo
from tests.console_support import (
    CONSOLE_ACTOR,
    current,
    freeze_audit_times,
    insert_raw_user,
    settle,
)
from tui.app import ANSI_THEME, AccessGuardApp, ConsoleOptions
from tui.screens.progress import ProgressDialog
from tui.screens.transfer import ExportProgress

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
Compare = Callable[..., bool]
Steps = Callable[[Pilot[Any]], Awaitable[None]]


@pytest.fixture
def snap_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """Fixed demo data at a relative path (the status line shows the same URL everywhere)."""
    monkeypatch.chdir(tmp_path)
    db = Database.connect(normalise_url("sqlite:///snapshots.db"))
    upgrade(db.engine)
    seed_demo(db, users=40, products=60, seed=3, actor=CONSOLE_ACTOR)
    _a_morning_of_changes(db)
    freeze_audit_times(db)
    yield db
    db.dispose()


def _a_morning_of_changes(db: Database) -> None:
    """A few audited changes, so the audit log has something to show."""
    colleague = Actor(os_user="bob", sudo_user="root", client_addr="10.0.0.8", source="cli")
    created = db.users.create(
        {"name": "Nadia Haddad", "email": "nadia@example.com", "role": "editor"}, actor=colleague
    )
    product = db.products.get(3)
    db.products.update(
        3, {"price": "19.99", "stock": 12}, expected_version=product.version, actor=CONSOLE_ACTOR
    )
    db.users.update(created.id, {"role": "admin"}, expected_version=1, actor=CONSOLE_ACTOR)
    doomed = db.products.get(5)
    db.products.delete(5, expected_version=doomed.version, actor=colleague)


def still(steps: Steps | None = None) -> Steps:
    """Settle the app, run ``steps`` (keys, edits), settle again and stop cursors blinking."""

    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, AccessGuardApp)
        await settle(app, pilot)
        if steps is not None:
            await steps(pilot)
            await settle(app, pilot)
        for widget in app.screen.query(Input):
            widget.cursor_blink = False
        for area in app.screen.query(TextArea):
            area.cursor_blink = False
        await pilot.pause()

    return run


def keys(*presses: str) -> Steps:
    """Steps that press ``presses`` one by one, letting workers finish after each."""

    async def press(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, AccessGuardApp)
        for key in presses:
            await pilot.press(key)
            await settle(app, pilot)

    return press


def app_for(db: Database, *, read_only: bool = False) -> AccessGuardApp:
    """The console under test."""
    return AccessGuardApp(db, actor=CONSOLE_ACTOR, read_only=read_only)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    ("name", "presses"),
    [
        ("users", ()),
        ("products", ("2",)),
        ("audit", ("3",)),
        ("users_sorted_by_email", ("l", "l", "S")),
        ("new_user_form", ("n",)),
        ("edit_product_form", ("2", "j", "e")),
        ("delete_confirm", ("d",)),
        ("help", ("question_mark",)),
        ("audit_entry", ("3", "enter")),
    ],
)
def test_screens(
    snap_compare: Compare,
    snap_db: Database,
    size: tuple[int, int],
    name: str,
    presses: tuple[str, ...],
) -> None:
    assert snap_compare(app_for(snap_db), terminal_size=size, run_before=still(keys(*presses)))


@pytest.mark.parametrize("size", SIZES)
def test_refused_save_shows_errors_beside_fields(
    snap_compare: Compare, snap_db: Database, size: tuple[int, int]
) -> None:
    async def refuse(pilot: Pilot[Any]) -> None:
        await keys("n")(pilot)
        pilot.app.screen.query_one("#field-name", Input).value = "   "
        pilot.app.screen.query_one("#field-email", Input).value = "not-an-email"
        await keys("ctrl+s")(pilot)

    assert snap_compare(app_for(snap_db), terminal_size=size, run_before=still(refuse))


@pytest.mark.parametrize("size", SIZES)
def test_conflict_dialog(snap_compare: Compare, snap_db: Database, size: tuple[int, int]) -> None:
    async def collide(pilot: Pilot[Any]) -> None:
        await keys("e")(pilot)
        record = current(pilot.app)  # type: ignore[arg-type]
        colleague = Actor(os_user="bob", source="console:colleague")
        snap_db.users.update(
            record.id,
            {"name": "Their Name", "role": "editor"},
            expected_version=record.version,
            actor=colleague,
        )
        pilot.app.screen.query_one("#field-name", Input).value = "My Name"
        await keys("ctrl+s")(pilot)

    assert snap_compare(app_for(snap_db), terminal_size=size, run_before=still(collide))


@pytest.mark.parametrize("size", SIZES)
def test_stored_markup_and_escapes(
    snap_compare: Compare, snap_db: Database, size: tuple[int, int]
) -> None:
    insert_raw_user(snap_db, 901, "[bold]x[/] [link=x]y", "markup@example.com")
    insert_raw_user(snap_db, 902, "[@click=app.quit]", "click@example.com")
    insert_raw_user(snap_db, 903, "evil\x1b]0;pwn\x07\x1b[2J\x9bz", "escape@example.com")
    insert_raw_user(snap_db, 904, "bidi \u202eevil\u202c", "bidi@example.com")
    assert snap_compare(app_for(snap_db), terminal_size=size, run_before=still(keys("G")))


@pytest.mark.parametrize("size", SIZES)
def test_read_only(snap_compare: Compare, snap_db: Database, size: tuple[int, int]) -> None:
    reader = Database.connect(normalise_url("sqlite:///snapshots.db"), read_only=True)
    try:
        assert snap_compare(app_for(reader, read_only=True), terminal_size=size, run_before=still())
    finally:
        reader.dispose()


def test_users_in_the_ansi_theme(snap_compare: Compare, snap_db: Database) -> None:
    """The 16-colour theme (--theme ansi-dark): the terminal's own colours, nothing cut off."""
    app = AccessGuardApp(snap_db, actor=CONSOLE_ACTOR, options=ConsoleOptions(theme=ANSI_THEME))
    assert snap_compare(app, terminal_size=(80, 24), run_before=still())


# Export and import (80x24)


def test_export_prompt(
    snap_compare: Compare, snap_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tui.screens.transfer, "local_now", lambda: datetime(2026, 1, 2, 3, 4, 5))
    assert snap_compare(app_for(snap_db), terminal_size=(80, 24), run_before=still(keys("2", "x")))


def test_export_progress(
    snap_compare: Compare, snap_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Held a quarter of the way through a large export: no worker starts, only its news.
    def part_way(self: ExportProgress) -> None:
        self.post_message(ExportProgress.Advanced(15_000, 60_000))

    monkeypatch.setattr(ProgressDialog, "on_mount", part_way)

    async def export(pilot: Pilot[Any]) -> None:
        await keys("2", "x")(pilot)
        pilot.app.screen.query_one("#path-input", Input).value = "./products.csv"
        await keys("enter")(pilot)

    assert snap_compare(app_for(snap_db), terminal_size=(80, 24), run_before=still(export))


def test_import_review_with_a_refused_row(
    snap_compare: Compare, snap_db: Database, tmp_path: Path
) -> None:
    first, second = list(snap_db.products.stream(PageRequest(limit=2)))[:2]
    (tmp_path / "products-fixed.csv").write_text(
        "sku,name,price,stock\n"
        f"{first.sku},{first.name},{first.price + 1},{first.stock}\n"
        f"{second.sku},{second.name},{second.price},-3\n"
        "NEW-1,Brand New,4.50,10\n",
        encoding="utf-8",
    )
    assert snap_compare(
        app_for(snap_db), terminal_size=(80, 24), run_before=still(keys("2", "i", "enter"))
    )


@pytest.mark.parametrize("name", ["highlighted_cells", "review_dialog"])
def test_staged_quick_edits(snap_compare: Compare, snap_db: Database, name: str) -> None:
    """Three cells staged across rows and columns; then ctrl+s shows the review."""
    presses = ["2", "l", "l", "l", "l", "f2", "ctrl+u", "4", "2", "enter", "j", "j", "h"]
    presses += ["f2", "ctrl+u", "9", ".", "9", "9", "enter", "j", "l", "f2", "ctrl+u", "7"]
    presses += ["enter", "j"]
    if name == "review_dialog":
        presses.append("ctrl+s")
    assert snap_compare(app_for(snap_db), terminal_size=(80, 24), run_before=still(keys(*presses)))


@pytest.mark.parametrize(
    ("name", "presses"),
    [
        ("restore_confirm", ("3", "R")),
        ("products_of_owner", ("j", "o")),
    ],
)
def test_relations(
    snap_compare: Compare, snap_db: Database, name: str, presses: tuple[str, ...]
) -> None:
    assert snap_compare(app_for(snap_db), terminal_size=(80, 24), run_before=still(keys(*presses)))
