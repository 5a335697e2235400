"""The command line, driven through `tui.cli.main` in-process (and once as a real process).

Most tests run on a SQLite file under tmp_path; the round trips that prove the commands work
against a real server run on all three backends through the `database_url` fixture.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import URL
from textual.pilot import Pilot

import data.transfer
import tui.cli.parsing
from data.actor import Actor
from data.config import normalise_url
from data.database import Database
from data.errors import Unavailable
from data.redact import holds_secret, redact
from models import User
from tests.cli_support import Cli, in_process
from tests.console_support import settle
from tests.data_support import find, password_matches
from tests.needs import server_admin_url
from tui.text import fit, visible

REPO = Path(__file__).resolve().parent.parent
SECRET = "s3cretpw"
# Nothing listens on port 1: the connection is refused at once.
REFUSED_URL = f"postgresql://postgres:{SECRET}@127.0.0.1:1/nope"


@pytest.fixture
def cli() -> Cli:
    """Run ``accessguard ARGS...`` in this process, with stdin as the test set it."""
    return partial(in_process, stdin=None)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No URL, debug flag or default ./accessguard.db leaks in from (or into) the caller."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("ACCESSGUARD_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def new_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite file the commands use through DATABASE_URL, that does not exist yet."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


@pytest.fixture
def sqlite_url(new_sqlite_url: str, tmp_path: Path) -> str:
    """A SQLite file the commands use through DATABASE_URL: empty, as an admin's new one."""
    (tmp_path / "cli.db").touch(mode=0o600)
    return new_sqlite_url


def _made(url: URL) -> URL:
    """``url``, its SQLite file created empty (commands other than `db upgrade` and `seed`
    refuse a file that is not there)."""
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).touch(mode=0o600)
    return url


@pytest.fixture
def open_db(sqlite_url: str) -> Iterator[Database]:
    """The same database opened through the data layer, to check what the commands did."""
    database = Database.connect(normalise_url(sqlite_url))
    try:
        yield database
    finally:
        database.dispose()


