"""Saving without losing anyone's work: version checks, concurrent writers, bulk deletes."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import URL

from data.actor import Actor
from data.database import Database
from data.errors import Conflict, Invalid
from data.records import PageRequest
from models import AuditEntry, User


def _user(db: Database, actor: Actor, email: str = "kim@example.com") -> Any:
    return db.users.create({"name": "Kim", "email": email}, actor=actor)


def test_second_save_from_a_stale_form_is_a_conflict_carrying_theirs(
    database_url: URL, db: Database, actor: Actor, other_actor: Actor
) -> None:
    loaded = _user(db, actor)
    # A second console: its own engine, sessions and connection pool.
    colleague = Database.connect(database_url)
    try:
        theirs = colleague.users.update(
            loaded.id, {"name": "Kim Lee"}, expected_version=loaded.version, actor=other_actor
        )
    finally:
        colleague.dispose()
    with pytest.raises(Conflict) as conflict:
        db.users.update(
            loaded.id, {"name": "Kimberly"}, expected_version=loaded.version, actor=actor
        )
    assert conflict.value.current == theirs
    assert db.users.get(loaded.id).name == "Kim Lee"


def test_a_row_moved_on_behind_the_lock_is_caught_by_the_orm_version_guard(
    db: Database, actor: Actor
) -> None:
    """The second net under the locked read: the ORM's own version check (UPDATE ... WHERE
    version = N). A row that moves on after that read, as under a writer that ignored the
    lock, makes the save a Conflict (the StaleWrite branch), and nothing of it is written."""
    loaded = _user(db, actor)
    moved: list[int] = []

    def move_on(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("UPDATE users SET") and not moved:
            moved.append(loaded.id)
            bump = text("UPDATE users SET version = version + 1 WHERE id = :id")
            conn.execute(bump, {"id": loaded.id})

    with db.sessions() as session:
        audit_before = session.scalar(select(func.count()).select_from(AuditEntry))
    event.listen(db.engine, "before_cursor_execute", move_on)
    try:
        with pytest.raises(Conflict, match="changed by someone else"):
            db.users.update(
                loaded.id, {"name": "Kimberly"}, expected_version=loaded.version, actor=actor
            )
    finally:
        event.remove(db.engine, "before_cursor_execute", move_on)
    assert moved == [loaded.id], "the save never reached its versioned UPDATE"
    assert db.users.get(loaded.id) == loaded  # the whole transaction rolled back
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before


def test_reload_then_write_path_cannot_defeat_the_check(db: Database, actor: Actor) -> None:
    """update() re-reads the row to write it, but compares with the version the editor read.

    A naive save (load the row, copy the form over it, commit) would pass here and lose
    the colleague's edit; ours must refuse.
    """
    form_loaded = _user(db, actor)
    db.users.update(form_loaded.id, {"role": "admin"}, expected_version=1, actor=actor)
    with pytest.raises(Conflict):
        db.users.update(
            form_loaded.id,
            {"name": "Overwriter"},
            expected_version=form_loaded.version,
            actor=actor,
        )
    current = db.users.get(form_loaded.id)
    assert (current.name, current.role, current.version) == ("Kim", "admin", 2)


def test_the_naive_reload_and_write_save_loses_an_update_where_ours_refuses(
    db: Database, actor: Actor, other_actor: Actor
) -> None:
    """Why update() takes the editor's version: the textbook save silently loses work."""
    form = _user(db, actor)  # the form shows name "Kim", version 1
    db.users.update(form.id, {"name": "Kim Lee"}, expected_version=1, actor=other_actor)

    # The textbook path (load the row, copy the form over it, commit) raises nothing...
    with db.sessions.begin() as session:
        row = session.get(User, form.id)
        assert row is not None
        row.name = "Kimberly"
    assert db.users.get(form.id).name == "Kimberly"  # ...and "Kim Lee" is gone unnoticed.

    # Ours, given the version the form loaded, refuses and reports what is there now.
    with pytest.raises(Conflict) as conflict:
        db.users.update(form.id, {"name": "Kimberly"}, expected_version=form.version, actor=actor)
    assert conflict.value.current is not None
    assert conflict.value.current.name == "Kimberly"


def test_overwrite_knowingly_uses_the_new_version_and_is_still_checked(
    db: Database, actor: Actor, other_actor: Actor
) -> None:
    mine = _user(db, actor)
    theirs = db.users.update(mine.id, {"name": "Theirs"}, expected_version=1, actor=other_actor)
    with pytest.raises(Conflict) as conflict:
        db.users.update(mine.id, {"name": "Mine"}, expected_version=mine.version, actor=actor)
    assert conflict.value.current == theirs
    # "Overwrite": re-save against the version the conflict showed.
    saved = db.users.update(mine.id, {"name": "Mine"}, expected_version=theirs.version, actor=actor)
    assert saved.version == theirs.version + 1
    # A third change in between is caught again.
    db.users.update(mine.id, {"role": "editor"}, expected_version=saved.version, actor=other_actor)
    with pytest.raises(Conflict):
        db.users.update(
            mine.id, {"name": "Mine again"}, expected_version=saved.version, actor=actor
        )


