"""Bad input (issue 5, items 15-19): every corpus entry through the data core, the command
line (in-process, and a real subprocess per backend), import (CSV and JSON) and the console.

The corpus is `corpus.json` beside this module. Every test runs on SQLite, PostgreSQL and
MariaDB, on one database per backend for the module, emptied before each test.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from rich.cells import cell_len
from sqlalchemy.engine import Engine
from textual.screen import Screen
from textual.widgets import Input, Static
from textual.widgets._toast import Toast

from data.actor import Actor
from data.config import normalise_url
from data.database import Database
from data.errors import Invalid
from data.records import PageRequest
from data.transfer import import_records
from tests import preloaded
from tests.conftest import BACKENDS
from tests.console_support import console, screen_text, settle, table_lines, wait_until
from tests.console_support import table as record_table
from tests.reliability.support_input import (
    Entry,
    accessguard,
    cli_url,
    corpus,
    empty,
    fix_sequences,
    fresh_database,
    migrated,
    raw_product,
    raw_user,
    run_cli,
    statements,
    stored,
)
from tui.app import AccessGuardApp
from tui.screens.dialogs import ConfirmDialog, ConflictDialog
from tui.screens.form import RecordForm
from tui.text import hidden_characters

ACTOR = Actor("alice", source="test-input")
COLLEAGUE = Actor("bob", source="test-input-2")
SIZE = (120, 40)
CONTROL = "contains a control character ({}); only printable text is allowed"
MARKUP = corpus("markup")
ESCAPES = corpus("escape")
UNICODE = corpus("unicode")
NUMBERS = corpus("number")
SEARCHES = corpus("search")
TEN_MB = corpus("length")[0]
MARKUP_EMAIL = "".join(entry.text for entry in MARKUP) + "@example.com"


@pytest.fixture(scope="module", params=BACKENDS)
def backend_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """One migrated database per backend, for the whole module."""
    with fresh_database(request.param, tmp_path_factory.mktemp("input"), prefix="ag_input") as db:
        yield db


@pytest.fixture
def db(backend_db: Database) -> Database:
    """The backend's database, with no records and no audit entries."""
    empty(backend_db)
    return backend_db


