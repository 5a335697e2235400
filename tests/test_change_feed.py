"""The change feed (`data.feed`): what others committed, read after a cursor, on every backend."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from data.actor import Actor
from data.database import Database
from data.feed import NotifyWatcher
from data.trail import new_batch, write_entry
from data.unit import writing


def test_newest_is_where_a_reader_starts(db: Database, actor: Actor) -> None:
    """A reader starting now sees only what comes after it."""
    db.users.create({"name": "Ana Lima", "email": "ana@example.com"}, actor=actor)
    cursor = db.changes.newest()
    assert db.changes.since(cursor).changes == ()


def test_since_reads_creates_updates_and_deletes_with_who_and_which_fields(
    db: Database, actor: Actor, other_actor: Actor
) -> None:
    """Each committed change is one `Change`, oldest first, naming who and which fields."""
    cursor = db.changes.newest()
    user = db.users.create({"name": "Ana Lima", "email": "ana@example.com"}, actor=other_actor)
    updated = db.users.update(
        user.id, {"email": "ana.lima@example.com"}, expected_version=user.version, actor=actor
    )
    db.users.delete(user.id, expected_version=updated.version, actor=other_actor)

    found = db.changes.since(cursor)

    assert [(c.action, c.entity, c.record_id) for c in found.changes] == [
        ("create", "user", user.id),
        ("update", "user", user.id),
        ("delete", "user", user.id),
    ]
    create, update, delete = found.changes
    assert create.actor == other_actor.label
    assert create.source == other_actor.source
    assert update.actor == actor.label
    assert update.fields == ("email",)
    assert "name" in create.fields
    assert "version" not in create.fields
    assert "email" in delete.fields
    assert not found.overflow
    # Read once, gone: the cursor moved past them.
    assert db.changes.since(found.cursor).changes == ()


def test_more_than_the_limit_says_so_and_skips_to_the_newest(db: Database, actor: Actor) -> None:
    """An import's worth of changes is not read one by one: the reader is told to reload."""
    cursor = db.changes.newest()
    for number in range(5):
        db.users.create({"name": f"User {number}", "email": f"u{number}@example.com"}, actor=actor)

    found = db.changes.since(cursor, limit=3)

    assert found.overflow
    assert found.changes == ()
    assert found.cursor == db.changes.newest()
    assert db.changes.since(found.cursor, limit=3).changes == ()
    # Exactly the limit is no overflow.
    db.users.create({"name": "User 5", "email": "u5@example.com"}, actor=actor)
    db.users.create({"name": "User 6", "email": "u6@example.com"}, actor=actor)
    assert len(db.changes.since(found.cursor, limit=2).changes) == 2


def test_an_entry_committed_late_below_the_cursor_is_still_read(db: Database, actor: Actor) -> None:
    """On a server, a transaction may commit after a later-numbered one: its hole in the ids
    is read again, so the slower commit is not lost."""
    cursor = db.changes.newest()
    first = db.users.create({"name": "Ana Lima", "email": "ana@example.com"}, actor=actor)
    second = db.users.create({"name": "Bo Chen", "email": "bo@example.com"}, actor=actor)
    # Hide the first entry as if its transaction had not committed yet.
    with db.engine.begin() as connection:
        first_entry = connection.execute(
            text("SELECT id FROM audit_entries WHERE record_id = :id AND entity = 'user'"),
            {"id": first.id},
        ).scalar_one()
        connection.execute(
            text("UPDATE audit_entries SET id = :hidden WHERE id = :id"),
            {"hidden": -first_entry, "id": first_entry},
        )
    found = db.changes.since(cursor)
    assert [c.record_id for c in found.changes] == [second.id]
    # The late commit arrives with its id.
    with db.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_entries SET id = :id WHERE id = :hidden"),
            {"hidden": -first_entry, "id": first_entry},
        )
    later = db.changes.since(found.cursor)
    assert [c.record_id for c in later.changes] == [first.id]
    assert db.changes.since(later.cursor).changes == ()


def test_the_watcher_notices_a_commit_by_another_connection(db: Database, actor: Actor) -> None:
    """Whatever the backend, a commit elsewhere makes the watcher say "maybe" (read the feed)."""
    watcher = db.changes.watcher(poll_s=0.05)
    try:
        watcher.prime()
        cursor = db.changes.newest()
        db.users.create({"name": "Ana Lima", "email": "ana@example.com"}, actor=actor)
        assert _heard(watcher)
        assert [c.action for c in db.changes.since(cursor).changes] == ["create"]
    finally:
        watcher.close()


def test_stop_wakes_a_waiting_watcher(db: Database) -> None:
    """Closing the console never waits for the watcher's interval to end."""
    watcher = db.changes.watcher(poll_s=60)
    watcher.prime()
    done = threading.Event()

    def wait() -> None:
        watcher.wait()
        done.set()

    thread = threading.Thread(target=wait)
    thread.start()
    watcher.stop()
    assert done.wait(10)
    thread.join()
    watcher.close()
    assert watcher.wait() is False


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_notifies_on_commit_and_never_on_rollback(db: Database, actor: Actor) -> None:
    """The NOTIFY travels with the audit entry's transaction: heard after COMMIT only."""
    watcher = db.changes.watcher(poll_s=0.2)
    assert isinstance(watcher, NotifyWatcher)
    try:
        watcher.prime()  # LISTEN
        assert _heard(watcher, tries=3) is False

        class Abandon(Exception):
            pass

        def abandoned_write() -> None:
            with writing(db.sessions) as session:
                write_entry(
                    session, actor=actor, batch=new_batch(), action="create", entity="user",
                    record_id=None, new={"name": "never"},
                )  # fmt: skip
                raise Abandon

        with pytest.raises(Abandon):
            abandoned_write()
        assert _heard(watcher, tries=3) is False

        db.users.create({"name": "Ana Lima", "email": "ana@example.com"}, actor=actor)
        assert _heard(watcher, tries=20) is True
    finally:
        watcher.close()


def _heard(watcher: object, *, tries: int = 100) -> bool:
    """Whether the watcher says "maybe" within ``tries`` waits (each about its interval)."""
    wait = watcher.wait  # type: ignore[attr-defined]
    return any(wait() for _ in range(tries))
