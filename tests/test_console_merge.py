"""Two admins on one record (issue 12): the form reads fresh, merges at save, narrows a
conflict to the fields both changed, and says at once when its record moves on.

The colleague is a second process, the command line (`accessguard users update ...`), on
each backend; the console is the real app under the pilot. Until the live views post
`RecordsChanged` themselves, a test posts the one they would, for the colleague's real save.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import URL
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from data.actor import Actor
from data.changes import Change
from data.database import Database
from tests.console_support import colleague, console, settle
from tests.data_support import record_history
from tui.app import AccessGuardApp
from tui.screens.dialogs import ConflictDialog
from tui.screens.form import RecordForm
from tui.views import view_named

USERS = view_named("users")
SIZE = (80, 24)
# The colleague's command runs as this process's OS user, with no SSH address.
COLLEAGUE = Actor.from_environment(source="cli", environ={}).label


@pytest.fixture
def ana(db: Database) -> Any:
    """The user both admins edit."""
    return db.users.create(
        {"name": "Ana", "email": "ana@example.com", "role": "viewer"},
        actor=Actor("alice", source="test"),
    )


def last_change(db: Database, record_id: int) -> Change:
    """The newest audit entry about user ``record_id``, as the live views report it."""
    entry = record_history(db, "user", record_id)[-1]
    assert entry.record_id is not None
    return Change(
        entry_id=entry.id,
        entity=entry.entity,
        record_id=entry.record_id,
        action=entry.action,
        actor=entry.actor,
        source=entry.source,
        at=entry.at,
        fields=tuple(entry.changes),
    )


async def open_form(app: AccessGuardApp, pilot: Pilot[None], record: Any) -> RecordForm:
    """Push the edit form for ``record`` (whatever copy the caller holds) and let it read."""
    await settle(app, pilot)
    form = RecordForm(USERS, record)
    app.push_screen(form)
    await settle(app, pilot)
    return form


async def retype(pilot: Pilot[None], form: RecordForm, name: str, text: str) -> None:
    """Clear field ``name`` and type ``text`` into it key by key."""
    field = form.query_one(f"#field-{name}", Input)
    field.focus()
    await pilot.press("ctrl+u", *text)


def notes(app: AccessGuardApp) -> list[str]:
    """Every toast's title and message."""
    return [f"{note.title}: {note.message}" for note in app._notifications]


def value(form: RecordForm, name: str) -> Any:
    """What field ``name`` holds now."""
    return form.values()[name]


async def test_the_form_opens_with_the_database_value_not_the_tables_copy(
    database_url: URL, db: Database, ana: Any
) -> None:
    colleague(database_url, "users", "update", str(ana.id), "--email", "ana.new@example.com")
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot, ana)  # ana: the copy from before their save
        assert value(form, "email") == "ana.new@example.com"
        assert form.version == ana.version + 1
        assert not form.dirty
        await retype(pilot, form, "name", "Ana B")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is not form
        assert not any(note.startswith("Merged") for note in notes(app))
    stored = db.users.get(ana.id)
    assert (stored.name, stored.email) == ("Ana B", "ana.new@example.com")


async def test_a_save_merges_with_a_colleagues_change_and_says_so(
    database_url: URL, db: Database, ana: Any
) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot, ana)
        await retype(pilot, form, "name", "Ana Lima")
        colleague(database_url, "users", "update", str(ana.id), "--email", "lima@example.com")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is not form
        assert f"Merged: Merged with {COLLEAGUE}'s change to email" in notes(app)
    stored = db.users.get(ana.id)
    assert (stored.name, stored.email) == ("Ana Lima", "lima@example.com")


async def _conflict(
    database_url: URL, app: AccessGuardApp, pilot: Pilot[None], ana: Any
) -> tuple[RecordForm, ConflictDialog]:
    """I change name and email; the colleague changes name and role, then I save."""
    form = await open_form(app, pilot, ana)
    await retype(pilot, form, "name", "Mine")
    await retype(pilot, form, "email", "mine@example.com")
    colleague(database_url, "users", "update", str(ana.id), "--name", "Theirs", "--role", "editor")
    await pilot.press("ctrl+s")
    await settle(app, pilot)
    dialog = app.screen
    assert isinstance(dialog, ConflictDialog)
    return form, dialog


async def test_the_conflict_dialog_lists_only_the_field_both_changed(
    database_url: URL, db: Database, ana: Any
) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        _form, dialog = await _conflict(database_url, app, pilot, ana)
        assert dialog.fields == ("name",)
        rows = [str(cell.render()).strip() for cell in dialog.query("#conflict-grid > Static")]
        assert rows[4:] == ["≠ Name", "Mine", "Theirs", "Ana"]  # under the column heads
        message = str(dialog.query_one("#conflict-message", Static).render())
        assert COLLEAGUE in message
        assert "Name" in message
    assert db.users.get(ana.id).email == "ana@example.com"  # nothing saved yet