def url_of(db: Database) -> str:
    """The database's URL as the command line takes it."""
    return cli_url(db.engine.url)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """A CSV file as a spreadsheet would save it."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_json(path: Path, objects: list[dict[str, Any]]) -> Path:
    """A JSON array of objects (non-ASCII as \\u escapes, as many tools write it)."""
    path.write_text(json.dumps(objects), encoding="utf-8")
    return path


# 15. Markup: stored and shown literally


def test_markup_is_stored_and_listed_literally(db: Database, tmp_path: Path) -> None:
    url = url_of(db)
    for number, entry in enumerate(MARKUP):
        status, _out, err = run_cli(
            "--db", url, "users", "add", "--name", entry.text, "--email", f"cli{number}@example.com"
        )
        assert (status, err) == (0, ""), entry.id
    users = write_csv(
        tmp_path / "users.csv",
        ["name", "email"],
        [[entry.text, f"csv{number}@example.com"] for number, entry in enumerate(MARKUP)],
    )
    products = write_json(
        tmp_path / "products.json",
        [
            {"sku": f"M-{number}", "name": entry.text, "price": "1.50", "description": entry.text}
            for number, entry in enumerate(MARKUP)
        ],
    )
    assert run_cli("--db", url, "import", "users", str(users))[0] == 0
    assert run_cli("--db", url, "import", "products", str(products))[0] == 0

    for number, entry in enumerate(MARKUP):
        for email in (f"cli{number}@example.com", f"csv{number}@example.com"):
            assert stored(db, "SELECT name FROM users WHERE email = :e", e=email) == [entry.text]
        assert stored(db, "SELECT name FROM products WHERE sku = :s", s=f"M-{number}") == [
            entry.text
        ]
        assert stored(db, "SELECT description FROM products WHERE sku = :s", s=f"M-{number}") == [
            entry.text
        ]
    # A real process: the table format shows each name as typed.
    listed = preloaded.run(
        [accessguard(), "--db", url, "users", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for entry in MARKUP:
        assert listed.stdout.count(f" {entry.text} ") == 2, entry.id


ScreenT = TypeVar("ScreenT", bound=Screen[Any])


def on_top(app: AccessGuardApp, kind: type[ScreenT]) -> ScreenT:
    """The screen on top, which must be a ``kind``."""
    screen = app.screen
    assert isinstance(screen, kind), f"{screen!r} is not a {kind.__name__}"
    return screen


def shown_error(form: RecordForm, field: str) -> str | None:
    """The reason shown beside ``field``, as drawn, or None when none shows."""
    label = form.query_one(f"#error-{field}", Static)
    if not label.has_class("-shown") or not label.display:
        return None
    return str(label.render())


def toasts(app: AccessGuardApp) -> str:
    """The text of every toast on screen."""
    return "\n".join(str(toast.render()) for toast in app.screen.query(Toast))


# 16. Escapes: refused in single-line fields


SINGLE_LINE = (("users", "name"), ("users", "email"), ("products", "sku"), ("products", "name"))


def valid_values(table: str, number: int) -> dict[str, str]:
    """Values that pass, to put one bad field among."""
    if table == "users":
        return {"name": "Eve", "email": f"eve{number}@example.com"}
    return {"sku": f"E-{number}", "name": "Widget", "price": "1.00"}


def test_escapes_are_refused_naming_the_field(db: Database, tmp_path: Path) -> None:
    url = url_of(db)
    for number, entry in enumerate(ESCAPES):
        reason = CONTROL.format(entry.named)
        for table, field in SINGLE_LINE:
            values = valid_values(table, number) | {field: entry.text}
            with pytest.raises(Invalid) as refused:
                db.table(table).create(values, actor=ACTOR)
            assert refused.value.errors == {field: reason}, (entry.id, table, field)
        # Free text allows line breaks and tabs, never an escape or a lone CR.
        with pytest.raises(Invalid) as refused:
            db.products.create(
                valid_values("products", number) | {"description": entry.text}, actor=ACTOR
            )
        assert refused.value.errors["description"].startswith(
            f"contains a control character ({entry.named})"
        )
        status, out, err = run_cli(
            "--db", url, "users", "add", "--name", entry.text, "--email", f"x{number}@example.com"
        )
        assert (status, out, err) == (1, "", f"accessguard: name: {reason}\n"), entry.id

    # Import, CSV and JSON: each row refused with its line, the field and the character. A
    # NUL byte makes a CSV no text file at all: refused whole, naming where (JSON writes it
    # as \u0000, text like any other, so there it is one more refused row).
    text_only = [entry for entry in ESCAPES if "\x00" not in entry.text]
    nul = next(entry for entry in ESCAPES if "\x00" in entry.text)
    cases = (
        ("users.csv", write_csv, text_only, "line", 2),
        ("users.json", write_json_rows, ESCAPES, "object", 1),
    )
    for name, write, entries, unit, first in cases:
        rows = [[entry.text, f"row{number}@example.com"] for number, entry in enumerate(entries)]
        path = write(tmp_path / name, ["name", "email"], rows)
        status, _out, err = run_cli("--db", url, "import", "users", str(path))
        assert status == 1
        lines = err.splitlines()
        for number, entry in enumerate(entries):
            # A CR inside a CSV cell is quoted by the writer, so it stays in the cell.
            expected = f"{unit} {first + number}: name: {CONTROL.format(entry.named)}"
            assert expected in lines, (name, entry.id, err)
        assert "\x1b" not in err
        assert "\x9b" not in err
    nul_csv = write_csv(
        tmp_path / "nul.csv",
        ["name", "email"],
        [["ok", "a@example.com"], [nul.text, "b@example.com"]],
    )
    status, _out, err = run_cli("--db", url, "import", "users", str(nul_csv))
    assert (status, err) == (
        1,
        "accessguard: file: line 3: field 'name': holds a NUL byte; this is not a text file\n",
    )
    assert stored(db, "SELECT count(*) FROM users") == [0]


def write_json_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """`write_json` of ``rows`` under ``header``, shaped like `write_csv`'s arguments."""
    return write_json(path, [dict(zip(header, row, strict=True)) for row in rows])


