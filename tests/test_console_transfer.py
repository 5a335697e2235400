"""Export (`x`) and import (`i`) from the console, keyboard only, over a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import Button, Input, ProgressBar, Static

import data.transfer
from data.config import normalise_url
from data.database import Database
from data.records import PageRequest
from tests.console_support import (
    CONSOLE_ACTOR,
    console,
    demo_database,
    screen_text,
    settle,
    sql_on_the_ui_thread,
    table,
    wait_until,
)
from tui.screens.dialogs import ConfirmDialog
from tui.screens.import_check import ImportCheck
from tui.screens.transfer import ExportProgress, PathPrompt
from tui.screens.transfer_review import ImportReview

SIZE = (80, 24)
ACTOR = CONSOLE_ACTOR


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """30 users and 40 products from seed 7; the console runs in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    database = demo_database(tmp_path / "console.db")
    yield database
    database.dispose()


def _audit_count(db: Database) -> int:
    return db.audit.count()


def _listed(app: Any) -> str:
    """The review's list as plain text, its lines unwrapped (the screen wraps long ones)."""
    console = Console(width=500, color_system=None)
    with console.capture() as captured:
        console.print(app.screen.query_one("#import-list", Static).content)
    return "\n".join(line.rstrip() for line in captured.get().splitlines())


def _toasts(app: Any) -> list[str]:
    return [f"{note.title}: {note.message}" for note in app._notifications]


async def _choose(app: Any, pilot: Any, key: str | None, path: str) -> None:
    """Open the path prompt with ``key`` (None: it is open), type ``path``, press Enter."""
    if key is not None:
        await pilot.press(key)
    app.screen.query_one("#path-input", Input).value = path
    await pilot.press("enter")


async def test_export_writes_the_whole_searched_sorted_view_and_reimporting_changes_nothing(
    db: Database, tmp_path: Path
) -> None:
    someone = db.users.get(1)
    db.users.set_secret(1, "correct horse battery", expected_version=someone.version, actor=ACTOR)
    request = PageRequest(search="a", sort="email", descending=True)
    expected = [user.email for user in db.users.stream(request)]
    assert len(expected) > 20  # more than one screen of rows
    users, entries = list(db.users.stream(PageRequest())), _audit_count(db)
    app = console(db)
    with sql_on_the_ui_thread(db.engine) as offenders:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("slash", "a", "enter", "l", "l", "S")
            await settle(app, pilot)
            await pilot.press("x")
            assert isinstance(app.screen, PathPrompt)
            prompt = app.screen.query_one("#path-input", Input)
            assert prompt.value.startswith("./users-")
            assert prompt.value.endswith(".csv")
            prompt.value = "users-view.json"
            await pilot.press("enter")
            await settle(app, pilot)
            assert not isinstance(app.screen, ExportProgress)
            assert f"Exported: {len(expected)} users written to users-view.json." in _toasts(app)

            await pilot.press("i")
            prompt = app.screen.query_one("#path-input", Input)
            assert prompt.value == "./users-view.json"  # the newest export is offered
            await pilot.press("enter")
            await settle(app, pilot)
            review = app.screen
            assert isinstance(review, ImportReview)
            assert f"0 to add, 0 to update, {len(expected)} unchanged, 0 refused" in screen_text(
                app
            )
            assert review.query_one("#import-all", Button).disabled
            await pilot.press("a")  # nothing to apply: does nothing
            await settle(app, pilot)
            assert app.screen is review
            await pilot.press("escape")
            await settle(app, pilot)
    assert offenders == []
    exported = json.loads((tmp_path / "users-view.json").read_text(encoding="utf-8"))
    assert [row["email"] for row in exported] == expected
    assert "password_hash" not in exported[0]
    assert "$argon2" not in (tmp_path / "users-view.json").read_text(encoding="utf-8")
    assert list(db.users.stream(PageRequest())) == users
    assert _audit_count(db) == entries


async def test_escape_cancels_an_export_and_leaves_no_file(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data.transfer, "PROGRESS_EVERY", 5)
    release = threading.Event()
    counting = db.users.count

    def held_count(*args: Any) -> int:
        release.wait(10)
        return counting(*args)

    monkeypatch.setattr(db.users, "count", held_count)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await _choose(app, pilot, "x", "users.csv")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportProgress))
        assert "Counting the rows" in screen_text(app)
        await pilot.press("escape")
        # The press returns once the key is sent, not handled: on a loaded machine the count
        # could be released before the console heard Escape, and the export would finish.
        await wait_until(pilot, lambda: "Cancelling" in screen_text(app))
        release.set()
        await settle(app, pilot)
        assert not isinstance(app.screen, ExportProgress)
        assert "Not exported: Export cancelled: no file written." in _toasts(app)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("console.db")) == []


