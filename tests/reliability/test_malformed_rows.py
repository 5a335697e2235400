"""Rows another tool broke (issue 11, item 10) and ids and digits out of range (item 13).

Every malformed row is written by the database's own client (sqlite3, psql, mariadb) with
what that backend lets through: on SQLite text in a NUMERIC price, garbage in a DATETIME,
a flag that is neither 0 nor 1, and (CHECKs bypassed) a role outside the list, a negative
price, an out-of-range stock; on every backend an address that is no address and an empty
name or SKU. The table still lists, pages, sorts, exports, opens, fixes and deletes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL
from textual.widgets import Input, Select, Static

from data.actor import Actor
from data.database import Database
from data.errors import Invalid, NotFound, NotRestorable
from data.records import PageRequest
from data.specs import SPECS
from models import Malformed
from tests.cli_support import Ran, in_process
from tests.conftest import BACKENDS
from tests.console_support import console, current, settle, table_lines
from tests.reliability.support_input import (
    Terminal,
    cli_url,
    fresh_database,
    migrated,
    run_cli,
    run_client,
    sequences_past,
    stored,
)
from tui.malformed import MARK
from tui.screens.dialogs import ConfirmDialog
from tui.screens.form import RecordForm

ACTOR = Actor("alice", source="test-rows")
AT = "'2026-01-02 03:04:05'"
SIZE = (120, 40)


@dataclass(frozen=True)
class Shape:
    """One malformed value: which row and field, the SQL literal stored, the text shown."""

    table: str
    id: int
    field: str
    sql: str
    raw: str
    column: str = ""  # the SQL column, when not the field

    @property
    def entity(self) -> str:
        return "user" if self.table == "users" else "product"


EVERY_BACKEND = (
    Shape("users", 2, "email", "'not-an-email'", "not-an-email"),
    Shape("users", 3, "name", "''", ""),
    Shape("products", 2, "sku", "' '", " "),
)
SQLITE_ONLY = (
    Shape("products", 3, "price", "'abc'", "abc"),
    Shape("products", 4, "created_at", "'garbage'", "garbage"),
    Shape("products", 5, "stock", "'x'", "x"),
    Shape("products", 6, "stock", "3000000000", "3000000000"),
    Shape("products", 7, "price", "-5", "-5.00"),
    Shape("products", 8, "is_active", "'maybe'", "maybe"),
    Shape("users", 4, "role", "'boss'", "boss"),
    Shape("users", 5, "is_active", "7", "7"),
)
USERS, PRODUCTS = 6, 9  # rows of each, the malformed ones among them


def shapes(backend: str) -> tuple[Shape, ...]:
    """The malformed values ``backend`` lets another tool store."""
    return EVERY_BACKEND + (SQLITE_ONLY if backend == "sqlite" else ())


def store_rows(db: Database) -> None:
    """Valid users and products, then each malformed value written over one of them, all
    with the backend's own client."""
    backend = db.engine.dialect.name
    yes = "TRUE" if backend == "postgresql" else "1"
    statements = []
    if backend == "sqlite":  # what another tool's connection may do: no CHECKs
        statements.append("PRAGMA ignore_check_constraints = ON")
    for number in range(1, USERS + 1):
        statements.append(
            "INSERT INTO users (id, name, email, role, is_active, created_at, updated_at,"
            f" version) VALUES ({number}, 'User {number}', 'user{number}@example.com',"
            f" 'viewer', {yes}, {AT}, {AT}, 1)"
        )
    for number in range(1, PRODUCTS + 1):
        statements.append(
            "INSERT INTO products (id, sku, name, description, price, stock, is_active,"
            f" owner_id, created_at, updated_at, version) VALUES ({number}, 'SKU-{number}',"
            f" 'Product {number}', '', {number}.50, {number}, {yes}, NULL, {AT}, {AT}, 1)"
        )
    for shape in shapes(backend):
        statements.append(
            f"UPDATE {shape.table} SET {shape.column or shape.field} = {shape.sql}"
            f" WHERE id = {shape.id}"
        )
    run_client(db, statements + sequences_past(db, 100))


