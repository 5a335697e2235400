"""The console's first page read with ``sqlite3`` (`data.first_page`) is the data core's.

Rows are written as another tool would (the standard library's ``sqlite3``, CHECKs off):
for each, the first page is either equal, record for record and value for value (type and
repr too: ``19.9`` is not ``19.90``), to what the data core's paging returns, or None, and
then the console waits for the data core exactly as before. Wrong databases give None
without creating or changing anything; hostile file names open the file they name.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import event
from textual import events
from textual.message import Message

from data.config import normalise_url
from data.database import Database
from data.entities import registered
from data.errors import Unavailable
from data.first_page import read_first_page, sqlite_file
from data.records import Page, PageRequest
from tests.console_support import CONSOLE_ACTOR, demo_database, settle, table, table_lines
from tests.migrated import copy_sqlite_at_head
from tui.app import AccessGuardApp, DatabaseOpener
from tui.cli.console import FirstPageAhead
from tui.cli.database import open_database
from tui.malformed import MARK
from tui.screens.form import RecordForm
from tui.screens.records import RecordScreen
from tui.screens.table_screen import StatusLine
from tui.views import opening_view
from tui.widgets.record_table import RecordTable

AT = "'2026-01-02 03:04:05.000000'"
LIMIT = 100
REQUEST = PageRequest(sort="id", limit=LIMIT)
FIRST_SCREEN = opening_view().key


def url_of(path: Path) -> str:
    """The URL an admin would write for ``path``: ``?`` as %3F and ``%`` as %25."""
    return "sqlite:///" + quote(str(path), safe="/")


def write(path: Path, *statements: str) -> None:
    """Run ``statements`` on ``path`` as another tool would: no CHECKs, no validation."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA ignore_check_constraints = ON")
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.close()


def user(number: int, *, name: str = "", email: str = "", **columns: str) -> str:
    values = {
        "id": str(number),
        "name": name or f"'User {number}'",
        "email": email or f"'user{number}@example.com'",
        "role": "'viewer'",
        "is_active": "1",
        "password_hash": "NULL",
        "created_at": AT,
        "updated_at": AT,
        "version": "1",
        **columns,
    }
    return f"INSERT INTO users ({', '.join(values)}) VALUES ({', '.join(values.values())})"


def product(number: int, **columns: str) -> str:
    values = {
        "id": str(number),
        "sku": f"'SKU-{number}'",
        "name": f"'Product {number}'",
        "description": "''",
        "price": f"{number}.5",
        "stock": str(number),
        "is_active": "1",
        "owner_id": "NULL",
        "created_at": AT,
        "updated_at": AT,
        "version": "1",
        **columns,
    }
    return f"INSERT INTO products ({', '.join(values)}) VALUES ({', '.join(values.values())})"


@pytest.fixture
def demo_file(tmp_path: Path) -> Path:
    """A SQLite file of demo data, closed: what a console is started on."""
    path = tmp_path / "console.db"
    demo_database(path).dispose()
    return path


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A SQLite database at head, holding no rows."""
    path = tmp_path / "first.db"
    copy_sqlite_at_head(path)
    return path


def core_page(path: Path, plural: str, url: str | None = None) -> Page[Any]:
    """The data core's first page, as the console reads it once the database is open."""
    db = Database.connect(normalise_url(url or url_of(path)), read_only=True)
    try:
        return db.table(plural).page(REQUEST)
    finally:
        db.dispose()


def exactly(page: Page[Any]) -> list[Any]:
    """Every value of every record with its type and repr: equal pages, equal lists."""
    return [
        [(f.name, type(getattr(r, f.name)), repr(getattr(r, f.name))) for f in fields(r)]
        for r in page.records
    ]


def assert_same(path: Path, plural: str, url: str | None = None) -> Page[Any]:
    """The first page is read, and is the data core's."""
    preview = read_first_page(url or url_of(path), plural, REQUEST)
    core = core_page(path, plural, url)
    assert preview is not None
    assert preview == core
    assert exactly(preview) == exactly(core)
    assert [type(r) for r in preview.records] == [type(r) for r in core.records]
    return preview


