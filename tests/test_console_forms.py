"""Pilot tests of the record form, the owner picker and the dialogs, at 80x24 over SQLite.

Every test waits for workers (never sleeps) and checks what the database holds afterwards.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from textual.containers import VerticalScroll
from textual.content import Content
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, OptionList, Select, Static

from data.actor import Actor
from data.database import Database
from data.errors import ReadOnly
from data.records import PageRequest
from models import AuditEntry
from tests.data_support import find, password_matches
from tui.app import AccessGuardApp, ConsoleOptions
from tui.live import LIVE_GROUP
from tui.screens.dialogs import (
    AuditEntryDialog,
    ConfirmDialog,
    ConflictDialog,
    HelpScreen,
    PasswordDialog,
)
from tui.screens.form import RecordForm
from tui.views import ViewSpec, view_named
from tui.widgets.relation_picker import RelationPicker

PRODUCTS_VIEW = view_named("products")
USERS_VIEW = view_named("users")

ACTOR = Actor("alice", source="test")
COLLEAGUE = Actor("bob", source="colleague")
SIZE = (80, 24)
PASSWORD = "s3cret-pass"


# The forms' behaviour does not depend on the backend (the data tests cover all three);
# the shared `db` fixture gives them a SQLite file at schema head.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def ana(db: Database) -> Any:
    """A stored user to edit."""
    return db.users.create({"name": "Ana", "email": "ana@example.com"}, actor=ACTOR)


def console(db: Database, *, live: bool = True) -> AccessGuardApp:
    """The real app over the test database (``live=False``: others' changes unnoticed
    until a key reads them)."""
    return AccessGuardApp(db, actor=ACTOR, options=ConsoleOptions(live=live))


async def settle(app: AccessGuardApp, pilot: Pilot[None]) -> None:
    """Let every worker finish and every message they posted be handled (all but the live
    views' watcher, which runs as long as the console)."""
    workers = [worker for worker in app.workers if worker.group != LIVE_GROUP]
    if workers:  # an empty list would mean "every worker" to wait_for_complete
        await app.workers.wait_for_complete(workers)
    await pilot.pause()


async def open_form(
    app: AccessGuardApp, pilot: Pilot[None], view: ViewSpec, record: Any | None
) -> tuple[RecordForm, list[Any]]:
    """Push a form; the list collects what it dismisses with."""
    await settle(app, pilot)
    results: list[Any] = []
    form = RecordForm(view, record)
    app.push_screen(form, results.append)
    await settle(app, pilot)
    return form, results


async def retype(pilot: Pilot[None], field: Input, text: str) -> None:
    """Clear an input and type ``text`` into it key by key."""
    field.focus()
    field.value = ""
    await pilot.press(*text)


def top(app: AccessGuardApp) -> Screen[Any]:
    """The screen in front (a function, so a check on one screen does not narrow the next)."""
    return app.screen


def plain(widget: Static) -> str:
    """The text a Static shows, as rendered."""
    visual = widget.visual
    assert isinstance(visual, Content)
    return visual.plain


def error_beside(form: RecordForm, name: str) -> str:
    """The message beside a field, or "" when none shows."""
    label = form.query_one(f"#error-{name}", Static)
    return plain(label) if label.has_class("-shown") else ""


# Creating


async def test_new_user_typed_and_saved(db: Database) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form, results = await open_form(app, pilot, USERS_VIEW, None)
        await pilot.press(*"Bob Smith", "tab", *"Bob@Example.com")
        await pilot.press("ctrl+s")
        await settle(app, pilot)

        assert top(app) is not form
        assert len(results) == 1
        saved = results[0]
        assert isinstance(saved, db.users.spec.record_type)
    stored = find(db, "users", "bob@example.com")
    assert (stored.id, stored.name, stored.role, stored.is_active) == (
        saved.id,
        "Bob Smith",
        "viewer",
        True,
    )


async def test_bad_email_is_reported_as_you_type(db: Database) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form, _ = await open_form(app, pilot, USERS_VIEW, None)
        assert error_beside(form, "email") == ""  # an untouched new field is not wrong yet
        email = form.query_one("#field-email", Input)
        await retype(pilot, email, "not-an-email")
        await pilot.pause()
        assert "is not a valid address" in error_beside(form, "email")

        await pilot.press(*"@example.com")
        await pilot.pause()
        assert error_beside(form, "email") == ""


async def test_duplicate_email_refused_on_save_keeps_the_form(db: Database, ana: Any) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form, results = await open_form(app, pilot, USERS_VIEW, None)
        await pilot.press(*"Other Ana", "tab", *"ANA@example.com")
        await pilot.press("ctrl+s")
        await settle(app, pilot)

        assert top(app) is form
        assert results == []
        assert "already used" in error_beside(form, "email")
        summary = form.query_one("#form-summary", Static)
        assert summary.has_class("-shown")
        assert "Email" in plain(summary)
        assert form.values()["name"] == "Other Ana"
        assert form.values()["email"] == "ANA@example.com"
    assert db.users.count() == 1


async def test_database_refusal_is_reported_and_the_form_stays(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = db.engine.url
    read_only = Database.connect(url, read_only=True)
    app = AccessGuardApp(read_only, actor=ACTOR, read_only=True)
    reported: list[BaseException | None] = []
    monkeypatch.setattr(app, "report_error", reported.append)
    try:
        async with app.run_test(size=SIZE) as pilot:
            form, results = await open_form(app, pilot, USERS_VIEW, None)
            await pilot.press(*"Cleo", "tab", *"cleo@example.com", "ctrl+s")
            await settle(app, pilot)

            assert top(app) is form
            assert results == []
            assert [type(error) for error in reported] == [ReadOnly]
            assert form.values()["email"] == "cleo@example.com"
    finally:
        read_only.dispose()
    assert db.users.count() == 0


# Editing against a moving record


async def test_conflict_then_overwrite_writes_yours_over_theirs(db: Database, ana: Any) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form, results = await open_form(app, pilot, USERS_VIEW, ana)
        db.users.update(
            ana.id, {"name": "Colleague"}, expected_version=ana.version, actor=COLLEAGUE
        )
        await retype(pilot, form.query_one("#field-name", Input), "Mine")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConflictDialog)

        await pilot.press("o")
        await settle(app, pilot)
        assert top(app) is not form
        assert results[0].name == "Mine"
    stored = db.users.get(ana.id)
    assert stored.name == "Mine"
    assert stored.version == ana.version + 2


async def test_conflict_then_take_theirs_reloads_the_form(db: Database, ana: Any) -> None:
    """My only edit conflicts: taking theirs leaves the form clean, at their version (the
    case with other edits of mine kept is in tests/test_console_merge.py)."""
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form, results = await open_form(app, pilot, USERS_VIEW, ana)
        theirs = db.users.update(
            ana.id,
            {"name": "Colleague", "role": "editor"},
            expected_version=ana.version,
            actor=COLLEAGUE,
        )
        await retype(pilot, form.query_one("#field-name", Input), "Mine")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConflictDialog)

        await pilot.press("t")
        await settle(app, pilot)
        assert top(app) is form
        assert form.query_one("#field-name", Input).value == "Colleague"
        assert form.query_one("#field-email", Input).value == "ana@example.com"
        assert form.query_one("#field-role", Select).value == "editor"
        assert form.version == theirs.version
        assert not form.dirty

        await pilot.press("escape")  # clean relative to theirs: closes without asking
        await pilot.pause()
        assert top(app) is not form
        assert results == [None]
    assert db.users.get(ana.id).version == theirs.version