async def test_import_review_lists_refused_rows_and_applies_the_valid_ones_on_request(
    db: Database, tmp_path: Path
) -> None:
    first, second = list(db.products.stream(PageRequest(limit=2)))[:2]
    (tmp_path / "prices.csv").write_text(
        "sku,name,price\n"
        f"{first.sku},{first.name},123.45\n"
        f"{second.sku},{second.name},1,5\n"
        "NEW-1,,2.00\n",
        encoding="utf-8",
    )
    entries = _audit_count(db)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("2", "i")
        await settle(app, pilot)
        prompt = app.screen.query_one("#path-input", Input)
        prompt.value = "nope.csv"
        await pilot.press("enter")
        assert "there is no such file" in screen_text(app)
        prompt.value = "prices.csv"
        await pilot.press("enter")
        await settle(app, pilot)
        review = app.screen
        assert isinstance(review, ImportReview), _toasts(app)
        text = screen_text(app)
        assert "0 to add, 1 to update, 0 unchanged, 2 refused" in text
        assert f"line 3  refused  {second.sku}" in text
        assert "row: has 4 cells but the header names 3 columns" in text
        assert "line 4  refused  NEW-1" in text
        assert "name: must not be empty" in text
        await pilot.press("a")  # refused rows: apply all says why not, and what instead
        await settle(app, pilot)
        assert app.screen is review
        text = screen_text(app)
        assert "Not applied: an import is all or nothing, and 2 refused lines would be" in text
        assert "v shows them; V applies the 1 valid change only." in text
        assert db.products.get(first.id) == first
        await pilot.press("V")
        await settle(app, pilot)
        assert not isinstance(app.screen, ImportReview)
        assert (
            "Imported: 0 products added, 1 updated, 0 unchanged. 2 refused rows left out."
            in _toasts(app)
        )
        assert table(app).cursor_record.price == first.price.__class__("123.45")
    assert str(db.products.get(first.id).price) == "123.45"
    assert db.products.get(second.id) == second
    assert _audit_count(db) == entries + 2  # the update and the import itself


async def test_a_file_the_import_cannot_read_is_named_with_the_reason(
    db: Database, tmp_path: Path
) -> None:
    (tmp_path / "users.csv").write_text("mail,name\nx@example.com,X\n", encoding="utf-8")
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("i", "enter")
        await settle(app, pilot)
        assert not isinstance(app.screen, ImportReview)
        expected = "Not imported: ./users.csv: line 1: unknown column 'mail'"
        assert _toasts(app)[-1].startswith(expected)