def test_delete_of_a_changed_row_is_refused_and_late_save_of_deleted_row_recreates_nothing(
    db: Database, actor: Actor
) -> None:
    user = _user(db, actor)
    db.users.update(user.id, {"name": "Moved"}, expected_version=1, actor=actor)
    with pytest.raises(Conflict):
        db.users.delete(user.id, expected_version=1, actor=actor)
    db.users.delete(user.id, expected_version=2, actor=actor)
    with pytest.raises(Conflict) as conflict:
        db.users.update(user.id, {"name": "Late"}, expected_version=2, actor=actor)
    assert conflict.value.current is None
    assert db.users.count() == 0


def test_unique_email_under_case_and_whitespace_variants_and_session_still_usable(
    db: Database, actor: Actor
) -> None:
    _user(db, actor, "sam@example.com")
    for variant in ("SAM@example.com", "  sam@EXAMPLE.com", "Sam@Example.Com\t"):
        with pytest.raises(Invalid) as refused:
            db.users.create({"name": "Sam 2", "email": variant}, actor=actor)
        assert refused.value.errors == {"email": "is already used by another user"}
    other = _user(db, actor, "other@example.com")
    with pytest.raises(Invalid):
        db.users.update(other.id, {"email": "SAM@example.com"}, expected_version=1, actor=actor)
    # The refused writes left nothing behind and the next operation works.
    assert db.users.count() == 2
    assert (
        db.users.update(other.id, {"name": "Fine"}, expected_version=1, actor=actor).name == "Fine"
    )


def test_duplicate_email_race_is_translated_from_the_database_constraint(
    database_url: URL, db: Database, actor: Actor
) -> None:
    """Two consoles create the same email at once: one wins, the other gets a field error."""
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create(email: str) -> None:
        console = Database.connect(database_url)
        try:
            barrier.wait()
            console.users.create({"name": "Twin", "email": email}, actor=actor)
            outcomes.append("created")
        except Invalid as refused:
            outcomes.append(refused.errors.get("email", "?"))
        finally:
            console.dispose()

    threads = [
        threading.Thread(target=create, args=(e,))
        for e in ("twin@example.com", " TWIN@example.com")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "is already used by another user"]
    assert db.users.count() == 1


# Per thread: enough for the eight to collide on every backend (the processes' version of
# this race, with more rounds, is tests/reliability/test_concurrency.py's stock test).
INCREMENTS = 15


def test_eight_threads_incrementing_stock_lose_no_update(db: Database, actor: Actor) -> None:
    product = db.products.create({"sku": "STK", "name": "Stock", "price": "1"}, actor=actor)
    errors: list[BaseException] = []
    retries = [0]

    def increment_many() -> None:
        try:
            for _ in range(INCREMENTS):
                while True:
                    current = db.products.get(product.id)
                    try:
                        db.products.update(
                            product.id,
                            {"stock": current.stock + 1},
                            expected_version=current.version,
                            actor=actor,
                        )
                        break
                    except Conflict:
                        retries[0] += 1
        except BaseException as error:  # any escape (e.g. Busy) fails the test below
            errors.append(error)

    threads = [threading.Thread(target=increment_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final: Any = db.products.get(product.id)
    assert final.stock == 8 * INCREMENTS
    assert final.version == 1 + 8 * INCREMENTS
    assert db.audit.count(search="") == 1 + 8 * INCREMENTS


def test_bulk_delete_is_all_or_nothing(db: Database, actor: Actor) -> None:
    records = [
        db.products.create({"sku": f"B{i}", "name": f"B{i}", "price": Decimal(i)}, actor=actor)
        for i in range(5)
    ]
    moved = db.products.update(records[3].id, {"stock": 9}, expected_version=1, actor=actor)
    targets = {record.id: record.version for record in records}
    with pytest.raises(Conflict):
        db.products.delete_many(targets, actor=actor)
    assert db.products.count() == 5
    targets[moved.id] = moved.version
    assert db.products.delete_many(targets, actor=actor) == 5
    assert db.products.count() == 0


def test_deleting_a_user_unlinks_products_and_moves_their_versions(
    db: Database, actor: Actor
) -> None:
    owner = _user(db, actor)
    owned = [
        db.products.create(
            {"sku": f"O{i}", "name": "O", "price": "1", "owner": owner.id}, actor=actor
        )
        for i in range(3)
    ]
    assert sum(d.count for d in db.dependants("users", [owner.id])) == 3
    db.users.delete(owner.id, expected_version=owner.version, actor=actor)
    for before in owned:
        after = db.products.get(before.id)
        assert after.owner_id is None
        assert after.version == before.version + 1
    # An editor who had one of those products open is told, not silently overwritten.
    with pytest.raises(Conflict):
        db.products.update(
            owned[0].id, {"name": "Late"}, expected_version=owned[0].version, actor=actor
        )


def test_emails_differing_only_by_an_accent_are_two_users_on_every_backend(
    db: Database, actor: Actor
) -> None:
    db.users.create({"name": "José", "email": "josé@example.com"}, actor=actor)
    db.users.create({"name": "Jose", "email": "jose@example.com"}, actor=actor)
    with pytest.raises(Invalid):
        db.users.create({"name": "Again", "email": "JOSÉ@example.com"}, actor=actor)
    assert sorted(u.email for u in db.users.stream(PageRequest())) == [
        "jose@example.com",
        "josé@example.com",
    ]
