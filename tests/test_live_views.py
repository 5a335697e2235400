"""Live views: a console shows what others commit, without a key press, on every backend.

The second writer is the data core in the test (another console, the CLI or an import
would write the same audit entries), or the command line in a process of its own; the
console under test is a pilot.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.engine import URL
from textual.widgets import Static

from data.actor import Actor
from data.database import Database
from tests.console_support import (
    CONSOLE_ACTOR,
    colleague,
    console,
    current,
    screen_text,
    settle,
    table,
    table_lines,
    wait_until,
    watching,
)

SIZE = (100, 30)


def _fill(db: Database, actor: Actor, count: int = 12) -> list[Any]:
    return [
        db.users.create({"name": f"User {n:02d}", "email": f"user{n}@example.com"}, actor=actor)
        for n in range(count)
    ]


def _line_of(app: Any, text: str) -> str:
    return next((line for line in table_lines(app) if text in line), "")


async def test_others_changes_show_without_a_key_press(
    db: Database, actor: Actor, other_actor: Actor
) -> None:
    """An update, a new record and a delete by bob appear on their own; the cursor stays on
    its record, the changed row is marked with who changed it, the count follows."""
    users = _fill(db, actor)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await watching(app, pilot)
        for _ in range(5):
            await pilot.press("j")
        await settle(app, pilot)
        under_cursor = current(app)
        assert table(app).total == 12

        # bob renames the user two rows above the cursor.
        target = users[3]
        await asyncio.to_thread(
            db.users.update,
            target.id,
            {"name": "Renamed By Bob"},
            expected_version=target.version,
            actor=other_actor,
        )
        await wait_until(pilot, lambda: f"user {target.id} changed by bob" in screen_text(app))
        await wait_until(pilot, lambda: _line_of(app, "Renamed By Bob").startswith("✎"))
        assert current(app).id == under_cursor.id
        assert table(app).cursor_row == 5

        # bob adds one: the count follows, the new row is marked.
        added = await asyncio.to_thread(
            db.users.create, {"name": "New From Bob", "email": "nb@example.com"}, actor=other_actor
        )
        await wait_until(pilot, lambda: f"user {added.id} added by bob" in screen_text(app))
        await wait_until(pilot, lambda: table(app).total == 13)
        await wait_until(pilot, lambda: _line_of(app, "New From Bob").startswith("✎"))
        assert current(app).id == under_cursor.id

        # bob deletes the row under the cursor: it leaves with a note, the cursor stays put.
        gone = current(app)
        await asyncio.to_thread(
            db.users.delete, gone.id, expected_version=gone.version, actor=other_actor
        )
        await wait_until(pilot, lambda: f"user {gone.id} deleted by bob" in screen_text(app))
        await wait_until(pilot, lambda: table(app).total == 12)
        await wait_until(pilot, lambda: not _line_of(app, gone.name))
        assert table(app).cursor_row == 5
        assert "of 12" in screen_text(app)


async def test_this_consoles_own_changes_are_not_marked_as_others(
    db: Database, actor: Actor, other_actor: Actor
) -> None:
    """A change written as this console (its source) is not someone else's: no mark, no note."""
    users = _fill(db, actor, count=4)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await watching(app, pilot)
        own, theirs = users[0], users[1]
        await asyncio.to_thread(
            db.users.update,
            own.id,
            {"name": "Mine Renamed"},
            expected_version=own.version,
            actor=CONSOLE_ACTOR,
        )
        await asyncio.to_thread(
            db.users.update,
            theirs.id,
            {"name": "Theirs Renamed"},
            expected_version=theirs.version,
            actor=other_actor,
        )
        await wait_until(pilot, lambda: _line_of(app, "Theirs Renamed").startswith("✎"))
        assert "Mine Renamed" in _line_of(app, "Mine Renamed")
        assert not _line_of(app, "Mine Renamed").startswith("✎")
        assert f"user {own.id} changed" not in screen_text(app)


async def test_the_audit_log_shows_new_entries(
    db: Database, actor: Actor, other_actor: Actor
) -> None:
    """The audit screen takes in new entries as they are committed."""
    _fill(db, actor, count=3)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await watching(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        assert table(app).total == 3
        await asyncio.to_thread(
            db.users.create, {"name": "Late Comer", "email": "late@example.com"}, actor=other_actor
        )
        await wait_until(pilot, lambda: table(app).total == 4)
        await wait_until(pilot, lambda: _line_of(app, "bob").startswith("✎"))


async def test_a_read_only_console_is_live_too(
    db: Database, actor: Actor, other_actor: Actor
) -> None:
    """Watching is reading: a read-only console follows others' changes as well."""
    users = _fill(db, actor, count=3)
    app = console(db, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await watching(app, pilot)
        await asyncio.to_thread(
            db.users.update,
            users[2].id,
            {"name": "Seen Read Only"},
            expected_version=users[2].version,
            actor=other_actor,
        )
        await wait_until(pilot, lambda: _line_of(app, "Seen Read Only").startswith("✎"))


async def test_a_save_by_the_command_line_in_another_process_reaches_the_form_and_the_table(
    db: Database, database_url: URL, actor: Actor
) -> None:
    """A colleague's `users update` (another process, its own connection) while the admin has
    the user's form open: the form says who changed which field, with no key pressed, and
    the table under it shows the new value with the cursor still on that user."""
    from tui.screens.form import RecordForm

    _fill(db, actor, 3)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await watching(app, pilot)
        await pilot.press("j")
        await settle(app, pilot)
        target = current(app)
        await pilot.press("e")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, RecordForm)

        await asyncio.to_thread(
            colleague, database_url, "users", "update", str(target.id), "--role", "admin"
        )

        def notice() -> str:
            return str(form.query_one("#form-notice", Static).render())

        await wait_until(pilot, lambda: "Saved meanwhile" in notice())
        assert "changed Role" in notice()
        await pilot.press("escape")  # nothing edited: the form closes without asking
        await settle(app, pilot)
        await wait_until(pilot, lambda: " admin " in _line_of(app, target.name))
        assert current(app).id == target.id
    assert db.users.get(target.id).role == "admin"