async def test_read_only_console_exports_but_offers_no_import(db: Database) -> None:
    app = console(db, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("i")
        assert not isinstance(app.screen, PathPrompt)
        await pilot.press("x")
        assert isinstance(app.screen, PathPrompt)


async def test_in_a_browser_the_export_is_also_sent_as_a_download(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `accessguard --web` the file lands on the server; the admin's browser gets it too."""
    from tui.app import AccessGuardApp

    delivered: list[tuple[str, str | None]] = []

    def deliver_text(self: AccessGuardApp, path: str, *, save_filename: str | None = None) -> str:
        delivered.append((path, save_filename))
        return "delivery-1"

    monkeypatch.setattr(AccessGuardApp, "is_web", property(lambda self: True))
    monkeypatch.setattr(AccessGuardApp, "deliver_text", deliver_text)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("2", "x")
        app.screen.query_one("#path-input", Input).value = "shop/products.csv"
        (tmp_path / "shop").mkdir()
        await pilot.press("enter")
        await settle(app, pilot)
        assert delivered == [("shop/products.csv", "products.csv")]
        assert any("sent to your browser" in toast for toast in _toasts(app))
    assert (tmp_path / "shop" / "products.csv").read_text(encoding="utf-8").startswith("id,sku,")


async def test_export_over_an_existing_file_asks_first_and_names_other_targets(
    db: Database, tmp_path: Path
) -> None:
    (tmp_path / "users.csv").write_text("the older export\n", encoding="utf-8")
    (tmp_path / "link.csv").symlink_to(tmp_path / "users.csv")
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await _choose(app, pilot, "x", "link.csv")
        assert isinstance(app.screen, PathPrompt)
        assert "is a symbolic link to" in screen_text(app)

        await _choose(app, pilot, None, "users.csv")
        assert isinstance(app.screen, ConfirmDialog)
        assert "users.csv already exists. Replace it with this export?" in screen_text(app)
        await pilot.press("n")
        await settle(app, pilot)
        # "No" goes back to the name, kept, to choose another.
        assert isinstance(app.screen, PathPrompt)
        assert app.screen.query_one("#path-input", Input).value == "users.csv"
        assert (tmp_path / "users.csv").read_text(encoding="utf-8") == "the older export\n"

        await _choose(app, pilot, None, "users.csv")
        await pilot.press("y")
        await settle(app, pilot)
        assert "Exported: 30 users written to users.csv." in _toasts(app)
    written = (tmp_path / "users.csv").read_text(encoding="utf-8")
    assert written.startswith("id,name,email,")
    assert (tmp_path / "link.csv").is_symlink()


async def test_the_dry_run_shows_progress_cancels_and_runs_one_at_a_time(
    db: Database, tmp_path: Path
) -> None:
    rows = 3000
    lines = [f"Person {n},person.{n}@check.example.com,viewer,true" for n in range(rows)]
    (tmp_path / "many.csv").write_text(
        "name,email,role,is_active\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )
    before = (db.users.count(), _audit_count(db))
    # The console waits up to a minute for a lock, so the other connection below holds the
    # dry run in its second step (matching rows to stored ones) for as long as the test needs.
    patient = Database.connect(normalise_url(f"sqlite:///{tmp_path / 'console.db'}?timeout=60"))
    # Not live: the watcher keeps a connection open, and the exclusive lock below needs
    # every other connection closed.
    app = console(patient, live=False)
    holder = sqlite3.connect(tmp_path / "console.db", isolation_level=None, timeout=30)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            # An exclusive lock in WAL mode needs every other connection closed first.
            db.dispose()
            patient.engine.dispose()
            holder.execute("PRAGMA locking_mode = EXCLUSIVE")
            holder.execute("BEGIN EXCLUSIVE")
            holder.execute("UPDATE users SET name = name WHERE id = 1")
            await _choose(app, pilot, "i", "many.csv")
            assert isinstance(app.screen, ImportCheck)
            check = app.screen
            # Every row checked (the bar full), then held by the lock.
            await wait_until(
                pilot, lambda: "Checking every row: 3,000 rows read" in screen_text(app)
            )
            assert check.query_one("#progress-bar", ProgressBar).percentage == 1.0

            await pilot.press("i")  # no second dry run beside this one
            assert app.screen is check
            checks = [w for w in app.workers if w.group == "import-check" and w.is_running]
            assert len(checks) == 1

            await pilot.press("escape")
            await wait_until(pilot, lambda: "Cancelling…" in screen_text(app))
            assert app.screen is check  # it closes only once the check has stopped
            holder.execute("ROLLBACK")
            holder.close()
            await wait_until(pilot, lambda: app.screen is not check, seconds=60)
            await settle(app, pilot)
            assert not isinstance(app.screen, ImportReview)
            assert not [toast for toast in _toasts(app) if toast.startswith("Not imported")]
    finally:
        holder.close()
        patient.dispose()
    assert (db.users.count(), _audit_count(db)) == before


async def test_counts_of_one_read_in_the_singular(db: Database, tmp_path: Path) -> None:
    """A one-row file: the review and the toast say "1 change" and "1 user", never "1 users"."""
    (tmp_path / "one.csv").write_text("email,name\nbo@example.com,Bo\n", encoding="utf-8")
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await _choose(app, pilot, "i", "one.csv")
        await settle(app, pilot)
        assert isinstance(app.screen, ImportReview), _toasts(app)
        text = screen_text(app)
        assert "1 to add, 0 to update, 0 unchanged, 0 refused" in text
        assert "a applies the 1 change in one transaction." in text
        await pilot.press("a")
        await settle(app, pilot)
        assert not isinstance(app.screen, ImportReview)
        assert "Imported: 1 user added, 0 updated, 0 unchanged." in _toasts(app)
        assert "1 users" not in " ".join(_toasts(app))
    assert db.users.count() == 31


# The review: every row to change with its diffs, searchable; refused rows and why not


async def test_an_exported_file_with_an_edited_email_is_reviewed_and_updates_that_user(
    db: Database, tmp_path: Path
) -> None:
    """The issue's example: export, correct an email, import: the review shows the diff and
    applying it updates that user (no duplicate), with no SQL on the UI thread."""
    before = db.users.count()
    app = console(db)
    with sql_on_the_ui_thread(db.engine) as offenders:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await _choose(app, pilot, "x", "users.csv")
            await settle(app, pilot)
            first = table(app).cursor_record
            assert first is not None
            path = tmp_path / "users.csv"
            path.write_text(
                path.read_text(encoding="utf-8").replace(first.email, "fixed@example.org"),
                encoding="utf-8",
            )
            await _choose(app, pilot, "i", "users.csv")
            await settle(app, pilot)
            assert isinstance(app.screen, ImportReview), _toasts(app)
            text = screen_text(app)
            assert "0 to add, 1 to update, 29 unchanged, 0 refused" in text
            assert f"line 2  changed  user {first.id} <fixed@example.org>" in text
            assert f"email: {first.email} -> fixed@example.org" in text
            assert "1 row listed." in text
            await pilot.press("a")
            await settle(app, pilot)
            assert not isinstance(app.screen, ImportReview)
            assert "Imported: 0 users added, 1 updated, 29 unchanged." in _toasts(app)
    assert offenders == []
    assert db.users.count() == before
    assert db.users.get(first.id).email == "fixed@example.org"


async def test_the_review_searches_its_rows_and_escape_clears_the_search_first(
    db: Database, tmp_path: Path
) -> None:
    people = "".join(f"Person {n},person.{n}@review.example.com\n" for n in range(12))
    (tmp_path / "people.csv").write_text("name,email\n" + people, encoding="utf-8")
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await _choose(app, pilot, "i", "people.csv")
        await settle(app, pilot)
        review = app.screen
        assert isinstance(review, ImportReview), _toasts(app)
        assert "12 rows listed." in screen_text(app)
        assert "line 2  new  person.0@review.example.com" in screen_text(app)
        await pilot.press("slash")
        await settle(app, pilot)
        for key in "person 11":
            await pilot.press("space" if key == " " else key)
        await settle(app, pilot)
        text = screen_text(app)
        assert "1 of 12 rows matches “person 11”." in text
        assert "name: Person 11" in text
        assert "person.0@" not in text
        await pilot.press("enter")  # keeps the search, back to the list
        await settle(app, pilot)
        assert "1 of 12 rows matches" in screen_text(app)
        await pilot.press("slash")  # the search again, selected: typing replaces it
        await settle(app, pilot)
        await pilot.press("x", "y", "z")
        await settle(app, pilot)
        assert "No row matches “xyz”." in screen_text(app)
        await pilot.press("escape")  # clears the search; the review stays
        await settle(app, pilot)
        assert app.screen is review
        assert "12 rows listed." in screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, ImportReview)
    assert db.users.count() == 30


async def test_v_shows_the_refused_rows_and_a_long_review_says_how_many_more(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data.transfer, "CHANGED_KEPT", 5)
    taken = db.users.get(2).email
    rows = "".join(f"Person {n},person.{n}@review.example.com\n" for n in range(8))
    (tmp_path / "people.csv").write_text(
        f"id,name,email\n1,Someone,{taken}\n4242,Nobody,nobody@example.com\n"
        + "".join(f",{row}" for row in rows.splitlines(keepends=True)),
        encoding="utf-8",
    )
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await _choose(app, pilot, "i", "people.csv")
        await settle(app, pilot)
        assert isinstance(app.screen, ImportReview), _toasts(app)
        text = screen_text(app)
        assert "8 to add, 0 to update, 0 unchanged, 2 refused" in text
        assert "7 rows listed; 3 more to change, not listed (the first 5 are)." in text
        await pilot.press("v")
        await settle(app, pilot)
        assert "2 refused rows listed (v shows all)" in screen_text(app)
        listed = _listed(app)
        assert f"    email: {taken} belongs to another user (id 2), not to user 1" in listed
        unknown = "id: no user has id 4242 (leave the id empty to add it as a new user)"
        assert f"line 3  refused  nobody@example.com\n    {unknown}" in listed
        assert "person.0@" not in listed
        await pilot.press("v")
        await settle(app, pilot)
        assert "person.0@" in screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
    assert db.users.count() == 30