async def test_record_deleted_while_editing(db: Database, ana: Any) -> None:
    # The save's own check, as when the live views have not looked yet (they tell the form
    # first otherwise: tests/reliability/test_concurrency.py).
    app = console(db, live=False)
    async with app.run_test(size=SIZE) as pilot:
        form, _ = await open_form(app, pilot, USERS_VIEW, ana)
        db.users.delete(ana.id, expected_version=ana.version, actor=COLLEAGUE)
        await retype(pilot, form.query_one("#field-name", Input), "Mine")
        await pilot.press("ctrl+s")
        await settle(app, pilot)

        dialog = app.screen
        assert isinstance(dialog, ConflictDialog)
        assert "deleted" in plain(dialog.query_one("#conflict-message", Static))
        assert not dialog.query("#conflict-theirs")
        await pilot.press("t", "o")  # neither exists for a deleted record
        await pilot.pause()
        assert top(app) is dialog

        await pilot.press("e")
        await pilot.pause()
        assert top(app) is form
        assert "deleted" in plain(form.query_one("#form-summary", Static))
        assert form.values()["name"] == "Mine"
    assert db.users.count() == 0


# Leaving


async def test_escape_on_a_dirty_form_asks_first(db: Database, ana: Any) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form, results = await open_form(app, pilot, USERS_VIEW, ana)
        await retype(pilot, form.query_one("#field-name", Input), "Changed")

        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await pilot.pause()
        assert top(app) is form
        assert form.values()["name"] == "Changed"

        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert top(app) is not form
        assert results == [None]
    assert db.users.get(ana.id).name == "Ana"