async def test_overwrite_writes_my_fields_and_keeps_their_other_change(
    database_url: URL, db: Database, ana: Any
) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form, _dialog = await _conflict(database_url, app, pilot, ana)
        await pilot.press("o")
        await settle(app, pilot)
        assert app.screen is not form
    stored = db.users.get(ana.id)
    assert (stored.name, stored.email, stored.role) == ("Mine", "mine@example.com", "editor")


async def test_take_theirs_keeps_my_other_edits_in_the_form(
    database_url: URL, db: Database, ana: Any
) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form, _dialog = await _conflict(database_url, app, pilot, ana)
        await pilot.press("t")
        await settle(app, pilot)
        assert app.screen is form
        assert value(form, "name") == "Theirs"
        assert value(form, "email") == "mine@example.com"
        assert form.query_one("#field-role", Select).value == "editor"
        assert form.dirty
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is not form
    stored = db.users.get(ana.id)
    assert (stored.name, stored.email, stored.role) == ("Theirs", "mine@example.com", "editor")


async def test_the_form_says_at_once_who_changed_its_record_and_takes_their_values(
    database_url: URL, db: Database, ana: Any
) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot, ana)
        await retype(pilot, form, "name", "Mine")
        colleague(
            database_url,
            "users",
            "update",
            str(ana.id),
            "--email",
            "theirs@example.com",
            "--role",
            "admin",
        )
        change = last_change(db, ana.id)
        form.post_message(AccessGuardApp.RecordsChanged((change,)))
        await settle(app, pilot)
        notice = str(form.query_one("#form-notice", Static).render())
        assert f"{COLLEAGUE} changed Email, Role at {change.at:%H:%M:%S} UTC" in notice
        assert "ctrl+l" in notice
        assert value(form, "email") == "ana@example.com"  # nothing moves unasked

        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert value(form, "email") == "theirs@example.com"
        assert form.query_one("#field-role", Select).value == "admin"
        assert value(form, "name") == "Mine"  # my edit stays mine
        assert form.version == ana.version + 1
        assert "Took their Email, Role" in str(form.query_one("#form-notice", Static).render())
        # The same change told again (the live views' own delivery of it) is not news.
        app.post_message(AccessGuardApp.RecordsChanged((change,)))
        await settle(app, pilot)
        assert "Took their Email, Role" in str(form.query_one("#form-notice", Static).render())

        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is not form
    stored = db.users.get(ana.id)
    assert (stored.name, stored.email, stored.role) == ("Mine", "theirs@example.com", "admin")


async def test_a_pulled_field_i_edited_still_conflicts_at_save(
    database_url: URL, db: Database, ana: Any
) -> None:
    """Taking their values leaves a field I edited mine, with its old base: their change to
    it is not silently overwritten at save, the dialog asks."""
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot, ana)
        await retype(pilot, form, "name", "Mine")
        colleague(database_url, "users", "update", str(ana.id), "--name", "Theirs")
        form.post_message(AccessGuardApp.RecordsChanged((last_change(db, ana.id),)))
        await settle(app, pilot)
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert value(form, "name") == "Mine"
        assert "You changed Name too" in str(form.query_one("#form-notice", Static).render())
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConflictDialog)
        assert app.screen.fields == ("name",)
    assert db.users.get(ana.id).name == "Theirs"


async def test_a_record_deleted_meanwhile_is_said_and_saving_says_why_not(
    database_url: URL, db: Database, ana: Any
) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot, ana)
        await retype(pilot, form, "name", "Mine")
        colleague(database_url, "users", "delete", str(ana.id), "--yes")
        change = last_change(db, ana.id)
        form.post_message(AccessGuardApp.RecordsChanged((change,)))
        await settle(app, pilot)
        notice = str(form.query_one("#form-notice", Static).render())
        assert f"{COLLEAGUE} deleted it at {change.at:%H:%M:%S} UTC" in notice
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form
        summary = str(form.query_one("#form-summary", Static).render())
        assert summary.startswith(f"Not saved: {COLLEAGUE} deleted it")


async def test_the_consoles_own_saves_are_not_news_to_its_form(db: Database, ana: Any) -> None:
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot, ana)
        db.users.update(ana.id, {"role": "admin"}, expected_version=ana.version, actor=app.actor)
        form.post_message(AccessGuardApp.RecordsChanged((last_change(db, ana.id),)))
        await settle(app, pilot)
        assert not form.query_one("#form-notice", Static).has_class("-shown")
        assert not form.check_action("take_theirs", ())