def assert_gives_up(path: Path, plural: str) -> None:
    """No first page (the console waits for the data core), and the data core reads it."""
    assert read_first_page(url_of(path), plural, REQUEST) is None
    core_page(path, plural)  # the data core still lists the table


def test_the_opening_screen_is_an_entity_this_reads() -> None:
    assert opening_view().key in {declared.plural for declared in registered()}


@pytest.mark.parametrize("plural", [declared.plural for declared in registered()])
def test_empty_and_full_pages_are_the_data_cores(database: Path, plural: str) -> None:
    assert_same(database, plural)
    write(database, *(user(n) for n in range(1, 131)), *(product(n) for n in range(1, 131)))
    page = assert_same(database, plural)
    assert len(page.records) == LIMIT
    assert page.has_next


def test_users_stored_by_another_tool_read_alike(database: Path) -> None:
    """Edge values the data core accepts as they are: the first page shows them too."""
    write(
        database,
        user(1, name="'x' || char(27) || '[31mred' || char(7) || char(13) || char(10)"),
        user(2, name="'[bold]markup[/] ' || printf('%.*c', 5000, 'y')"),
        user(3, email="'Mixed.Case+tag@Example.COM'"),
        user(4, email="'o''brien@example.co.uk'", password_hash="'$argon2id$v=19$x'"),
        user(5, role="'admin'", is_active="0", password_hash="''"),
        user(6, name="'  Zoë 名前 \u200b '", email="'zoe@xn--caf-dma.example'"),
    )
    page = assert_same(database, "users")
    assert page.records[3].has_password is True
    assert page.records[4].has_password is True  # set, if to nothing


def test_products_stored_by_another_tool_read_alike(database: Path) -> None:
    write(
        database,
        user(1),
        product(1, price="19.9", owner_id="1"),
        product(2, price="0", stock="0", description="x'ff00'"),  # bytes, left as stored
        product(3, price="9999999999.99", stock="2147483647"),
        product(4, price="0.005", description="'line\nbreak' || char(27)"),
        product(5, price="12", owner_id="99"),  # an owner since deleted: no key
        product(6, price="1e-9", description="42"),
    )
    page = assert_same(database, "products")
    assert [r.owner_email for r in page.records[:1]] == ["user1@example.com"]


@pytest.mark.parametrize(
    ("plural", "row"),
    [
        ("users", user(1, name="'   '")),
        ("users", user(1, name="x'ff'")),
        ("users", user(1, name="CAST(42 AS BLOB)")),
        ("users", user(1, email="'not-an-email'")),
        ("users", user(1, email="x'61406578616d706c652e636f6d'")),  # bytes: a@example.com
        ("users", user(1, email="'a@localhost'")),
        ("users", user(1, role="'boss'")),
        ("users", user(1, role="'Admin'")),
        ("users", user(1, is_active="7")),
        ("users", user(1, is_active="'yes'")),
        ("users", user(1, created_at="'2026-01-02 03:04:05'")),  # another tool's format
        ("users", user(1, updated_at="'2026-01-02T03:04:05.000000'")),
        ("users", user(1, updated_at="'garbage'")),
        ("users", user(1, created_at="1767323045")),
        ("products", product(1, price="'abc'")),
        ("products", product(1, price="-5")),
        ("products", product(1, price="1e300")),
        ("products", product(1, stock="'x'")),
        ("products", product(1, stock="3000000000")),
        ("products", product(1, stock="1.5")),
        ("products", product(1, sku="''")),
    ],
)
def test_a_value_the_data_core_marks_makes_it_give_up(
    database: Path, plural: str, row: str
) -> None:
    write(database, user(2), product(2), row)
    assert_gives_up(database, plural)