# The owner picker


async def test_owner_picked_by_typing_part_of_an_email(db: Database) -> None:
    alice = db.users.create({"name": "Alice", "email": "alice@example.com"}, actor=ACTOR)
    db.users.create({"name": "Bob", "email": "bob@example.com"}, actor=ACTOR)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form, results = await open_form(app, pilot, PRODUCTS_VIEW, None)
        await pilot.press(*"ABC-1", "tab", *"Widget", "tab", *"19.99")
        picker = form.query_one("#field-owner", RelationPicker)
        picker.focus()
        await pilot.press(*"alic", "down")  # down shows the matches without waiting
        await settle(app, pilot)

        matches = picker.query_one(OptionList)
        prompts = [str(option.prompt) for option in matches.options]
        assert prompts == ["Alice <alice@example.com>"]
        await pilot.press("enter")
        await pilot.pause()
        assert picker.value == "alice@example.com"
        assert not matches.has_class("-open")

        await pilot.press("ctrl+s")
        await settle(app, pilot)
        saved = results[0]
        assert isinstance(saved, db.products.spec.record_type)
    assert db.products.get(saved.id).owner_id == alice.id


async def test_down_before_the_last_keystroke_arrives_keeps_the_highlight(db: Database) -> None:
    """`down` and a keystroke's Input.Changed travel through different queues: on a busy
    machine `down` can search first. The keystroke must not search again and redraw the
    matches without the highlight Enter is about to pick."""
    db.users.create({"name": "Alice", "email": "alice@example.com"}, actor=ACTOR)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form, _ = await open_form(app, pilot, PRODUCTS_VIEW, None)
        picker = form.query_one("#field-owner", RelationPicker)
        picker.focus()
        picker.input.value = "alic"  # its Changed message is queued, not yet handled
        picker.action_move(1)  # handled first, as `down` was on the busy machine
        await settle(app, pilot)
        await pilot.pause(RelationPicker.DEBOUNCE_SECONDS * 2)  # a second search would start now
        await settle(app, pilot)
        assert picker.query_one(OptionList).highlighted == 0
        await pilot.press("enter")
        await pilot.pause()
        assert picker.value == "alice@example.com"


async def test_owner_picker_drops_a_stale_answer(db: Database, ana: Any) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form, _ = await open_form(app, pilot, PRODUCTS_VIEW, None)
        picker = form.query_one("#field-owner", RelationPicker)
        picker.focus()
        await pilot.press(*"zzz", "down")
        await settle(app, pilot)
        picker.post_message(RelationPicker.MatchesFound("an", (ana,)))  # an older search
        await pilot.pause()

        matches = picker.query_one(OptionList)
        assert [str(option.prompt) for option in matches.options] == ["no user matches 'zzz'"]

        await pilot.press("escape")  # hides the matches; the form stays open
        await pilot.pause()
        assert not matches.has_class("-open")
        assert top(app) is form


