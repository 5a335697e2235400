"""The record view (v, and Enter where the console cannot edit): a record whole, with its
history; and the status line keeping the database's name in view at 80 columns."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from textual.widgets import Static

from data.actor import Actor
from data.changes import Change
from data.config import normalise_url
from data.database import Database
from data.records import PageRequest
from tests.console_support import (
    CONSOLE_ACTOR,
    FIXED_TIME,
    console,
    current,
    demo_database,
    insert_raw_user,
    screen_text,
    settle,
    sql_on_the_ui_thread,
    table,
    table_lines,
)
from tui.app import AccessGuardApp
from tui.screens.dialogs import HelpScreen
from tui.screens.form import RecordForm
from tui.screens.record_view import HISTORY_LIMIT, RecordScroll, RecordView, read_sheet
from tui.screens.records import RecordScreen
from tui.text import shorten_middle
from tui.views import view_named

SIZE = (80, 24)
COLLEAGUE = Actor(os_user="bob", source="console:colleague")
# 300 characters of words, its end marked so a test can see the whole of it arrived.
LONG = " ".join(f"part{n:03d}" for n in range(37)) + " END!"
assert len(LONG) == 300


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Database]:
    """30 users and 40 products from seed 7, on SQLite."""
    database = demo_database(tmp_path / "view.db")
    yield database
    database.dispose()


@asynccontextmanager
async def viewing_the_last_user(db: Database) -> AsyncIterator[AccessGuardApp]:
    """A console on ``db`` with the record view of the last user open (``G``, ``v``)."""
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("G", "v")
        await settle(app, pilot)
        yield app


def shown_view(app: AccessGuardApp) -> RecordView:
    """The record view on top."""
    assert isinstance(app.screen, RecordView), f"{type(app.screen).__name__} is on top"
    return app.screen


def fields(app: AccessGuardApp) -> dict[str, str]:
    """Label -> the whole value, as the view holds it."""
    cells = list(shown_view(app).query_one(".record--fields").query(Static))
    return {
        str(label.content): str(value.content)
        for label, value in zip(cells[::2], cells[1::2], strict=True)
    }


def history(app: AccessGuardApp) -> list[str]:
    """The history's lines, in order: each entry's heading, then its changes."""
    return [
        str(line.content)
        for line in shown_view(app).query(".record--entry, .record--change").results(Static)
    ]


async def test_v_shows_a_long_description_whole_and_the_keys_scroll_it(demo: Database) -> None:
    product = demo.products.get(1)
    demo.products.update(
        1, {"description": LONG}, expected_version=product.version, actor=COLLEAGUE
    )
    owner = demo.users.get(product.owner_id)
    app = console(demo)
    with sql_on_the_ui_thread(demo.engine) as offenders:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("2", "v")
            await settle(app, pilot)
            whole = fields(app)
            assert whole["Description"] == LONG  # untruncated
            assert whole["Owner"] == f"{owner.name} <{owner.email}>, user {owner.id}"
            assert whole["SKU"] == product.sku
            assert whole["Version"] == str(product.version + 1)
            text = screen_text(app)
            assert "part000" in text
            assert "END!" in text
            assert "Product 1 <" in text

            body = shown_view(app).query_one(RecordScroll)
            assert body.max_scroll_y > 0  # the history is below the fold at 80x24
            await pilot.press("G")
            await settle(app, pilot)
            assert body.scroll_y == body.max_scroll_y
            await pilot.press("k", "k")
            await settle(app, pilot)
            assert body.scroll_y < body.max_scroll_y
            await pilot.press("g")
            await settle(app, pilot)
            assert body.scroll_y == 0

            await pilot.press("q")
            await settle(app, pilot)
            assert isinstance(app.screen, RecordScreen)
    assert offenders == []


async def test_read_only_enter_shows_the_record_with_no_edit_key(tmp_path: Path) -> None:
    demo_database(tmp_path / "ro.db").dispose()
    reader = Database.connect(normalise_url(f"sqlite:///{tmp_path / 'ro.db'}"), read_only=True)
    app = console(reader, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        record = current(app)
        await pilot.press("enter")
        await settle(app, pilot)
        assert fields(app)["Email"] == record.email
        assert "Edit (e)" not in screen_text(app)
        await pilot.press("e")  # nothing to edit: the view stays
        await settle(app, pilot)
        shown_view(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, RecordScreen)
    reader.dispose()


async def test_history_lists_the_latest_change_first(demo: Database) -> None:
    user = demo.users.get(2)
    renamed = demo.users.update(2, {"name": "Ana First"}, expected_version=1, actor=CONSOLE_ACTOR)
    demo.users.update(2, {"role": "admin"}, expected_version=renamed.version, actor=COLLEAGUE)
    app = console(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table(app).move_to(1)
        await pilot.press("v")
        await settle(app, pilot)
        lines = history(app)
        assert "bob" in lines[0]
        assert "update" in lines[0]
        assert lines[1] == f"role: {user.role} → admin"
        assert "alice" in lines[2]
        assert lines[3] == f"name: {user.name} → Ana First"
        assert fields(app)["Password"] == "not set"


async def test_only_the_latest_entries_are_listed_and_the_rest_are_named(demo: Database) -> None:
    record = demo.users.get(1)
    for n in range(HISTORY_LIMIT + 1):
        record = demo.users.update(
            1, {"name": f"Name {n}"}, expected_version=record.version, actor=COLLEAGUE
        )
    app = console(demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("v")
        await settle(app, pilot)
        headings = shown_view(app).query(".record--entry")
        assert len(headings) == HISTORY_LIMIT
        assert history(app)[1].endswith(f"→ Name {HISTORY_LIMIT}")
        assert "/user 1 list them all" in screen_text(app)


async def test_stored_markup_and_escapes_are_shown_literally(demo: Database) -> None:
    insert_raw_user(demo, 901, "[bold]x[/] [@click=app.quit] evil\x1b[2J\x9b \u202eevil", "m@x.org")
    async with viewing_the_last_user(demo) as app:
        name = fields(app)["Name"]
        assert name == "[bold]x[/] [@click=app.quit] evil␛[2J\ufffd \ufffdevil"
        text = screen_text(app)
        assert "[bold]x[/] [@click=app.quit]" in text
        assert "\x1b[2J" not in text
        assert "\u202e" not in text
        assert app.is_running  # the click action was text, not an action


async def test_a_value_stored_past_validation_is_shown_with_why(demo: Database) -> None:
    """Another tool stored an address at a special-use domain: the view shows it as stored,
    marked, and the reason the form would give beside the field."""
    insert_raw_user(demo, 901, "Reserved", "bad@site.onion")
    async with viewing_the_last_user(demo) as app:
        shown = fields(app)["Email"]
        assert shown.startswith("✗bad@site.onion\nstored past validation: is not a valid address")
        assert "special-use or reserved name" in " ".join(screen_text(app).split())


async def test_e_edits_the_record_as_the_view_read_it(demo: Database) -> None:
    app = console(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        seen = current(app)
        # A colleague's save after the table was read: the view reads afresh.
        demo.users.update(seen.id, {"name": "Fresh Name"}, expected_version=1, actor=COLLEAGUE)
        await pilot.press("v")
        await settle(app, pilot)
        assert fields(app)["Name"] == "Fresh Name"
        await pilot.press("e")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, RecordForm)
        assert form.record is not None
        assert form.record.name == "Fresh Name"


async def test_v_on_the_audit_log_shows_a_deleted_record_and_its_history(demo: Database) -> None:
    doomed = demo.products.get(4)
    demo.products.delete(4, expected_version=doomed.version, actor=COLLEAGUE)
    app = console(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("3", "v")  # the newest entry: the delete
        await settle(app, pilot)
        view = shown_view(app)
        assert "This product is no longer in the database." in screen_text(app)
        assert not view.query(".record--fields")
        lines = history(app)
        assert "delete" in lines[0]
        assert f"sku: {doomed.sku} → -" in lines
        assert "Edit (e)" not in screen_text(app)


async def test_help_in_the_view_lists_its_keys(demo: Database) -> None:
    app = console(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("v")
        await settle(app, pilot)
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        keys = {description: key for key, description in app.screen.keys}
        assert keys["Close"] == "esc, q"
        assert keys["Edit"] == "e"
        assert keys["Scroll down"] == "↓, j"
        assert keys["Page down"] == "pgdn"
        assert "Scroll Left" not in keys


async def test_help_on_a_table_lists_v(demo: Database) -> None:
    app = console(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for screen in ("1", "2", "3"):
            await pilot.press(screen, "question_mark")
            await settle(app, pilot)
            assert isinstance(app.screen, HelpScreen)
            assert ("v", "View record") in app.screen.keys
            await pilot.press("escape")
            await settle(app, pilot)


# The data the view reads, on every backend


def test_read_sheet_names_the_owner_and_reads_the_history(db: Database, actor: Actor) -> None:
    ana = db.users.create({"name": "Ana Lima", "email": "ana@example.com"}, actor=actor)
    kettle = db.products.create(
        {"sku": "KET-1", "name": "Kettle", "price": "19.99", "owner": ana.id}, actor=actor
    )
    db.products.update(kettle.id, {"stock": 4}, expected_version=kettle.version, actor=actor)
    sheet = read_sheet(db, view_named("products"), kettle.id)
    assert sheet.record is not None
    assert sheet.record.stock == 4
    assert sheet.named == {"owner": "Ana Lima"}
    assert [entry.action for entry in sheet.history] == ["update", "create"]
    assert not sheet.more
    db.products.delete(kettle.id, expected_version=kettle.version + 1, actor=actor)
    gone = read_sheet(db, view_named("products"), kettle.id)
    assert gone.record is None
    assert [entry.action for entry in gone.history] == ["delete", "update", "create"]


# The status line


# Ids name the case, not a backend: CI counts the tests whose id names one.
@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        pytest.param("sqlite:///accessguard.db", 40, "sqlite:///accessguard.db", id="fits"),
        pytest.param(
            "postgresql://admin@db.example.internal:5432/accessguard",
            42,
            "postgresql://admin@db.example…/accessguard",
            id="server",
        ),
        pytest.param(
            "postgresql://admin:***@db.example.internal/accessguard?sslmode=require",
            40,
            "postgresql://admin:***@db…/accessguard?…",
            id="query-gives-way",
        ),
        pytest.param(
            "sqlite:////srv/data/a/very/long/path/to/the/accessguard.db",
            30,
            "sqlite:////srv…/accessguard.db",
            id="file",
        ),
        pytest.param(
            "mysql://h/a-database-name-longer-than-room", 12, "…r-than-room", id="name-only"
        ),
    ],
)
def test_shorten_middle_keeps_the_database_name(text: str, width: int, expected: str) -> None:
    shortened = shorten_middle(text, width)
    assert shortened == expected
    assert len(shortened) <= width


async def test_the_top_line_keeps_the_database_name_at_80_columns(demo: Database) -> None:
    url = "postgresql://admin:s3cret@db.example.internal.corp:5432/accessguard"
    long_named = Database(demo.engine, url=make_url(url))
    app = console(long_named)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        line = str(app.screen.query_one("#status-line").render())
        assert len(line) <= 80
        assert line.rstrip().endswith("…/accessguard")
        assert "postgresql://admin" in line
        assert "s3cret" not in line
        assert table_lines(app)  # the console works as ever
        assert list(demo.users.stream(PageRequest(limit=1)))


async def test_a_change_noticed_elsewhere_is_read_into_the_open_view(demo: Database) -> None:
    # The changes are handed to the view here; a live watcher would notice the update too,
    # at its own moment, and read it in before the first check (CI saw it under load).
    app = console(demo, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        seen = current(app)
        await pilot.press("v")
        await settle(app, pilot)
        role = "admin" if seen.role != "admin" else "viewer"
        demo.users.update(seen.id, {"role": role}, expected_version=1, actor=COLLEAGUE)
        other = Change(1, "product", seen.id, "update", "bob", "cli", FIXED_TIME, ("stock",))
        mine = Change(2, "user", seen.id, "update", "bob", "cli", FIXED_TIME, ("role",))
        shown_view(app).post_message(AccessGuardApp.RecordsChanged((other,)))
        await settle(app, pilot)
        assert fields(app)["Role"] == seen.role  # another record's change: nothing to read
        shown_view(app).post_message(AccessGuardApp.RecordsChanged((mine,)))
        await settle(app, pilot)
        assert fields(app)["Role"] == role
        assert "role" in history(app)[1]