def test_text_that_is_not_utf8_gives_up(database: Path) -> None:
    """The data core cannot read the page either (it says so); the first page leaves it to it."""
    write(database, user(1, name="CAST(x'ff' AS TEXT)"))
    assert read_first_page(url_of(database), "users", REQUEST) is None
    with pytest.raises(Unavailable, match="UTF-8"):
        core_page(database, "users")


@pytest.mark.parametrize(
    "name", ["a?b.db", "x#y.db", "100%.db", "with space.db", "naïve Ünïcødé.db", "%3F.db"]
)
def test_hostile_file_names_open_the_file_they_name(tmp_path: Path, name: str) -> None:
    """Each file is told apart from its decoys (the name cut at ``?`` or ``#``, or its
    escapes decoded twice) by rows of its own."""
    for number, decoy in enumerate(["a", "x", "100", "?.db", name], start=1):
        copy_sqlite_at_head(tmp_path / decoy)
        write(tmp_path / decoy, *(user(n) for n in range(1, number + 1)))
    target = tmp_path / name
    page = assert_same(target, "users")
    assert len(page.records) == 5
    # Written as an admin may write it: only ? and % escaped.
    loose = "sqlite:///" + str(target).replace("%", "%25").replace("?", "%3F")
    assert sqlite_file(loose) == target
    assert_same(target, "users", loose)


def test_wrong_databases_give_up_and_create_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    assert read_first_page(url_of(missing), "users", REQUEST) is None
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 200)
    assert read_first_page(url_of(text), "users", REQUEST) is None
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a SQLite file with no tables
    assert read_first_page(url_of(empty), "users", REQUEST) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db", "notes.txt"]
    assert text.read_text() == "not a database\n" * 200


@pytest.mark.parametrize("stamp", ["'0001_seeds'", "'9999_from_the_future'", "''"])
def test_a_schema_not_at_head_gives_up(database: Path, stamp: str) -> None:
    write(database, user(1), f"UPDATE alembic_version SET version_num = {stamp}")
    assert read_first_page(url_of(database), "users", REQUEST) is None


def test_two_version_rows_give_up(database: Path) -> None:
    write(database, user(1), "INSERT INTO alembic_version VALUES ('0001_seeds')")
    assert read_first_page(url_of(database), "users", REQUEST) is None


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///{path}?timeout=3",
        "sqlite+pysqlite:///{path}?mode=ro",
        "sqlite://user@/{path}",
        "sqlite:///:memory:",
        "sqlite://",
        "postgresql://localhost/accessguard",
        "mysql://root@localhost/accessguard",
    ],
)
def test_other_urls_wait_for_the_data_core(database: Path, url: str) -> None:
    write(database, user(1))
    assert read_first_page(url.format(path=database), "users", REQUEST) is None


@pytest.mark.parametrize(
    "request_",
    [
        PageRequest(sort="name", limit=LIMIT),
        PageRequest(sort="id", descending=True, limit=LIMIT),
        PageRequest(sort="id", search="user", limit=LIMIT),
        PageRequest(sort="id", filters=(("id", 1),), limit=LIMIT),
        PageRequest(sort="id", from_end=True, limit=LIMIT),
        PageRequest(sort="id", limit=0),
        PageRequest(sort="id", limit=1_001),  # the data core reads 1,000
    ],
)
def test_only_the_first_page_by_id(database: Path, request_: PageRequest) -> None:
    write(database, user(1))
    assert read_first_page(url_of(database), "users", request_) is None


def test_it_reads_while_a_colleague_writes_and_never_blocks_them(database: Path) -> None:
    """WAL: a colleague's open write transaction neither stops the read nor is stopped."""
    write(database, "PRAGMA journal_mode = WAL", user(1))
    colleague = sqlite3.connect(database, isolation_level=None, timeout=0)
    try:
        colleague.execute("BEGIN IMMEDIATE")
        colleague.execute(user(2))
        page = read_first_page(url_of(database), "users", REQUEST)
        assert page is not None
        assert [r.id for r in page.records] == [1]
        colleague.execute("COMMIT")  # not blocked: the reader has let go
    finally:
        colleague.close()