# Passwords


async def test_set_password_on_a_stored_user(db: Database, ana: Any) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form, _ = await open_form(app, pilot, USERS_VIEW, ana)
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(app.screen, PasswordDialog)
        await pilot.press(*PASSWORD, "enter", *PASSWORD, "enter")
        await settle(app, pilot)

        assert top(app) is form
        assert form.version == ana.version + 1
    assert db.users.get(ana.id).has_password
    assert password_matches(db, "ana@example.com", PASSWORD)
    with db.engine.connect() as connection:
        rows = connection.execute(select(AuditEntry.__table__)).all()
    assert rows
    assert all(PASSWORD not in repr(tuple(row)) for row in rows)


async def test_mismatched_passwords_are_not_accepted(db: Database, ana: Any) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_form(app, pilot, USERS_VIEW, ana)
        await pilot.press("f3")
        await pilot.pause()
        dialog = app.screen
        await pilot.press(*PASSWORD, "enter", *"something else", "enter")
        await pilot.pause()
        assert top(app) is dialog
        assert "do not match" in plain(dialog.query_one("#password-again-error", Static))
    assert not db.users.get(ana.id).has_password


async def test_new_user_gets_the_chosen_password_after_the_create(db: Database) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        _, results = await open_form(app, pilot, USERS_VIEW, None)
        await pilot.press(*"Dora", "tab", *"dora@example.com", "f3")
        await pilot.pause()
        await pilot.press(*PASSWORD, "enter", *PASSWORD, "ctrl+s")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert results[0].has_password
    assert password_matches(db, "dora@example.com", PASSWORD)


# Dialogs


async def test_confirm_dialog_answers(db: Database) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        answers: list[bool | None] = []
        for key in ("y", "n", "escape"):
            app.push_screen(ConfirmDialog("Sure?", "Really?"), answers.append)
            await pilot.pause()
            await pilot.press(key)
            await pilot.pause()
        assert answers == [True, False, False]


async def test_confirm_dialog_shows_stored_text_literally(db: Database) -> None:
    user = db.users.create({"name": "[bold]x[/]", "email": "x@example.com"}, actor=ACTOR)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        # The escape stands for legacy data another tool wrote past validation.
        text = f"Delete {user.name} \x1b]52;c;?"
        app.push_screen(ConfirmDialog("Delete user?", text, danger=True))
        await pilot.pause()
        message = plain(app.screen.query_one("#confirm-message", Static))
        assert "[bold]x[/]" in message
        assert "\x1b" not in message
        assert "␛" in message


async def test_audit_entry_dialog_shows_old_and_new(db: Database, ana: Any) -> None:
    db.users.update(ana.id, {"name": "Anna"}, expected_version=ana.version, actor=COLLEAGUE)
    entry = db.audit.page(PageRequest(limit=1)).records[0]
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        closed: list[None] = []
        app.push_screen(AuditEntryDialog(entry), closed.append)
        await pilot.pause()
        lines = [plain(line) for line in app.screen.query(".audit--change").results(Static)]
        assert lines == ["name: Ana → Anna"]
        await pilot.press("enter")
        await pilot.pause()
        assert closed == [None]


async def test_help_screen_scrolls_at_80x24_and_closes_on_q(db: Database) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        keys = [(f"f{number}", f"does thing {number}") for number in range(40)]
        app.push_screen(HelpScreen("Keys", keys))
        await pilot.pause()
        help_screen = top(app)
        scroll = help_screen.query_one("#help-scroll", VerticalScroll)
        assert scroll.max_scroll_y > 0
        await pilot.press("end")
        await pilot.pause()
        assert scroll.scroll_y == scroll.max_scroll_y
        await pilot.press("q")
        await pilot.pause()
        assert top(app) is not help_screen
