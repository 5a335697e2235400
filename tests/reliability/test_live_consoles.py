"""Live views with real parts: two consoles on one SQLite file, each on its own
pseudo-terminal (what one deletes leaves the other's screen on its own, with a note naming
who deleted it, and the count follows; no key is pressed in the watching console), and a
watching console whose server sessions are all killed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from data.actor import Actor
from data.database import Database
from tests.console_support import (
    console,
    demo_database,
    screen_text,
    settle,
    table_lines,
    wait_until,
    watching,
)
from tests.reliability.support_input import Terminal
from tests.reliability.support_server_faults import kill_sessions


def test_a_delete_in_one_console_shows_in_the_other(tmp_path: Path) -> None:
    """Console A deletes user 1; console B, untouched, drops the row and says who did it."""
    path = tmp_path / "live.db"
    demo_database(path, users=10, products=0).dispose()
    url = f"sqlite:///{path}"
    watching, deleting = Terminal(url), Terminal(url)
    try:
        # Rows come before the database is open (data.first_page), and a console watches
        # for others' changes once it is: the status line naming the URL, not "Opening".
        for console_on_a_terminal in (watching, deleting):
            console_on_a_terminal.wait_for(b"of 10")
            console_on_a_terminal.wait_for("│ sqlite:".encode())
        mark = len(watching.output)
        deleting.press(b"d", b"Delete this user?")
        deleting.press(b"y", b"Deleted user 1")
        # Nothing was typed into the watching console since `mark`.
        watching.wait_for(b"user 1 deleted by ", since=mark)
        watching.wait_for(b"of 9", since=mark)
        assert deleting.quit() == 0
        assert watching.quit() == 0
    finally:
        watching.close()
        deleting.close()


@pytest.mark.parametrize("database_url", ["postgresql", "mysql"], indirect=True)
async def test_the_watcher_outlives_its_sessions_being_killed(
    db: Database, actor: Actor, other_actor: Actor
) -> None:
    """Every session of the database is killed (the watcher's own LISTEN among them): no
    error shows, and the next change elsewhere still appears on its own."""
    user = db.users.create({"name": "Before Kill", "email": "bk@example.com"}, actor=actor)
    app = console(db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await watching(app, pilot)
        await asyncio.to_thread(kill_sessions, db.engine.url)
        await asyncio.to_thread(
            db.users.update,
            user.id,
            {"name": "After Kill"},
            expected_version=user.version,
            actor=other_actor,
        )
        await wait_until(
            pilot, lambda: f"user {user.id} changed by bob" in screen_text(app), seconds=20
        )
        await wait_until(pilot, lambda: any("After Kill" in line for line in table_lines(app)))