def test_a_locked_rollback_journal_database_gives_up_at_once(database: Path) -> None:
    """Rollback journal: a colleague committing holds the file; the first page does not wait."""
    write(database, "PRAGMA journal_mode = DELETE", user(1))
    colleague = sqlite3.connect(database, isolation_level=None, timeout=0)
    try:
        colleague.execute("BEGIN EXCLUSIVE")
        assert read_first_page(url_of(database), "users", REQUEST) is None
    finally:
        colleague.close()


# In the console: the same table shows the first page, then the data core's


@asynccontextmanager
async def _early_console(
    path: Path,
    *,
    read_ahead: bool = False,
    watch: Callable[[AccessGuardApp, Message], None] | None = None,
    listen: list[str] | None = None,
) -> AsyncIterator[tuple[AccessGuardApp, Any, threading.Event]]:
    """The console over ``path`` as `tui.cli.console` builds it, running at 80x24, its data
    core held back until the yielded event is set (set on leaving, whatever happened).

    Its first page is read once its first frame is drawn; with ``read_ahead``, by the
    command line's `FirstPageAhead`, done before the console starts. ``watch`` sees every
    message the console handles, from its start. ``listen`` collects the statements that
    read a page of users, from the moment the data core opens.
    """
    go_ahead = threading.Event()
    url = url_of(path)

    def open_when_told(_progress: Any) -> Database:
        go_ahead.wait(timeout=30)
        db = open_database(url, read_only=False)
        if listen is not None:
            event.listen(db.engine, "before_cursor_execute", partial(_note_page_read, listen))
        return db

    def read(plural: str, request: PageRequest) -> Page[Any] | None:
        return read_first_page(url, plural, request)

    opener = DatabaseOpener(where="the test's file", open=open_when_told, first_page=read)
    if read_ahead:
        ahead = FirstPageAhead(url, page_size=None)
        ahead.read(FIRST_SCREEN, PageRequest())  # waits for the thread: done before the start
        opener = opener._replace(first_page=ahead.read, first_page_ready=ahead.ready)
    app = AccessGuardApp(opener, actor=CONSOLE_ACTOR)
    try:
        hook = None if watch is None else partial(watch, app)
        async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
            yield app, pilot, go_ahead
    finally:
        go_ahead.set()
    app.db.dispose()


async def _first_rows(app: AccessGuardApp, pilot: Any) -> None:
    """Wait (without sleeping) until the table shows rows or has given up waiting for them."""
    for _ in range(500):
        await pilot.pause()
        if table(app).loaded_once or app.is_open:
            return
    raise AssertionError("no rows came")


async def test_the_console_shows_the_first_page_before_its_data_core_opens(demo_file: Path) -> None:
    async with _early_console(demo_file) as (app, pilot, go_ahead):
        await _first_rows(app, pilot)
        assert not app.is_open
        before = table_lines(app)
        assert before[1].split()[0] == "1"
        assert "Opening the test's file" in str(app.screen.query_one(StatusLine).render())
        # The cursor moves at once; a key that needs the database waits for it.
        await pilot.press("j", "j", "e")
        await pilot.pause()
        assert isinstance(app.screen, RecordScreen)
        assert table(app).cursor_row == 2
        assert [n.message for n in app._notifications] == []
        moved = table_lines(app)

        go_ahead.set()
        await settle(app, pilot)
        assert app.is_open
        # e, pressed on the third user before the database was open, edits that user.
        assert isinstance(app.screen, RecordForm)
        assert app.screen.record is not None
        assert app.screen.record.id == 3
        await pilot.press("escape")
        await settle(app, pilot)
        # The data core's page replaced the first one: nothing moved or changed.
        assert table_lines(app) == moved
        assert table(app).cursor_row == 2
        assert not table(app).previewed