def test_escapes_are_refused_by_a_real_command(db: Database) -> None:
    entry = next(entry for entry in ESCAPES if entry.id == "osc52-clipboard")
    done = preloaded.run(
        [
            accessguard(),
            "--db",
            url_of(db),
            "products",
            "add",
            "--sku",
            "S-1",
            "--price",
            "1",
            "--name",
            entry.text,
        ],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr == f"accessguard: name: {CONTROL.format('ESC')}\n".encode()
    assert stored(db, "SELECT count(*) FROM products") == [0]


# 17. Unicode: byte-identical round trips, aligned tables, hidden characters flagged


def test_unicode_round_trips_byte_for_byte(db: Database, tmp_path: Path) -> None:
    url = url_of(db)
    for number, entry in enumerate(UNICODE):
        db.users.create({"name": entry.text, "email": f"api{number}@example.com"}, actor=ACTOR)
        status, _out, err = run_cli(
            "--db", url, "users", "add", "--name", entry.text, "--email", f"cli{number}@example.com"
        )
        assert (status, err) == (0, ""), entry.id
        db.products.create(
            {"sku": f"U-{number}", "name": entry.text, "price": "2", "description": entry.text},
            actor=ACTOR,
        )
    rows = [[entry.text, f"csv{number}@example.com"] for number, entry in enumerate(UNICODE)]
    assert (
        run_cli(
            "--db",
            url,
            "import",
            "users",
            str(write_csv(tmp_path / "u.csv", ["name", "email"], rows)),
        )[0]
        == 0
    )
    objects = [{"name": e.text, "email": f"json{n}@example.com"} for n, e in enumerate(UNICODE)]
    assert (
        run_cli("--db", url, "import", "users", str(write_json(tmp_path / "u.json", objects)))[0]
        == 0
    )
    for number, entry in enumerate(UNICODE):
        for source in ("api", "cli", "csv", "json"):
            names = stored(
                db, "SELECT name FROM users WHERE email = :e", e=f"{source}{number}@example.com"
            )
            assert names == [entry.text], (source, entry.id)
            assert names[0].encode() == entry.text.encode()
        for column in ("name", "description"):
            assert stored(db, f"SELECT {column} FROM products WHERE sku = :s", s=f"U-{number}") == [
                entry.text
            ], (column, entry.id)
    # Export and import again: still the same bytes, nothing changed.
    exported = tmp_path / "users.json"
    assert run_cli("--db", url, "export", "users", "-o", str(exported))[0] == 0
    by_email = {row["email"]: row["name"] for row in json.loads(exported.read_text("utf-8"))}
    for number, entry in enumerate(UNICODE):
        assert by_email[f"api{number}@example.com"] == entry.text
    status, out, _err = run_cli("--db", url, "import", "users", str(exported), "--dry-run")
    assert status == 0
    assert f"{4 * len(UNICODE)} unchanged" in out


def test_hidden_characters_are_flagged() -> None:
    for entry in UNICODE:
        assert bool(hidden_characters(entry.text)) == entry.hidden, entry.id


# 18. Numbers: refused with the field named, the same words on every backend


def number_values(entry: Entry, number: int) -> dict[str, str]:
    return {"sku": f"N-{number}", "name": "Widget", "price": "1.00", entry.field: entry.text}


def test_numbers_are_refused_with_the_field_named(db: Database, tmp_path: Path) -> None:
    url = url_of(db)
    rows = []
    for number, entry in enumerate(NUMBERS):
        with pytest.raises(Invalid) as refused:
            db.products.create(number_values(entry, number), actor=ACTOR)
        assert refused.value.errors == {entry.field: entry.message}, entry.id
        values = number_values(entry, number)
        status, out, err = run_cli(
            "--db",
            url,
            "products",
            "add",
            "--sku",
            values["sku"],
            "--name",
            "Widget",
            f"--price={values['price']}",
            f"--stock={values.get('stock', '0')}",
        )
        assert (status, out, err) == (1, "", f"accessguard: {entry.field}: {entry.message}\n")
        rows.append(values)
    header = ["sku", "name", "price", "stock"]
    table = [[row["sku"], row["name"], row["price"], row.get("stock", "0")] for row in rows]
    path = write_csv(tmp_path / "products.csv", header, table)
    status, _out, err = run_cli("--db", url, "import", "products", str(path))
    assert status == 1
    for number, entry in enumerate(NUMBERS):
        assert f"line {number + 2}: {entry.field}: {entry.message}" in err.splitlines()
    # JSON numbers, not text: still refused, the field named.
    objects = [
        {"sku": "J-1", "name": "W", "price": 1e308 * 10},
        {"sku": "J-2", "name": "W", "price": 2**63},
        {"sku": "J-3", "name": "W", "price": 1, "stock": 2**63},
        {"sku": "J-4", "name": "W", "price": 1, "stock": -1},
        {"sku": "J-5", "name": "W", "price": 1, "stock": 1.5},
    ]
    text = json.dumps(objects).replace("Infinity", "1e309")
    (tmp_path / "numbers.json").write_text(text, encoding="utf-8")
    status, _out, err = run_cli("--db", url, "import", "products", str(tmp_path / "numbers.json"))
    assert status == 1
    for number, field in enumerate(("price", "price", "stock", "stock", "stock"), start=1):
        assert any(line.startswith(f"object {number}: {field}: ") for line in err.splitlines())
    assert stored(db, "SELECT count(*) FROM products") == [0]


def test_ten_megabytes_are_refused_before_any_database_call(db: Database, tmp_path: Path) -> None:
    huge = TEN_MB.text
    # The message starts the same for every field; each names its own limit.
    reason = {"name": "is too long (at most 100 characters)"}
    with statements(db.engine) as seen:
        for table, values in (
            ("users", {"name": huge, "email": "big@example.com"}),
            ("products", {"sku": "BIG", "name": huge, "price": "1"}),
        ):
            with pytest.raises(Invalid) as refused:
                db.table(table).create(values, actor=ACTOR)
            assert list(refused.value.errors) == ["name"]
            assert refused.value.errors["name"].startswith(TEN_MB.message)
        record = db.users.create({"name": "Small", "email": "small@example.com"}, actor=ACTOR)
        seen.clear()
        with pytest.raises(Invalid):
            db.users.update(record.id, {"name": huge}, expected_version=1, actor=ACTOR)
        path = write_json(tmp_path / "big.json", [{"name": huge, "email": "big@example.com"}])
        with path.open(encoding="utf-8") as source:
            report = import_records(db, "users", source, fmt="json", actor=ACTOR, dry_run=False)
        assert [row.errors for row in report.refused] == [reason]
        assert seen == []
    # The command line opens the database (checking its schema) before it parses values,
    # but the value never travels: no statement carries it, nothing is written.
    with statements(Engine) as seen:  # every engine: the CLI builds its own
        status, _out, err = run_cli(
            "--db", url_of(db), "users", "add", "--name", huge, "--email", "big@example.com"
        )
    assert (status, err) == (1, "accessguard: name: is too long (at most 100 characters)\n")
    assert not [s for s in seen if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    # A CSV cell that large is read, and refused by the field's own check, naming the line.
    big_csv = write_csv(tmp_path / "big.csv", ["name", "email"], [[huge, "big@example.com"]])
    status, _out, err = run_cli("--db", url_of(db), "import", "users", str(big_csv))
    assert status == 1
    assert "line 2: name: is too long (at most 100 characters)" in err
    assert stored(db, "SELECT count(*) FROM users") == [1]


# 19. Search: literal, bound, bounded; sort columns from the whitelist only

SEARCH_DATA = (
    ("100% cotton", "pct"),
    ("100 percent", "pc2"),
    ("snake_case", "snake"),
    ("snakeXcase", "snakex"),
    ("back\\slash", "bs"),
    ("backXslash", "bs2"),
    ("O'Brien", "obrien"),
    ('say "hi"', "quote"),
    ("asterisk*", "star"),
    ("NEAR(x)", "near"),
    ("caret^top", "caret"),
    ("a_b", "ab1"),
    ("axb", "ab2"),
    ("name:x", "colon"),
    ("[/] markup", "markup"),
    ("plain", "plain"),
)


def expected_matches(search: str) -> set[str]:
    """The emails a literal, case-insensitive search of name or email finds."""
    text = search.strip()
    prefix = text.startswith("^")
    if prefix:
        text = text[1:].lstrip()
    found = set()
    for name, local in SEARCH_DATA:
        email = f"{local}@example.com"
        for value in (name.lower(), email):
            if value.startswith(text.lower()) if prefix else text.lower() in value:
                found.add(email)
    return found


def test_search_text_is_matched_literally(db: Database) -> None:
    for name, local in SEARCH_DATA:
        db.users.create({"name": name, "email": f"{local}@example.com"}, actor=ACTOR)
    url = url_of(db)
    for entry in SEARCHES:
        if entry.expect == "refused":
            continue
        started = time.monotonic()
        page = db.users.page(PageRequest(search=entry.text, limit=100))
        count = db.users.count(entry.text)
        elapsed = time.monotonic() - started
        expected = expected_matches(entry.text)
        assert {user.email for user in page.records} == expected, entry.id
        assert count == len(expected), entry.id
        assert elapsed < 2.0, f"{entry.id}: {elapsed:.2f} s"  # a coarse bound, not a benchmark
        status, out, err = run_cli(
            "--db", url, "users", "list", "--search", entry.text, "--format", "json"
        )
        assert status == 0, err
        assert {row["email"] for row in json.loads(out)} == expected, entry.id
    # Specific cases, spelled out: only the row holding the literal character matches.
    assert expected_matches("%") == {"pct@example.com"}
    assert expected_matches("_") == {"snake@example.com", "ab1@example.com"}
    assert expected_matches("\\") == {"bs@example.com"}
    assert expected_matches("' OR 1=1--") == set()
    assert stored(db, "SELECT count(*) FROM users") == [len(SEARCH_DATA)]


def test_overlong_search_is_refused_before_any_query(db: Database) -> None:
    entry = next(entry for entry in SEARCHES if entry.expect == "refused")
    with statements(db.engine) as seen:
        for table in ("users", "products"):
            with pytest.raises(Invalid) as refused:
                db.table(table).page(PageRequest(search=entry.text))
            assert refused.value.errors == {"search": entry.message}
            with pytest.raises(Invalid):
                db.table(table).count(entry.text)
    assert seen == []
    status, _out, err = run_cli("--db", url_of(db), "users", "list", "--search", entry.text)
    assert (status, err) == (1, f"accessguard: search: {entry.message}\n")


@pytest.mark.parametrize(
    "sort", ["password_hash", "description", "name; DROP TABLE users", "owner_email", ""]
)
def test_sort_columns_come_from_the_whitelist(db: Database, sort: str) -> None:
    for table in ("users", "products"):
        with pytest.raises(Invalid) as refused:
            db.table(table).page(PageRequest(sort=sort))
        assert set(refused.value.errors) == {"sort"}
        assert f"cannot sort {table} by {sort!r}" in refused.value.errors["sort"]
    with pytest.raises(Invalid) as refused:
        db.products.page(PageRequest(filters=(("password_hash", 1),)))
    assert set(refused.value.errors) == {"filter"}
    status, _out, err = run_cli("--db", url_of(db), "users", "list", "--sort", sort or "x")
    assert status == 2
    assert "invalid choice" in err
    assert stored(db, "SELECT count(*) FROM users") == [0]


# The console: one app per backend for what it shows, one for what its form refuses (a
# form takes about half a second to open on this machine, so each test opens few).


async def test_console_shows_stored_text_literally(db: Database) -> None:
    """Markup (15) and Unicode (17) on every screen, dialog and toast, literally."""
    # Another tool wrote markup into an email: it names the record in every dialog and
    # toast ("user 900 <[/][bold]...@example.com>").
    label = f"user 900 <{MARKUP_EMAIL}>"
    for number, entry in enumerate(MARKUP):
        email = MARKUP_EMAIL if number == 0 else f"m{number}@example.com"
        raw_user(db, 900 + number, entry.text, email)
        raw_product(db, 900 + number, f"P-{number}", entry.text, 900 + number, entry.text)
    for number, entry in enumerate(UNICODE):
        raw_user(db, 920 + number, entry.text, f"u{number}@example.com")
    fix_sequences(db)
    db.users.create({"name": MARKUP[0].text, "email": "audited@example.com"}, actor=ACTOR)
    app = console(db)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        shown = screen_text(app)
        for entry in MARKUP:
            assert entry.text in shown, f"users table: {entry.id}"
        lines = table_lines(app)
        assert {cell_len(line) for line in lines} == {cell_len(lines[0])}, "a row out of line"
        body = "\n".join(lines)
        for entry in UNICODE:
            # Hidden characters show as U+FFFD in the table: flagged, never invisible.
            assert (entry.text in body) != entry.hidden, f"users table: {entry.id}"
        await pilot.press("2")
        await settle(app, pilot)
        shown = screen_text(app)
        for entry in MARKUP:
            assert entry.text in shown, f"products table: {entry.id}"
        await pilot.press("3")
        await settle(app, pilot)
        assert f"name: {MARKUP[0].text}" in screen_text(app), "audit log"

        # The form: its title names the record, its inputs show stored text as it is.
        await pilot.press("1")
        await settle(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        form = on_top(app, RecordForm)
        assert str(form.query_one("#form-title", Static).render()) == f"Edit {label}"
        name = form.query_one("#field-name", Input)
        for entry in MARKUP:
            name.value = entry.text
            await pilot.pause()
            assert entry.text in screen_text(app), f"form: {entry.id}"
        for entry in UNICODE:
            name.value = entry.text
            await pilot.pause()
            note = shown_error(form, "name") or ""
            assert ("cannot be seen" in note) == entry.hidden, (entry.id, note)
        name.value = MARKUP[0].text
        await pilot.press("escape")
        await settle(app, pilot)

        # The delete dialog names the record literally.
        await pilot.press("d")
        await settle(app, pilot)
        dialog = on_top(app, ConfirmDialog)
        message = str(dialog.query_one("#confirm-message", Static).render())
        assert message.startswith(label), message
        await pilot.press("n")
        await settle(app, pilot)

        # A conflict: a colleague renamed the user while the form was open. The stored
        # address is no address, so a save must give a valid one (issue 11): theirs does.
        await pilot.press("e")
        await settle(app, pilot)
        form = on_top(app, RecordForm)
        theirs = db.users.get(900)
        db.users.update(
            900,
            {"name": MARKUP[3].text, "email": "fixed900@example.com"},
            expected_version=theirs.version,
            actor=COLLEAGUE,
        )
        label = "user 900 <fixed900@example.com>"
        form.query_one("#field-name", Input).value = MARKUP[1].text
        form.query_one("#field-email", Input).value = "fixed900@example.com"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConflictDialog)
        shown = screen_text(app)
        for text in (MARKUP[1].text, MARKUP[3].text, MARKUP[0].text):
            assert text in shown, "conflict dialog"
        await pilot.press("o")
        await settle(app, pilot)
        assert stored(db, "SELECT name FROM users WHERE id = 900") == [MARKUP[1].text]
        await wait_until(pilot, lambda: f"Saved {label}" in toasts(app))

        # Deleting names the record in the toast, literally.
        await pilot.press("d")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        await wait_until(pilot, lambda: f"Deleted {label}. Press u to undo." in toasts(app))

        # A stored name with hidden characters is flagged beside its field on opening.
        bidi = next(n for n, e in enumerate(UNICODE) if e.id == "bidi-override")
        await pilot.press("slash", *f"u{bidi}@", "enter")
        await settle(app, pilot)
        position = str(app.screen.query_one("#position-line", Static).render())
        assert f"search “u{bidi}@”" in position
        await pilot.press("e")
        await settle(app, pilot)
        form = on_top(app, RecordForm)
        note = shown_error(form, "name") or ""
        assert "U+202E RIGHT-TO-LEFT OVERRIDE" in note, note
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.is_running
    # Nothing the console only showed was changed, byte for byte.
    for number, entry in enumerate(UNICODE):
        assert stored(db, "SELECT name FROM users WHERE id = :i", i=920 + number) == [entry.text]


async def test_console_search_is_literal(db: Database) -> None:
    """Search (19) from the console's search box: literal matches, the text shown as typed,
    an over-long search refused with a toast."""
    for name, local in SEARCH_DATA:
        db.users.create({"name": name, "email": f"{local}@example.com"}, actor=ACTOR)
    app = console(db)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        # The data core and CLI tests above take every corpus search; the box takes a few.
        for text in ("%", "_", "' OR 1=1--", "[/]"):
            await pilot.press("slash")
            app.screen.query_one("#search", Input).value = text
            await pilot.press("enter")
            await settle(app, pilot)
            expected = expected_matches(text)
            await wait_until(pilot, lambda: table_total(app) == len(expected))  # noqa: B023
            body = "\n".join(table_lines(app)[1:])
            for _name, local in SEARCH_DATA:
                email = f"{local}@example.com"
                assert (email in body) == (email in expected), (text, email)
            position = str(app.screen.query_one("#position-line", Static).render())
            assert f"search “{text}”" in position
            await pilot.press("escape")
            await settle(app, pilot)
        await pilot.press("slash")
        app.screen.query_one("#search", Input).value = "x" * 10_000
        await pilot.press("enter")
        await settle(app, pilot)
        await wait_until(pilot, lambda: "is too long (at most 200" in toasts(app))
        assert app.is_running


async def test_console_form_refuses_bad_values(tmp_path: Path) -> None:
    """Escapes (16), numbers and 10 MB (18) refused in the form, each beside its field.

    The form refuses them in the data core's validation, before any statement (asserted),
    so the backend plays no part: this runs once, on SQLite; the data core, command line
    and import refusals above run on every backend.
    """
    url = normalise_url(f"sqlite:///{tmp_path / 'form.db'}")
    with migrated(url) as form_db:
        app = console(form_db)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await settle(app, pilot)
            await pilot.press("n")
            await settle(app, pilot)
            form = on_top(app, RecordForm)
            form.query_one("#field-email", Input).value = "eve@example.com"
            with statements(form_db.engine) as seen:
                for entry in ESCAPES:
                    # As a paste would put it there: nobody can type an ESC into a field.
                    form.query_one("#field-name", Input).value = entry.text
                    await pilot.press("ctrl+s")
                    await settle(app, pilot)
                    assert app.screen is form, entry.id
                    error = f"Name: {CONTROL.format(entry.named)}"
                    assert shown_error(form, "name") == error, entry.id
                    assert "Not saved: check Name" in screen_text(app)
            assert seen == []
            form.dismiss(None)
            await settle(app, pilot)

            await pilot.press("2", "n")
            await settle(app, pilot)
            form = on_top(app, RecordForm)
            form.query_one("#field-sku", Input).value = "F-1"
            form.query_one("#field-name", Input).value = "Widget"
            with statements(form_db.engine) as seen:
                for entry in NUMBERS:
                    form.query_one("#field-price", Input).value = "1.00"
                    form.query_one("#field-stock", Input).value = "0"
                    form.query_one(f"#field-{entry.field}", Input).value = entry.text
                    await pilot.press("ctrl+s")
                    await settle(app, pilot)
                    label = entry.field.capitalize()
                    assert shown_error(form, entry.field) == f"{label}: {entry.message}"
                form.query_one("#field-price", Input).value = "1.00"
                form.query_one("#field-stock", Input).value = "0"
                form.query_one("#field-name", Input).value = TEN_MB.text
                await pilot.press("ctrl+s")
                await settle(app, pilot)
            assert seen == []
            assert shown_error(form, "name") == "Name: is too long (at most 200 characters)"
            assert app.screen is form
            assert app.is_running
        assert stored(form_db, "SELECT count(*) FROM products") == [0]
        assert stored(form_db, "SELECT count(*) FROM users") == [0]


def table_total(app: AccessGuardApp) -> int | None:
    """The total the table shows (None until counted)."""
    return record_table(app).total