@pytest.fixture(params=BACKENDS)
def broken(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A database on each backend holding the malformed rows, stored by its client."""
    with fresh_database(request.param, tmp_path_factory.mktemp("rows"), prefix="ag_rows") as db:
        store_rows(db)
        yield db


def url_of(db: Database) -> str:
    return cli_url(db.engine.url)


def cli(db: Database, *args: str) -> Ran:
    """The command line on ``db``, run in this process: what it writes is the question."""
    return in_process("--db", url_of(db), *args)


def malformed_ids(backend: str, table: str) -> set[int]:
    return {shape.id for shape in shapes(backend) if shape.table == table}


# Reading: every value as stored, marked; nothing else blocked


def test_records_mark_each_malformed_value_and_keep_the_rest(broken: Database) -> None:
    backend = broken.engine.dialect.name
    for shape in shapes(backend):
        record = broken.table(shape.table).get(shape.id)
        value = getattr(record, shape.field)
        assert isinstance(value, Malformed), shape
        assert value.raw == shape.raw, shape
        assert value.reason, shape
        others = {
            name: field
            for name, field in vars(record).items()
            if name != shape.field and isinstance(field, Malformed)
        }
        assert others == {}, shape
    # The good rows read as before.
    good = broken.products.get(1)
    assert (str(good.price), good.stock, good.is_active) == ("1.50", 1, True)


@pytest.mark.parametrize("table", ["users", "products"])
def test_paging_walks_past_malformed_sort_keys_both_ways(broken: Database, table: str) -> None:
    records = broken.table(table)
    everything = {record.id for record in records.stream(PageRequest())}
    assert len(everything) == (USERS if table == "users" else PRODUCTS)
    for sort in SPECS[table[:-1]].sort_columns:
        for descending in (False, True):
            whole = [
                r.id for r in records.page(PageRequest(sort=sort, descending=descending)).records
            ]
            assert sorted(whole) == sorted(everything), (sort, descending)
            forward: list[int] = []
            request = PageRequest(sort=sort, descending=descending, limit=2)
            while True:
                page = records.page(request)
                forward += [record.id for record in page.records]
                if not page.has_next:
                    break
                request = replace(request, after=page.next)
            assert forward == whole, (sort, descending)
            backward: list[int] = []
            request = PageRequest(sort=sort, descending=descending, limit=2, from_end=True)
            while True:
                page = records.page(request)
                backward = [record.id for record in page.records] + backward
                if not page.has_prev:
                    break
                request = replace(request, before=page.prev, from_end=False)
            assert backward == whole, (sort, descending)


def test_the_command_line_lists_and_exports_them_with_a_warning_count(
    broken: Database, tmp_path: Path
) -> None:
    backend = broken.engine.dialect.name
    for table, total in (("users", USERS), ("products", PRODUCTS)):
        bad = malformed_ids(backend, table)
        listed = cli(broken, table, "list")
        assert listed.status == 0, listed.err
        rows = listed.out.splitlines()[2:]
        assert len(rows) == total
        marked = {int(row.split()[0]) for row in rows if MARK in row}
        shown = {
            shape.id
            for shape in shapes(backend)
            if shape.table == table and shape.field != "created_at"
        }
        assert marked == shown, listed.out
        entity = table[:-1]
        counted = f"{len(bad)} {entity if len(bad) == 1 else table} hold"
        assert counted in listed.err, listed.err
        for shape in shapes(backend):
            if shape.table == table and shape.field != "created_at" and shape.raw.strip():
                line = next(row for row in rows if row.split()[0] == str(shape.id))
                assert f"{MARK}{shape.raw}" in line, line

        for shape in shapes(backend):
            if shape.table == table and shape.field not in ("created_at", "is_active"):
                whole = cli(broken, table, "show", str(shape.id))
                assert whole.status == 0, whole.err
                line = next(
                    line for line in whole.out.splitlines() if line.startswith(f"{shape.field}: ")
                )
                assert f": {MARK}{shape.raw}  (stored past validation: " in line, line

        exported = cli(broken, "export", table, "--format", "csv")
        assert exported.status == 0, exported.err
        assert f"exported {total} {table}" in exported.err
        assert counted in exported.err
        cells = {int(row["id"]): row for row in csv.DictReader(io.StringIO(exported.out))}
        assert len(cells) == total
        path = tmp_path / f"{table}.json"
        to_file = cli(broken, "export", table, "-o", str(path))
        assert to_file.status == 0, to_file.err
        assert counted in to_file.err
        objects = {item["id"]: item for item in json.loads(path.read_text(encoding="utf-8"))}
        for shape in shapes(backend):
            if shape.table != table:
                continue
            column = "is_active" if shape.field == "is_active" else shape.field
            # A cell a spreadsheet would run as a formula keeps its defusing apostrophe.
            defused = "'" + shape.raw if shape.raw.startswith("-") else shape.raw
            assert cells[shape.id][column] == defused, shape
            assert objects[shape.id][column] == shape.raw, shape


# The console: listed with the mark, opened, fixed, saved; another deleted


def shown_error(form: RecordForm, field: str) -> str:
    label = form.query_one(f"#error-{field}", Static)
    return str(label.render()) if label.has_class("-shown") else ""


async def move_to(app: Any, pilot: Any, record_id: int) -> None:
    """Move down the table until the cursor is on record ``record_id``."""
    while current(app).id != record_id:
        await pilot.press("j")
        await settle(app, pilot)


async def edit(app: Any, pilot: Any, record_id: int) -> RecordForm:
    """Open record ``record_id``'s form with ``e``."""
    await move_to(app, pilot, record_id)
    await pilot.press("e")
    await settle(app, pilot)
    form = app.screen
    assert isinstance(form, RecordForm)
    return form


async def refused_then_fixed(app: Any, pilot: Any, form: RecordForm, field: str, value: str) -> str:
    """Save (refused: the reason beside ``field`` is returned), then give ``field`` a valid
    ``value`` and save again, which closes the form."""
    await pilot.press("ctrl+s")
    await settle(app, pilot)
    assert form.is_current  # refused: still open
    refusal = shown_error(form, field)
    editor = form.query_one(f"#field-{field}")
    assert isinstance(editor, (Input, Select))
    editor.value = value
    await pilot.press("ctrl+s")
    await settle(app, pilot)
    assert not form.is_current
    return refusal


async def delete(app: Any, pilot: Any, record_id: int) -> None:
    """Delete record ``record_id`` from its table: ``d``, then ``y``."""
    await move_to(app, pilot, record_id)
    await pilot.press("d")
    await settle(app, pilot)
    assert isinstance(app.screen, ConfirmDialog)
    await pilot.press("y")
    await settle(app, pilot)


async def test_the_console_lists_opens_fixes_and_deletes_them(broken: Database) -> None:
    backend = broken.engine.dialect.name
    app = console(broken)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        lines = "\n".join(table_lines(app))
        assert f"{MARK}not-an-email" in lines
        # The user with the bad address: the form opens, names the field, refuses to save
        # a new name alone, and saves both once the address is valid.
        form = await edit(app, pilot, 2)
        assert form.query_one("#field-email", Input).value == "not-an-email"
        assert "Email" in shown_error(form, "email")
        form.query_one("#field-name", Input).value = "Renamed"
        refusal = await refused_then_fixed(app, pilot, form, "email", "fixed@example.com")
        assert refusal.startswith("Email: holds 'not-an-email'")
        assert stored(broken, "SELECT email FROM users WHERE id = 2") == ["fixed@example.com"]
        assert stored(broken, "SELECT name FROM users WHERE id = 2") == ["Renamed"]
        # The user with the empty name is deleted as it is.
        await delete(app, pilot, 3)
        assert stored(broken, "SELECT count(*) FROM users WHERE id = 3") == [0]
        if backend == "sqlite":
            await products_fixed_and_deleted(app, pilot, broken)


async def products_fixed_and_deleted(app: Any, pilot: Any, db: Database) -> None:
    """SQLite only: a price of text fixed in the form, a role outside the list chosen anew,
    a product with text in its stock deleted."""
    await pilot.press("2")
    await settle(app, pilot)
    lines = "\n".join(table_lines(app))
    for stored_text in ("abc", "x", "maybe"):
        assert f"{MARK}{stored_text}" in lines
    form = await edit(app, pilot, 3)
    assert form.query_one("#field-price", Input).value == "abc"
    refusal = await refused_then_fixed(app, pilot, form, "price", "4.25")
    assert refusal.startswith("Price: holds 'abc', which is not a number")
    assert [str(price) for price in stored(db, "SELECT price FROM products WHERE id = 3")] in (
        ["4.25"],
        ["4.25000000000000"],
    )
    await delete(app, pilot, 5)
    assert stored(db, "SELECT count(*) FROM products WHERE id = 5") == [0]
    old = stored(
        db, "SELECT old_values FROM audit_entries WHERE action = 'delete' AND entity = 'product'"
    )
    assert json.loads(old[0])["stock"] == "x"
    # A role outside the list: nothing is chosen until the admin chooses one.
    await pilot.press("1")
    await settle(app, pilot)
    form = await edit(app, pilot, 4)
    refusal = await refused_then_fixed(app, pilot, form, "role", "editor")
    assert refusal.startswith("Role: holds 'boss'")
    assert stored(db, "SELECT role FROM users WHERE id = 4") == ["editor"]


def test_the_console_shows_them_marked_on_a_real_terminal(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path, prefix="ag_rows") as db:
        store_rows(db)
        terminal = Terminal(url_of(db))
        try:
            terminal.wait_for(f"{MARK}not-an-email".encode())
            terminal.press(b"2", f"{MARK}abc".encode())
            terminal.press(b"jj", b"Row 3 of 9")
            terminal.press(b"e", b"Edit product 3")
            terminal.wait_for(b"holds 'abc'")  # beside the price, on opening
            terminal.press(b"\x13", b"Not saved: check Price")  # ctrl+s: refused, naming it
            terminal.press(b"\x1b", b"Quit ")
            status = terminal.quit()
        finally:
            terminal.close()
        assert status == 0


# Ids out of every backend's range: not found, never an unexpected error


OUT_OF_RANGE = ("0", "-1", str(2**31), str(2**63), str(2**63 + 1), "99999999999999999999")


def test_ids_out_of_range_are_not_found_everywhere(database_url: URL) -> None:
    with migrated(database_url) as db:
        for entity in ("users", "products"):
            for text in OUT_OF_RANGE:
                status, out, err = run_cli(
                    "--db", url_of(db), entity, "delete", "--yes", "--", text
                )
                assert (status, out) == (1, ""), (entity, text, err)
                assert f"{entity[:-1].capitalize()} {int(text)} does not exist" in err
        for text in OUT_OF_RANGE:
            number = int(text)
            with pytest.raises(NotFound):
                db.audit.get(number)
            with pytest.raises(NotFound):
                db.audit.restore_plan(number)
            with pytest.raises(NotFound):
                db.users.get(number)
            # The console's follow-the-link: the products of owner N, the user N.
            assert db.products.page(PageRequest(filters=(("owner_id", number),))).records == ()
            assert db.users.page(PageRequest(filters=(("id", number),))).records == ()
            assert db.audit.page(PageRequest(search=f"user {text.lstrip('-')}")).records == ()


def test_digits_other_than_ascii_are_refused_naming_the_argument(database_url: URL) -> None:
    with migrated(database_url) as db:
        db.users.create({"name": "Three", "email": "three@example.com"}, actor=ACTOR)
        for text in ("\u0661", "\uff11", "\u0967", "\u00b9"):
            status, _out, err = run_cli("--db", url_of(db), "users", "delete", "--yes", text)
            assert status == 2, err
            assert "argument ID:" in err
            assert "digits 0-9" in err
            status, _out, err = run_cli("--db", url_of(db), "seed", "--users", text)
            assert status == 2, err
            assert "argument --users" in err
        assert stored(db, "SELECT count(*) FROM users") == [1]
        with pytest.raises(Invalid) as refused:
            db.products.create(
                {"sku": "D-1", "name": "W", "price": "1", "owner": "\u0661"}, actor=ACTOR
            )
        assert refused.value.errors == {
            "owner": "must be written with digits 0-9, not \u0661 (U+0661)"
        }


def test_undo_writes_back_text_as_stored_but_never_an_unreadable_value(
    broken: Database,
) -> None:
    # Text of the right type (a blank SKU) comes back as it was, on every backend.
    record = broken.products.get(2)
    broken.products.delete(2, expected_version=record.version, actor=ACTOR)
    broken.audit.undo_last(actor=ACTOR)
    assert stored(broken, "SELECT sku FROM products WHERE id = 2") == [" "]
    if broken.engine.dialect.name != "sqlite":
        return  # the servers hold no value of the wrong type
    # A price of text is not written back: undoing its delete is refused, naming it.
    record = broken.products.get(3)
    broken.products.delete(3, expected_version=record.version, actor=ACTOR)
    with pytest.raises(NotRestorable) as refused:
        broken.audit.undo_last(actor=ACTOR)
    assert "The price was recorded as 'abc'" in refused.value.message
    assert stored(broken, "SELECT count(*) FROM products WHERE id = 3") == [0]