async def test_a_first_page_read_ahead_is_in_the_first_frame(demo_file: Path) -> None:
    # Textual tells the app it is Ready once its first frame is drawn: what the table
    # showed then was in that frame.
    at_ready: list[tuple[bool, bool]] = []

    def note_ready(app: AccessGuardApp, message: Message) -> None:
        if isinstance(message, events.Ready):
            tables = app.screen.query(RecordTable)
            shown = bool(tables) and tables.first().cursor_record is not None
            at_ready.append((shown, app.is_open))

    async with _early_console(demo_file, read_ahead=True, watch=note_ready) as (
        app,
        pilot,
        go_ahead,
    ):
        await _first_rows(app, pilot)
        assert at_ready == [(True, False)]  # rows, and the database still opening
        assert table_lines(app)[1].split()[0] == "1"
        shown = table_lines(app)
        go_ahead.set()
        await settle(app, pilot)
        assert app.is_open
        assert not table(app).previewed  # the data core's own page replaced it, equal
        assert table_lines(app) == shown


async def test_the_data_core_reads_the_first_page_once_and_again_on_coming_back(
    demo_file: Path,
) -> None:
    # The screen's arrival is not a return from another screen: no second read at start.
    reads: list[str] = []
    async with _early_console(demo_file, read_ahead=True, listen=reads) as (app, pilot, go_ahead):
        await _first_rows(app, pilot)
        go_ahead.set()
        await settle(app, pilot)
        assert len(reads) == 1
        await pilot.press("2")
        await settle(app, pilot)
        await pilot.press("1")  # back from Products: the data may have changed meanwhile
        await settle(app, pilot)
        assert len(reads) == 2


def _note_page_read(reads: list[str], *args: Any) -> None:
    """A ``before_cursor_execute`` listener: note each statement reading a page of users."""
    statement = args[2]
    if "FROM users" in statement and "count(" not in statement:
        reads.append(statement)


def test_a_page_other_than_the_one_read_ahead_is_read_when_asked(demo_file: Path) -> None:
    ahead = FirstPageAhead(url_of(demo_file), page_size=5)
    asked = PageRequest(limit=5)
    read = ahead.read(FIRST_SCREEN, asked)
    assert read is not None
    assert [record.id for record in read.records] == [1, 2, 3, 4, 5]
    assert ahead.ready(FIRST_SCREEN, asked) == read
    # Another size or screen is not ready at once, and is read when asked for.
    assert ahead.ready(FIRST_SCREEN, PageRequest(limit=6)) is None
    assert ahead.ready("products", asked) is None
    other = ahead.read("products", PageRequest(limit=6))
    assert other is not None
    assert len(other.records) == 6
    assert type(other.records[0]).__name__ != type(read.records[0]).__name__


def test_a_server_url_is_read_ahead_as_nothing() -> None:
    ahead = FirstPageAhead("postgresql://admin@db.invalid/shop", page_size=None)
    assert ahead.read(FIRST_SCREEN, PageRequest()) is None
    assert ahead.ready(FIRST_SCREEN, PageRequest()) is None


async def test_keys_pressed_on_the_first_page_wait_for_the_screen_they_were_pressed_on(
    demo_file: Path,
) -> None:
    async with _early_console(demo_file) as (app, pilot, go_ahead):
        await _first_rows(app, pilot)
        await pilot.press("enter", "2")  # Enter on user 1, then off to Products
        await pilot.pause()
        go_ahead.set()
        await settle(app, pilot)
        assert isinstance(app.screen, RecordScreen)
        assert app.screen.view.key == "products"  # no form: it was for the Users screen


async def test_a_page_it_gives_up_on_waits_for_the_data_core(demo_file: Path) -> None:
    write(
        demo_file,
        "PRAGMA ignore_check_constraints = ON",
        "UPDATE users SET role = 'boss' WHERE id = 2",
    )
    async with _early_console(demo_file) as (app, pilot, go_ahead):
        for _ in range(50):
            await pilot.pause()
        assert not table(app).loaded_once  # no rows until the data core has them
        go_ahead.set()
        await settle(app, pilot)
        assert getattr(table(app).cursor_record, "id", None) == 1
        assert MARK + "boss" in table_lines(app)[2]