def _raw(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _add_user(cli: Cli, name: str, email: str, *extra: str) -> int:
    ran = cli("users", "add", "--name", name, "--email", email, *extra)
    assert ran.status == 0, ran.err
    return int(ran.out.split()[2])


# On every backend


def test_add_list_delete_round_trip(cli: Cli, database_url: URL) -> None:
    db = _raw(_made(database_url))
    ran = cli("--db", db, "users", "add", "--name", "Alice Doe", "--email", "Alice@Example.com")
    assert ran.status == 0, ran.err
    assert ran.out.startswith("created user ")
    assert ran.out.rstrip().endswith("<alice@example.com>")
    user_id = int(ran.out.split()[2])

    listed = cli("--db", db, "users", "list")
    assert listed.status == 0, listed.err
    header, rule, row = listed.out.splitlines()
    assert header.split() == ["id", "name", "email", "role", "active", "password"]
    assert set(rule.replace(" ", "")) == {"-"}
    assert row.split() == [str(user_id), "Alice", "Doe", "alice@example.com", "viewer", "yes", "-"]
    assert listed.err.strip() == "1 user"

    # The global options also work after the command.
    deleted = cli("users", "delete", str(user_id), "--yes", "--db", db)
    assert deleted.status == 0, deleted.err
    assert deleted.out.strip() == f"deleted user {user_id} <alice@example.com>"
    assert cli("--db", db, "users", "list", "--format", "json").json == []


def test_json_and_csv_parse_back(cli: Cli, database_url: URL) -> None:
    db = _raw(_made(database_url))
    owner = cli("--db", db, "users", "add", "--name", "Zoë Ødegård", "--email", "zoe@example.com")
    assert owner.status == 0, owner.err
    added = cli(
        "--db",
        db,
        "products",
        "add",
        "--sku",
        "ket-1",
        "--name",
        "Kettle",
        "--price",
        "19.90",
        "--stock",
        "3",
        "--owner",
        "zoe@example.com",
        "--description",
        "Brushed steel",
    )
    assert added.status == 0, added.err
    assert added.out.rstrip().endswith("<KET-1>")

    products = cli("--db", db, "products", "list", "--format", "json")
    assert products.status == 0, products.err
    assert products.err == ""  # stdout is the data; no summary mixed in anywhere
    [product] = products.json
    assert product["sku"] == "KET-1"
    assert product["owner_email"] == "zoe@example.com"
    assert str(product["price"]) == "19.90"

    users = cli("--db", db, "users", "list", "--format", "csv")
    assert users.status == 0, users.err
    [user] = list(csv.DictReader(io.StringIO(users.out)))
    assert user["name"] == "Zoë Ødegård"
    assert user["email"] == "zoe@example.com"

    # Deleting the owner says what happened to the product, which keeps existing unowned.
    user_id = int(owner.out.split()[2])
    deleted = cli("--db", db, "users", "delete", str(user_id), "--yes")
    assert deleted.status == 0, deleted.err
    assert "1 product lost its owner" in deleted.out
    [product] = cli("--db", db, "products", "list", "--format", "json").json
    assert product["owner_email"] in (None, "")


# Exit codes and messages


def test_invalid_input_names_the_field(cli: Cli, sqlite_url: str) -> None:
    ran = cli("users", "add", "--name", "A", "--email", "not-an-address")
    assert ran.status == 1
    assert ran.out == ""
    assert ran.err.startswith("accessguard: email: is not a valid address")

    ran = cli("products", "add", "--sku", "X-1", "--name", "Thing", "--price", "1,50")
    assert ran.status == 1
    assert "accessguard: price: use a dot" in ran.err


def test_every_invalid_field_gets_its_own_line(cli: Cli, sqlite_url: str) -> None:
    ran = cli("products", "add", "--sku", "bad sku!", "--name", " ", "--price", "-1")
    assert ran.status == 1
    fields = sorted(line.split(":")[1].strip() for line in ran.err.splitlines())
    assert fields == ["name", "price", "sku"]


def test_duplicate_email_is_refused(cli: Cli, sqlite_url: str) -> None:
    _add_user(cli, "Alice", "alice@example.com")
    ran = cli("users", "add", "--name", "Other Alice", "--email", "ALICE@example.com")
    assert ran.status == 1
    assert ran.err.strip() == "accessguard: email: is already used by another user"


def test_unknown_owner_is_refused(cli: Cli, sqlite_url: str) -> None:
    ran = cli("products", "add", "--sku", "A", "--name", "A", "--price", "1", "--owner", "x@y.org")
    assert ran.status == 1
    assert "accessguard: owner: no user with email x@y.org" in ran.err


def test_delete_of_a_missing_record(cli: Cli, sqlite_url: str) -> None:
    ran = cli("users", "delete", "42", "--yes")
    assert ran.status == 1
    assert "User 42 does not exist" in ran.err


@pytest.mark.parametrize(
    "argv",
    [
        ["users"],
        ["users", "frobnicate"],
        ["users", "add", "--name", "No Email"],
        ["users", "delete", "abc"],
        # An id in other digits than 0-9 is bad usage; 0 is a number naming nobody: not
        # found, exit 1 (tests/reliability/test_malformed_rows.py).
        ["users", "delete", "\u0663"],
        ["users", "list", "--sort", "password_hash"],
        ["users", "list", "--format", "xml"],
        ["export", "customers"],
        ["seed", "--users", "-1"],
        ["--demo", "users", "list"],
    ],
)
def test_bad_usage_exits_2(cli: Cli, sqlite_url: str, argv: list[str]) -> None:
    ran = cli(*argv)
    assert ran.status == 2
    assert "usage:" in ran.err
    assert "Traceback" not in ran.err


@pytest.mark.parametrize(
    ("argv", "unknown"),
    [
        (["users", "list", "--form", "csv"], "--form"),
        (["users", "set-password", "1", "--password", "hunter2"], "--password"),
        (["--read", "users", "list"], "--read"),
    ],
)
def test_an_option_is_known_only_by_its_whole_name(
    cli: Cli, sqlite_url: str, argv: list[str], unknown: str
) -> None:
    ran = cli(*argv)
    assert ran.status == 2
    assert f"unrecognized arguments: {unknown}" in ran.err


def test_help_lists_examples(cli: Cli) -> None:
    ran = cli("--help")
    assert ran.status == 0
    assert "examples:" in ran.out
    for command in ("users", "products", "export", "import", "db", "seed"):
        assert command in ran.out
    assert cli("products", "add", "--help").out.count("--") >= 6


def test_version_is_the_installed_one(cli: Cli) -> None:
    from importlib.metadata import version

    ran = cli("--version")
    assert (ran.status, ran.out) == (0, f"accessguard {version('accessguard')}\n")
    assert re.fullmatch(r"accessguard \d+\.\d+\.\d+\n", ran.out)


def test_no_command_opens_the_console_and_demo_fills_an_empty_database(
    cli: Cli, sqlite_url: str, open_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.app import AccessGuardApp

    opened: list[AccessGuardApp] = []
    run_in_a_terminal = AccessGuardApp.run

    def run_without_a_terminal(self: AccessGuardApp, *args: object, **kwargs: object) -> None:
        # What the console shows is covered by the pilot and snapshot tests; here the question
        # is what the command line hands it, so it runs headless until it has its data.
        opened.append(self)

        async def until_loaded(pilot: Pilot[object]) -> None:
            await settle(self, pilot)
            self.exit()

        run_in_a_terminal(self, headless=True, auto_pilot=until_loaded)

    monkeypatch.setattr(AccessGuardApp, "run", run_without_a_terminal)
    monkeypatch.setattr("tui.cli.console.has_terminal", lambda: True)
    ran = cli("--demo")
    assert ran.status == 0
    assert len(opened) == 1
    app = opened[0]
    assert app.read_only is False
    assert app.actor.source.startswith("console:")
    assert (open_db.users.count(), open_db.products.count()) == (100, 300)
    # A second --demo leaves a database that has data alone.
    ran = cli("--demo")
    assert ran.status == 0
    assert len(opened) == 2
    assert (open_db.users.count(), open_db.products.count()) == (100, 300)


# Delete: confirmation


class _Terminal:
    """Stdin as a terminal where the admin types ``answer``."""

    def __init__(self, answer: str = "") -> None:
        self.answer = answer

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return self.answer


def test_delete_refuses_without_yes_when_not_interactive(
    cli: Cli, sqlite_url: str, open_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = _add_user(cli, "Alice", "alice@example.com")
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # a pipe, not a person
    ran = cli("users", "delete", str(user_id))
    assert ran.status == 2
    assert "refusing to delete without --yes when not interactive" in ran.err
    assert open_db.users.count() == 1


def test_delete_asks_with_the_impact_and_honours_no(
    cli: Cli, sqlite_url: str, open_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = _add_user(cli, "Alice", "alice@example.com")
    for sku in ("A-1", "A-2"):
        ran = cli(
            "products",
            "add",
            "--sku",
            sku,
            "--name",
            sku,
            "--price",
            "1",
            "--owner",
            "alice@example.com",
        )
        assert ran.status == 0, ran.err
    monkeypatch.setattr(sys, "stdin", _Terminal("\n"))
    ran = cli("users", "delete", str(user_id))
    assert ran.status == 1
    assert (
        f"Delete user {user_id} <alice@example.com> (2 products will lose their owner)? [y/N] "
        in ran.err
    )
    assert open_db.users.count() == 1

    monkeypatch.setattr(sys, "stdin", _Terminal("y\n"))
    ran = cli("users", "delete", str(user_id))
    assert ran.status == 0, ran.err
    assert open_db.users.count() == 0
    assert open_db.products.count() == 2


def test_delete_is_refused_when_the_record_changed_while_asking(
    cli: Cli, sqlite_url: str, open_db: Database, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = _add_user(cli, "Alice", "alice@example.com")

    class _ColleagueEditsFirst(_Terminal):
        def readline(self) -> str:
            record = open_db.users.get(user_id)
            open_db.users.update(
                user_id, {"name": "Alice B."}, expected_version=record.version, actor=actor
            )
            return "y\n"

    monkeypatch.setattr(sys, "stdin", _ColleagueEditsFirst())
    ran = cli("users", "delete", str(user_id))
    assert ran.status == 1
    assert "accessguard: Changed by someone else:" in ran.err
    assert open_db.users.get(user_id).name == "Alice B."


def test_update_merges_with_a_colleague_save_between_its_read_and_its_write(
    cli: Cli,
    sqlite_url: str,
    open_db: Database,
    other_actor: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without --expect-version the record read at the start is the base: a colleague's
    change to another field merges (both end up stored, the command says with whom); a
    change to the same field is refused, naming it, and nothing is written."""
    import tui.cli.records

    user_id = _add_user(cli, "Alice", "alice@example.com")
    colleague_sets: dict[str, str] = {}
    read = tui.cli.records.lookup

    def then_a_colleague_saves(table: Any, text: str) -> Any:
        record = read(table, text)
        open_db.users.update(
            record.id, colleague_sets, expected_version=record.version, actor=other_actor
        )
        return record

    monkeypatch.setattr(tui.cli.records, "lookup", then_a_colleague_saves)
    colleague_sets.update(email="alice.b@example.com")
    ran = cli("users", "update", str(user_id), "--name", "Alice B")
    assert ran.status == 0, ran.err
    assert "Merged with the change to email by bob from 10.0.0.8" in ran.out
    stored = open_db.users.get(user_id)
    assert (stored.name, stored.email) == ("Alice B", "alice.b@example.com")

    colleague_sets.clear()
    colleague_sets.update(name="Alicia")
    ran = cli("users", "update", str(user_id), "--name", "Ally", "--role", "admin")
    assert ran.status == 1
    assert "changed name since you opened it" in ran.err
    stored = open_db.users.get(user_id)
    assert (stored.name, stored.role) == ("Alicia", "viewer")


# Listing


def test_search_sort_and_descending(cli: Cli, sqlite_url: str) -> None:
    for name, email in (
        ("Bob", "bob@example.com"),
        ("alice", "alice@example.com"),
        ("Alina", "alina@example.org"),
    ):
        _add_user(cli, name, email)
    found = cli("users", "list", "--search", "ALI", "--sort", "email", "--format", "json")
    assert [user["email"] for user in found.json] == ["alice@example.com", "alina@example.org"]
    found = cli("users", "list", "--search", "ali", "--sort", "email", "--desc", "--format", "json")
    assert [user["email"] for user in found.json] == ["alina@example.org", "alice@example.com"]
    table = cli("users", "list", "--search", "example.org")
    assert table.status == 0
    assert len(table.out.splitlines()) == 3  # header, rule, Alina
    assert table.err.strip() == "1 user"


def test_table_shows_stored_control_characters_as_symbols(
    cli: Cli, sqlite_url: str, open_db: Database
) -> None:
    assert cli("users", "list").status == 0  # creates the schema
    # The data layer refuses control characters, so this is what a raw SQL write could leave.
    now = datetime.now(UTC)
    with open_db.engine.begin() as connection:
        connection.execute(
            insert(User).values(
                name="Mallory\x1b]0;pwn\x07\r\x9b",
                email="mallory@example.com",
                role="viewer",
                is_active=True,
                created_at=now,
                updated_at=now,
                version=1,
            )
        )
    ran = cli("users", "list")
    assert ran.status == 0, ran.err
    for byte in ("\x1b", "\x07", "\r", "\x9b"):
        assert byte not in ran.out
    assert "Mallory\u241b]0;pwn\u2407\u240d\ufffd" in ran.out


def test_table_truncates_long_text_and_keeps_numbers_whole(cli: Cli, sqlite_url: str) -> None:
    _add_user(cli, "Bartholomew Maximilian Featherstonehaugh", "bart@example.com")
    for sku, price in (("P-1", "9999999999.99"), ("P-2", "5")):
        ran = cli("products", "add", "--sku", sku, "--name", "Piano", "--price", price)
        assert ran.status == 0, ran.err
    users = cli("users", "list").out.splitlines()
    assert "Bartholomew Maxim…" in users[2]
    assert len(users[2]) <= 79
    header, _rule, huge, small = cli("products", "list").out.splitlines()
    assert "9999999999.99" in huge  # wider than its column, but never cut
    # Right-aligned: the price ends where its header ends.
    assert small.index("5.00") + len("5.00") == header.index("price") + len("price")


def test_fit_measures_terminal_cells() -> None:
    assert fit("東京都", 4) == "東… "  # 東 takes two cells, … one, and one is left to pad
    assert fit("abc", 5, right=True) == "  abc"
    assert fit("abcdef", 4) == "abc…"
    assert fit("1234567", 3, right=True, truncate=False) == "1234567"
    assert visible("a\u202eb\x00c\x7f") == "a\ufffdb\u2400c\u2421"


# Secrets


def test_password_in_db_url_is_never_printed(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = [
        cli("--db", REFUSED_URL, "users", "list"),
        cli("--db", REFUSED_URL, "db", "status"),
        cli("users", "list", "--db", REFUSED_URL),
        # Usage errors that quote the URL back (a misplaced argument, a bad port).
        cli("users", "list", REFUSED_URL),
        cli(REFUSED_URL),
        cli("--db", f"postgresql://postgres:{SECRET}@127.0.0.1:port/db", "users", "list"),
    ]
    monkeypatch.setenv("ACCESSGUARD_DEBUG", "1")
    runs.append(cli("--db", REFUSED_URL, "users", "list"))
    monkeypatch.setenv("DATABASE_URL", REFUSED_URL)
    runs.append(cli("users", "list"))
    for ran in runs:
        assert ran.status in (1, 2)
        assert SECRET not in ran.out + ran.err
    assert "Database unavailable" in runs[0].err
    assert "Traceback" not in runs[0].err


@pytest.mark.servers("postgresql")
def test_db_status_shows_the_url_without_its_password(cli: Cli) -> None:
    # Trust authentication accepts any password, so this connects for real.
    server = server_admin_url("postgresql")
    where = f"{server.host}:{server.port or 5432}/{server.database}"
    ran = cli("--db", f"postgresql://{server.username}:{SECRET}@{where}", "db", "status")
    assert f"database: postgresql+psycopg://{server.username}:***@{where}" in ran.out
    assert SECRET not in ran.out + ran.err


def test_redact_masks_url_passwords() -> None:
    assert redact("at mysql://root:pw@h/db, ok") == "at mysql://root:***@h/db, ok"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"
    assert redact("postgresql://h:5432/db") == "postgresql://h:5432/db"


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("postgresql://u:p@ss@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db"),
        ("mysql://u:p:a:ss@h:3306/db", "mysql://u:***@h:3306/db"),
        ("error: postgresql://u:p ss@h/db x", "error: postgresql://u:***@h/db x"),
        ("postgresql://u:p@ss W0rd@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p@ss@h:port/db", "postgresql://u:***@h:port/db"),
        ("mysql://u:p@ss@[::1/db", "mysql://u:***@[::1/db"),
        ("postgresql://h/db?sslpassword=k3y&x=1", "postgresql://h/db?sslpassword=***&x=1"),
        ("mysql://h/db?a=1&my_secret=s;PASSWORD=p", "mysql://h/db?a=1&my_secret=***"),
        ("host=h password=pw user=u", "host=h password=***"),
        (
            "postgresql://u:a@h1/db, postgresql://u:b@h2/db",
            "postgresql://u:***@h1/db, postgresql://u:***@h2/db",
        ),
        # Where a line goes on to an address, more than the password is masked: never less.
        ("postgresql://u:pw@h/db by bob@example.com", "postgresql://u:***@example.com"),
    ],
)
def test_redact_masks_every_shape_of_password(typed: str, shown: str) -> None:
    assert redact(typed) == shown
    assert holds_secret(typed)


def test_a_typed_at_sign_is_part_of_the_password_not_the_host() -> None:
    url = normalise_url("postgresql://u:p@ss W0rd@db.internal:5432/shop")
    assert (url.password, url.host, url.port) == ("p@ss W0rd", "db.internal", 5432)
    url = normalise_url("mysql://u:pw@h/db?ssl_ca=/etc/a@b/ca.pem")
    assert (url.password, url.host, url.query["ssl_ca"]) == ("pw", "h", "/etc/a@b/ca.pem")
    url = normalise_url("postgresql://u@h:5432/db?password=p@ss")
    assert (url.username, url.password, url.host, url.port) == ("u", "p@ss", "h", 5432)


# Read-only, schema, seed


def test_read_only_refuses_writes_and_changes_nothing(cli: Cli, database_url: URL) -> None:
    db = _raw(_made(database_url))
    user_id = _add_user(cli, "Alice", "alice@example.com", "--db", db)
    refused = [
        cli("--read-only", "--db", db, "users", "add", "--name", "Bob", "--email", "b@example.com"),
        cli("--read-only", "--db", db, "users", "delete", str(user_id), "--yes"),
    ]
    for ran in refused:
        assert ran.status == 1
        assert "accessguard: Read-only:" in ran.err
    listed = cli("users", "list", "--read-only", "--db", db, "--format", "json")
    assert listed.status == 0, listed.err
    assert [user["email"] for user in listed.json] == ["alice@example.com"]


def test_read_only_on_a_new_file_creates_nothing(
    cli: Cli, new_sqlite_url: str, tmp_path: Path
) -> None:
    ran = cli("--read-only", "users", "list")
    assert ran.status == 1
    assert not (tmp_path / "cli.db").exists()


def test_db_status_and_upgrade_on_a_fresh_file(cli: Cli, sqlite_url: str, tmp_path: Path) -> None:
    status = cli("db", "status")
    assert status.status == 1  # empty: not current, so a script can tell
    assert f"database: sqlite:///{tmp_path / 'cli.db'}" in status.out
    assert "revision: (none)" in status.out
    assert "status:   empty" in status.out
    upgraded = cli("db", "upgrade")
    assert upgraded.status == 0, upgraded.err
    assert "upgraded (empty) -> " in upgraded.out
    status = cli("db", "status")
    assert status.status == 0, status.out
    assert "status:   current" in status.out
    again = cli("db", "upgrade")
    assert again.status == 0
    assert "already at" in again.out


def test_commands_create_a_new_database_at_head(cli: Cli, sqlite_url: str) -> None:
    assert cli("users", "list").status == 0
    assert cli("db", "status").status == 0


def test_seed_fills_an_empty_database_once(cli: Cli, sqlite_url: str) -> None:
    ran = cli("seed", "--users", "5", "--products", "7", "--seed", "3")
    assert ran.status == 0, ran.err
    assert ran.out.strip() == "seeded 5 users and 7 products (seed 3)"
    assert len(cli("products", "list", "--format", "json").json) == 7
    again = cli("seed")
    assert again.status == 1
    assert again.err.startswith("accessguard: database: already holds 5 users")


# Export and import


def test_export_import_round_trip_through_files(
    cli: Cli, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_user(cli, "Alice", "alice@example.com", "--role", "admin")
    _add_user(cli, "Bob", "bob@example.com")
    ran = cli(
        "products",
        "add",
        "--sku",
        "K-1",
        "--name",
        "Kettle",
        "--price",
        "19.99",
        "--owner",
        "bob@example.com",
        "--description",
        "two\nlines",
    )
    assert ran.status == 0, ran.err
    for entity, name in (("users", "users.json"), ("products", "products.csv")):
        ran = cli("export", entity, "-o", str(tmp_path / name))
        assert ran.status == 0, ran.err
        assert ran.out == ""
        assert f"exported {'2 users' if entity == 'users' else '1 product'} to" in ran.err
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert json.loads((tmp_path / "users.json").read_text(encoding="utf-8"))[0]["role"] == "admin"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'copy.db'}")
    assert cli("db", "upgrade").status == 0  # a new database is made, never by a typo
    # Into another database, as new records: an id names a record of this database only.
    refused = cli("import", "users", str(tmp_path / "users.json"), "--dry-run")
    assert refused.status == 1
    assert "object 1: id: no user has id 1 (leave the id empty to add it" in refused.err
    users = json.loads((tmp_path / "users.json").read_text(encoding="utf-8"))
    (tmp_path / "users.json").write_text(
        json.dumps([{**user, "id": None} for user in users]), encoding="utf-8"
    )
    with (tmp_path / "products.csv").open(encoding="utf-8", newline="") as exported:
        products = [row[1:] for row in csv.reader(exported)]  # without the id column
    with (tmp_path / "products.csv").open("w", encoding="utf-8", newline="") as edited:
        csv.writer(edited).writerows(products)
    dry = cli("import", "users", str(tmp_path / "users.json"), "--dry-run")
    assert dry.status == 0, dry.err
    assert "2 to add" in dry.out
    assert "dry run: nothing written" in dry.out
    assert cli("users", "list", "--format", "json").json == []

    for entity, name in (("users", "users.json"), ("products", "products.csv")):
        ran = cli("import", entity, str(tmp_path / name))
        assert ran.status == 0, ran.err
        assert f"{'2' if entity == 'users' else '1'} added" in ran.out
    [product] = cli("products", "list", "--format", "json").json
    assert (product["sku"], product["owner_email"], product["description"]) == (
        "K-1",
        "bob@example.com",
        "two\nlines",
    )
    again = cli("import", "users", str(tmp_path / "users.json"))
    assert again.status == 0
    assert "2 unchanged" in again.out


def test_import_with_a_refused_row_applies_nothing(
    cli: Cli, sqlite_url: str, tmp_path: Path, open_db: Database
) -> None:
    _add_user(cli, "Alice", "alice@example.com")
    path = tmp_path / "products.csv"
    # A spreadsheet's BOM, a good row, then a row with a comma decimal.
    path.write_text('\ufeffsku,name,price\r\nA-1,Good,1.50\r\nA-2,Bad,"1,50"\r\n', encoding="utf-8")
    ran = cli("import", "products", str(path))
    assert ran.status == 1
    assert "1 to add" in ran.out
    assert "1 refused" in ran.out
    assert "line 3: price: use a dot" in ran.err
    assert "nothing imported" in ran.err
    assert open_db.products.count() == 0


def test_import_of_a_missing_file(cli: Cli, sqlite_url: str, tmp_path: Path) -> None:
    ran = cli("import", "users", str(tmp_path / "nope.csv"))
    assert ran.status == 1
    assert "No such file" in ran.err


def test_json_import_reports_objects_and_names_need_a_format(
    cli: Cli, sqlite_url: str, tmp_path: Path, open_db: Database
) -> None:
    rows = [{"email": "a@example.com", "name": "A"}, {"email": "b@example.com", "role": "boss"}]
    path = tmp_path / "people.txt"
    path.write_text(json.dumps(rows), encoding="utf-8")
    unknown = cli("import", "users", str(path))
    assert unknown.status == 1
    assert "accessguard: format: cannot tell the format" in unknown.err
    ran = cli("import", "users", str(path), "--format", "json")
    assert ran.status == 1
    assert "object 2: role: must be one of admin, editor, viewer" in ran.err
    assert open_db.users.count() == 0


def test_import_from_stdin_and_export_to_an_unknown_name(
    cli: Cli, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("email,name\r\nann@example.com,Ann\r\n", encoding="utf-8")
    with source.open(encoding="utf-8") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        ran = cli("import", "users", "-")
    assert ran.status == 0, ran.err
    assert "users: 1 added" in ran.out
    exported = cli("export", "users", "-o", str(tmp_path / "users.txt"))
    assert exported.status == 0, exported.err
    text = (tmp_path / "users.txt").read_text(encoding="utf-8")
    assert text.startswith("id,name,email,")  # CSV, the default for a name that says nothing


def test_export_to_stdout_defaults_to_csv(cli: Cli, sqlite_url: str) -> None:
    _add_user(cli, "Alice", "alice@example.com")
    ran = cli("export", "users")
    assert ran.status == 0, ran.err
    [row] = list(csv.DictReader(io.StringIO(ran.out)))
    assert row["email"] == "alice@example.com"
    assert "exported 1 user" in ran.err


def test_every_count_of_one_agrees_with_its_noun(cli: Cli, sqlite_url: str, tmp_path: Path) -> None:
    one_row = tmp_path / "one.csv"
    one_row.write_text("email,name\nann@example.com,Ann\n", encoding="utf-8")
    imported = cli("import", "users", str(one_row))
    assert imported.status == 0, imported.err
    assert imported.out.strip() == "users: 1 added, 0 updated, 0 unchanged, 0 refused"
    listed = cli("users", "list")
    assert listed.err.strip() == "1 user"

    one_bad_row = tmp_path / "bad.csv"
    one_bad_row.write_text("email,name\nnot-an-email,X\n", encoding="utf-8")
    refused = cli("import", "users", str(one_bad_row))
    assert refused.status == 1
    assert "nothing imported: 1 row refused" in refused.err

    seeded = cli(
        "--db", f"sqlite:///{tmp_path / 'one.db'}", "seed", "--users", "1", "--products", "1"
    )
    assert seeded.status == 0, seeded.err
    assert seeded.out.strip() == "seeded 1 user and 1 product (seed 1)"


def test_failed_export_leaves_no_file(
    cli: Cli, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_then_fail(*_args: Any, **kwargs: Any) -> int:
        out = _args[2]
        out.write("id,name\n1,half")
        raise Unavailable("The database went away.")

    target = tmp_path / "out.csv"
    target.write_text("old export\n", encoding="utf-8")
    # The command imports it from the data core when it runs, so it is replaced there.
    monkeypatch.setattr(data.transfer, "export_records", half_then_fail)
    ran = cli("export", "users", "-o", str(target))
    assert ran.status == 1
    assert "The database went away." in ran.err
    assert target.read_text(encoding="utf-8") == "old export\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []


# Process-level behaviour


def test_interrupt_exits_130_quietly(
    cli: Cli, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_args: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(tui.cli.parsing, "cmd_list", interrupted)
    ran = cli("users", "list")
    assert (ran.status, ran.out, ran.err) == (130, "", "")


def test_unexpected_error_is_one_line_unless_debugging(
    cli: Cli, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any) -> int:
        raise RuntimeError(f"boom near mysql://root:{SECRET}@db/x")

    monkeypatch.setattr(tui.cli.parsing, "cmd_list", broken)
    ran = cli("users", "list")
    assert ran.status == 1
    assert ran.err.count("\n") == 1
    assert ran.err.startswith("accessguard: unexpected error: RuntimeError: boom")
    monkeypatch.setenv("ACCESSGUARD_DEBUG", "1")
    ran = cli("users", "list")
    assert ran.status == 1
    assert "Traceback" in ran.err
    assert SECRET not in ran.err


def _subprocess_env(url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "ACCESSGUARD_DEBUG"}
    env["DATABASE_URL"] = url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def test_python_dash_m_tui_end_to_end(cli: Cli, sqlite_url: str) -> None:
    _add_user(cli, "Alice", "alice@example.com")
    done = subprocess.run(
        [sys.executable, "-m", "tui", "users", "list", "--format", "json"],
        env=_subprocess_env(sqlite_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [user["email"] for user in json.loads(done.stdout)] == ["alice@example.com"]


def test_closed_pipe_ends_quietly(cli: Cli, sqlite_url: str, open_db: Database) -> None:
    assert cli("users", "list").status == 0  # creates the schema
    now = datetime.now(UTC)
    rows = [
        {
            "name": f"User {n}",
            "email": f"user{n}@example.com",
            "role": "viewer",
            "is_active": True,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for n in range(3000)
    ]
    with open_db.engine.begin() as connection:
        connection.execute(insert(User), rows)
    # Far more than a pipe buffer: the process must block on a write, then meet the closed pipe.
    process = subprocess.Popen(
        [sys.executable, "-m", "tui", "users", "list"],
        env=_subprocess_env(sqlite_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    assert process.stdout.read(10)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr


def test_export_takes_the_console_view_and_import_can_take_the_valid_rows_only(
    cli: Cli, sqlite_url: str, tmp_path: Path, open_db: Database
) -> None:
    for name, email in (("Ann", "ann@example.com"), ("Bo", "bo@example.com"), ("Al", "al@x.org")):
        _add_user(cli, name, email)
    ran = cli("export", "users", "--search", "example", "--sort", "email", "--desc")
    assert ran.status == 0, ran.err
    assert [row["email"] for row in csv.DictReader(io.StringIO(ran.out))] == [
        "bo@example.com",
        "ann@example.com",
    ]
    wrong = cli("export", "users", "--sort", "price")
    assert wrong.status == 1
    assert "accessguard: sort: users sort by" in wrong.err

    path = tmp_path / "users.csv"
    path.write_text("email,name\nann@example.com,Anne\nnot-an-email,X\n", encoding="utf-8")
    ran = cli("import", "users", str(path), "--valid-only")
    assert ran.status == 1
    assert "0 added, 1 updated, 0 unchanged, 1 refused" in ran.out
    assert "line 3: email:" in ran.err
    assert "imported the valid rows only: 1 row refused" in ran.err
    assert find(open_db, "users", "ann@example.com").name == "Anne"


# show, update, set-password and audit: on every backend


def _show(cli: Cli, *argv: str) -> dict[str, Any]:
    ran = cli(*argv, "--format", "json")
    assert ran.status == 0, ran.err
    shown: dict[str, Any] = ran.json
    return shown


def test_show_update_and_set_password_by_id_or_key(
    cli: Cli, database_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _raw(_made(database_url))
    user_id = _add_user(cli, "Alice Doe", "alice@example.com", "--db", db, "--role", "editor")
    by_email = cli("--db", db, "users", "show", "ALICE@example.com")
    assert by_email.status == 0, by_email.err
    assert by_email.out.splitlines()[:6] == [
        f"id: {user_id}",
        "name: Alice Doe",
        "email: alice@example.com",
        "role: editor",
        "is_active: yes",
        "has_password: no",
    ]
    assert by_email.out.splitlines()[-1] == "version: 1"
    before = _show(cli, "--db", db, "users", "show", str(user_id))

    ran = cli("--db", db, "users", "update", "alice@example.com", "--name", "Alice Moss")
    assert (ran.status, ran.out) == (0, f"updated user {user_id} <alice@example.com> (version 2)\n")
    after = _show(cli, "--db", db, "users", "show", str(user_id))
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {"name", "updated_at", "version"}
    entry = cli("--db", db, "audit", "list", "--record", str(user_id), "--format", "json").json[0]
    assert (entry["action"], entry["old"], entry["new"]) == (
        "update",
        {"name": "Alice Doe", "version": 1},
        {"name": "Alice Moss", "version": 2},
    )

    stale = cli("--db", db, "users", "update", str(user_id), "--no-active", "--expect-version", "1")
    assert stale.status == 1
    assert "changed by someone else" in stale.err
    current = cli(
        "--db", db, "users", "update", str(user_id), "--no-active", "--expect-version", "2"
    )
    assert current.status == 0, current.err
    assert "(version 3)" in current.out

    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse\n"))
    ran = cli("--db", db, "users", "set-password", "alice@example.com", "--password-stdin")
    assert (ran.status, ran.out) == (0, f"password set for user {user_id} <alice@example.com>\n")
    opened = Database.connect(database_url)
    try:
        assert password_matches(opened, "alice@example.com", "correct horse")
    finally:
        opened.dispose()
    shown = _show(cli, "--db", db, "users", "show", str(user_id))
    assert (shown["has_password"], shown["version"]) == (True, 4)

    sku = cli("--db", db, "products", "add", "--sku", "ket-1", "--name", "Kettle", "--price", "9")
    assert sku.status == 0, sku.err
    ran = cli(
        "--db", db, "products", "update", "KET-1", "--price", "12.50", "--owner", str(user_id)
    )
    assert ran.status == 0, ran.err
    product = _show(cli, "--db", db, "products", "show", "ket-1")
    assert (product["price"], product["owner_email"], product["name"]) == (
        "12.50",
        "alice@example.com",
        "Kettle",
    )


def test_audit_list_filters_show_and_restore(cli: Cli, database_url: URL) -> None:
    db = _raw(_made(database_url))
    alice = _add_user(cli, "Alice", "alice@example.com", "--db", db)
    bob = _add_user(cli, "Bob", "bob@example.com", "--db", db)
    assert cli("--db", db, "users", "update", str(bob), "--role", "admin").status == 0
    assert cli("--db", db, "users", "delete", str(alice), "--yes").status == 0

    everything = cli("--db", db, "audit", "list", "--format", "json").json
    assert [(e["action"], e["record_id"]) for e in everything] == [
        ("delete", alice),
        ("update", bob),
        ("create", bob),
        ("create", alice),
    ]
    about_bob = cli("--db", db, "audit", "list", "--entity", "users", "--record", str(bob))
    assert about_bob.status == 0, about_bob.err
    assert about_bob.err.strip() == "2 entries"
    assert about_bob.out.splitlines()[0].split() == [
        "id",
        "at",
        "actor",
        "action",
        "record",
        "changes",
    ]
    newest = cli("--db", db, "audit", "list", "--limit", "1", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(newest.out)))
    assert [(row["action"], json.loads(row["old"])["name"]) for row in rows] == [
        ("delete", "Alice")
    ]
    assert cli("--db", db, "audit", "list", "--entity", "products", "--format", "json").json == []
    assert (
        cli("--db", db, "audit", "list", "--actor", "nobody-at-all", "--format", "json").json == []
    )
    actor = everything[0]["actor"]
    assert (
        len(cli("--db", db, "audit", "list", "--actor", actor.upper(), "--format", "json").json)
        == 4
    )
    since = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert cli("--db", db, "audit", "list", "--since", since, "--format", "json").json == []

    update_id = everything[1]["id"]
    shown = cli("--db", db, "audit", "show", str(update_id))
    assert shown.status == 0, shown.err
    assert "action: update" in shown.out.splitlines()
    assert "  role: viewer -> admin" in shown.out.splitlines()
    assert (
        cli("--db", db, "audit", "show", str(update_id), "--format", "json").json["id"] == update_id
    )

    delete_id = everything[0]["id"]
    restored = cli("--db", db, "audit", "restore", str(delete_id), "--yes")
    assert restored.status == 0, restored.err
    assert restored.out.startswith(f"restored user {alice} <alice@example.com> to its state")
    assert _show(cli, "--db", db, "users", "show", str(alice))["name"] == "Alice"
    again = cli("--db", db, "audit", "restore", str(delete_id), "--yes")
    assert again.status == 1
    assert "nothing to restore" in again.err


# show, update, set-password and audit: refusals and questions


def test_a_missing_or_malformed_record_is_refused(cli: Cli, sqlite_url: str) -> None:
    _add_user(cli, "Alice", "alice@example.com")
    missing = cli("users", "show", "nobody@example.com")
    assert (missing.status, missing.out) == (1, "")
    assert "No user with email nobody@example.com." in missing.err
    assert cli("users", "show", "999").status == 1
    malformed = cli("users", "update", "not an email", "--name", "X")
    assert malformed.status == 1
    assert "email: is not a valid address" in malformed.err
    assert cli("products", "show", "NO-SUCH").status == 1
    assert cli("audit", "show", "999").status == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["users", "update", "1"],
        ["users", "update", "1", "--expect-version", "0"],
        ["users", "show", "1", "--format", "csv"],
        ["audit", "list", "--since", "yesterday"],
        ["audit", "list", "--limit", "0"],
        ["audit", "list", "--entity", "nothing"],
        ["products", "set-password", "1"],
        ["users", "set-password", "1", "--password", "in-argv-never"],
    ],
)
def test_edit_and_audit_usage_errors_exit_2(cli: Cli, sqlite_url: str, argv: list[str]) -> None:
    _add_user(cli, "Alice", "alice@example.com")
    ran = cli(*argv)
    assert ran.status == 2, ran.err
    assert ran.out == ""


def test_set_password_asks_twice_on_a_terminal(
    cli: Cli, sqlite_url: str, open_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_user(cli, "Alice", "alice@example.com")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # a pipe, and no --password-stdin
    refused = cli("users", "set-password", "1")
    assert refused.status == 2
    assert "--password-stdin" in refused.err

    answers = iter(["first password", "second password"])
    monkeypatch.setattr(sys, "stdin", _Terminal(""))
    monkeypatch.setattr(getpass, "getpass", lambda _prompt: next(answers))
    mismatch = cli("users", "set-password", "1")
    assert mismatch.status == 1
    assert "the two passwords do not match" in mismatch.err
    assert not password_matches(open_db, "alice@example.com", "first password")

    monkeypatch.setattr(getpass, "getpass", lambda _prompt: "the same twice")
    assert cli("users", "set-password", "alice@example.com").status == 0
    assert password_matches(open_db, "alice@example.com", "the same twice")


def test_restore_asks_with_the_plan_and_honours_no(
    cli: Cli, sqlite_url: str, open_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = _add_user(cli, "Alice", "alice@example.com")
    assert cli("users", "update", str(user_id), "--name", "Alicia").status == 0
    entry_id = cli("audit", "list", "--limit", "1", "--format", "json").json[0]["id"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # a pipe, not a person
    piped = cli("audit", "restore", str(entry_id))
    assert piped.status == 2
    assert "refusing to restore without --yes when not interactive" in piped.err

    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    declined = cli("audit", "restore", str(entry_id))
    assert declined.status == 1
    assert "  name: Alicia → Alice" in declined.err.splitlines()
    assert f"Restore user {user_id} <alice@example.com>? [y/N] " in declined.err
    assert find(open_db, "users", "alice@example.com").name == "Alicia"

    monkeypatch.setattr(sys, "stdin", _Terminal("y\n"))
    assert cli("audit", "restore", str(entry_id)).status == 0
    assert find(open_db, "users", "alice@example.com").name == "Alice"


# Import by id, and the dry run's diffs (on every backend)


def test_import_dry_run_lists_each_change_and_an_edited_export_updates_by_id(
    cli: Cli, database_url: URL, tmp_path: Path
) -> None:
    db = _raw(_made(database_url))
    for name, email in (("Ana Lima", "ana@example.com"), ("Bo Chen", "bo@example.com")):
        assert cli("--db", db, "users", "add", "--name", name, "--email", email).status == 0
    [ana, bo] = cli("--db", db, "users", "list", "--format", "json").json
    path = tmp_path / "users.csv"
    assert cli("--db", db, "export", "users", "-o", str(path)).status == 0
    path.write_text(
        path.read_text(encoding="utf-8").replace("ana@example.com", "ana.lima@example.org")
        + ",Cy Dale,cy@example.com,editor,true,false,,\n",
        encoding="utf-8",
    )

    table = cli("--db", db, "import", "users", str(path), "--dry-run")
    assert table.status == 0, table.err
    assert table.out.splitlines() == [
        f"line 2  changed  user {ana['id']} <ana.lima@example.org>",
        "    email: ana@example.com -> ana.lima@example.org",
        "line 4  new  cy@example.com",
        "    name: Cy Dale",
        "    email: cy@example.com",
        "    role: editor",
        "    is_active: true",
        "users: 1 to add, 1 to update, 1 unchanged, 0 refused",
        "dry run: nothing written",
    ]

    as_csv = cli("--db", db, "import", "users", str(path), "--dry-run", "--report", "csv")
    assert as_csv.status == 0, as_csv.err
    rows = list(csv.reader(io.StringIO(as_csv.out)))
    assert rows[:2] == [
        ["line", "outcome", "id", "key", "field", "old", "new"],
        [
            "2",
            "update",
            str(ana["id"]),
            "ana.lima@example.org",
            "email",
            "ana@example.com",
            "ana.lima@example.org",
        ],
    ]
    assert rows[2] == ["4", "add", "", "cy@example.com", "name", "", "Cy Dale"]
    assert "users: 1 to add, 1 to update, 1 unchanged, 0 refused" in as_csv.err

    as_json = cli("--db", db, "import", "users", str(path), "--dry-run", "--report", "json")
    assert as_json.status == 0, as_json.err
    report = as_json.json
    assert report["counts"] == {"add": 1, "update": 1, "unchanged": 1, "refused": 0}
    assert report["changes"][0] == {
        "line": 2,
        "outcome": "update",
        "id": ana["id"],
        "key": "ana.lima@example.org",
        "changes": [{"field": "email", "old": "ana@example.com", "new": "ana.lima@example.org"}],
    }
    assert (report["changes_not_listed"], report["refused"]) == (0, [])

    assert cli("--db", db, "users", "list", "--format", "json").json == [ana, bo]
    applied = cli("--db", db, "import", "users", str(path))
    assert applied.status == 0, applied.err
    assert applied.out == "users: 1 added, 1 updated, 1 unchanged, 0 refused\n"
    after = cli("--db", db, "users", "list", "--format", "json").json
    assert [(u["id"], u["email"]) for u in after] == [
        (ana["id"], "ana.lima@example.org"),
        (bo["id"], "bo@example.com"),
        (after[2]["id"], "cy@example.com"),
    ]


def test_import_refuses_an_unknown_id_and_another_users_email_naming_line_and_field(
    cli: Cli, database_url: URL, tmp_path: Path
) -> None:
    db = _raw(_made(database_url))
    for name, email in (("Ana Lima", "ana@example.com"), ("Bo Chen", "bo@example.com")):
        assert cli("--db", db, "users", "add", "--name", name, "--email", email).status == 0
    [ana, bo] = cli("--db", db, "users", "list", "--format", "json").json
    path = tmp_path / "users.csv"
    path.write_text(
        f"id,name,email\n{ana['id']},Ana Lima,bo@example.com\n77777,Nobody,nobody@example.com\n",
        encoding="utf-8",
    )
    ran = cli("--db", db, "import", "users", str(path), "--dry-run")
    assert ran.status == 1
    assert ran.err.splitlines()[:2] == [
        f"line 2: email: bo@example.com belongs to another user (id {bo['id']}), "
        f"not to user {ana['id']}",
        "line 3: id: no user has id 77777 (leave the id empty to add it as a new user)",
    ]
    assert "nothing imported: 2 rows refused" in ran.err
    assert cli("--db", db, "import", "users", str(path), "--report", "csv").status == 2
    assert cli("--db", db, "users", "list", "--format", "json").json == [ana, bo]
