"""Three-way merge at save (issue 12): base / mine / theirs, field by field, on every backend.

Each colleague is a second `Database` (its own engine and pool), as a second console is.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import URL

from data.actor import Actor
from data.database import Database
from data.errors import Conflict
from data.merge import merged_note
from tests.data_support import record_history


@pytest.fixture
def colleague(database_url: URL, db: Database) -> Iterator[Database]:
    """A second console on the same database."""
    second = Database.connect(database_url)
    try:
        yield second
    finally:
        second.dispose()


def _user(db: Database, actor: Actor) -> Any:
    return db.users.create(
        {"name": "Ana", "email": "ana@example.com", "role": "viewer"}, actor=actor
    )


def test_disjoint_fields_merge_and_both_values_are_stored(
    db: Database, colleague: Database, actor: Actor, other_actor: Actor
) -> None:
    loaded = _user(db, actor)
    colleague.users.update(
        loaded.id, {"name": "Ana Lima"}, expected_version=loaded.version, actor=other_actor
    )
    saved = db.users.update(
        loaded.id,
        {"email": "ana.lima@example.com"},
        expected_version=loaded.version,
        actor=actor,
        base=db.users.base_of(loaded),
    )
    stored = db.users.get(loaded.id)
    assert (stored.name, stored.email) == ("Ana Lima", "ana.lima@example.com")
    assert saved.record == stored
    assert stored.version == loaded.version + 2
    assert saved.written == ("email",)
    # The merge names whom it merged with and which of their fields.
    assert [(change.actor, change.fields) for change in saved.merged] == [
        (other_actor.label, ("name",))
    ]
    assert saved.merged[0].source == other_actor.source


def test_the_merge_is_one_audited_change_of_my_fields_only(
    db: Database, colleague: Database, actor: Actor, other_actor: Actor
) -> None:
    loaded = _user(db, actor)
    colleague.users.update(
        loaded.id, {"role": "editor"}, expected_version=loaded.version, actor=other_actor
    )
    db.users.update(
        loaded.id,
        {"name": "Ana B"},
        expected_version=loaded.version,
        actor=actor,
        base=db.users.base_of(loaded),
    )
    entry = record_history(db, "user", loaded.id)[-1]
    assert entry.action == "update"
    assert entry.actor == actor.label
    assert entry.changes == {"name": ("Ana", "Ana B")}
    # Undo reverts my change alone, not the colleague's.
    db.audit.undo_last(actor=actor)
    stored = db.users.get(loaded.id)
    assert (stored.name, stored.role) == ("Ana", "editor")


def test_the_same_change_on_both_sides_is_no_conflict(
    db: Database, colleague: Database, actor: Actor, other_actor: Actor
) -> None:
    loaded = _user(db, actor)
    colleague.users.update(
        loaded.id, {"role": "admin"}, expected_version=loaded.version, actor=other_actor
    )
    saved = db.users.update(
        loaded.id,
        {"role": "admin", "name": "Ana C"},
        expected_version=loaded.version,
        actor=actor,
        base=db.users.base_of(loaded),
    )
    assert saved.written == ("name",)
    assert (saved.record.role, saved.record.name) == ("admin", "Ana C")


def test_a_real_conflict_names_only_the_field_both_changed(
    db: Database, colleague: Database, actor: Actor, other_actor: Actor
) -> None:
    loaded = _user(db, actor)
    theirs = colleague.users.update(
        loaded.id,
        {"email": "ana.b@example.com", "role": "editor"},
        expected_version=loaded.version,
        actor=other_actor,
    )
    with pytest.raises(Conflict) as conflict:
        db.users.update(
            loaded.id,
            {"email": "ana.c@example.com", "name": "Ana C"},
            expected_version=loaded.version,
            actor=actor,
            base=db.users.base_of(loaded),
        )
    assert conflict.value.fields == ("email",)
    assert conflict.value.current == theirs
    assert [change.actor for change in conflict.value.changes] == [other_actor.label]
    assert "email" in conflict.value.message
    assert "bob" in conflict.value.message
    assert db.users.get(loaded.id) == theirs  # nothing of mine was written


def test_overwrite_writes_my_fields_and_never_reverts_their_untouched_one(
    db: Database, colleague: Database, actor: Actor, other_actor: Actor
) -> None:
    loaded = _user(db, actor)
    colleague.users.update(
        loaded.id,
        {"email": "ana.b@example.com", "role": "editor"},
        expected_version=loaded.version,
        actor=other_actor,
    )
    mine = {"email": "ana.c@example.com"}
    with pytest.raises(Conflict) as conflict:
        db.users.update(
            loaded.id,
            mine,
            expected_version=loaded.version,
            actor=actor,
            base=db.users.base_of(loaded),
        )
    theirs = conflict.value.current
    assert theirs is not None
    # Overwrite: my changed fields, at their version, with theirs as the base.
    saved = db.users.update(
        loaded.id, mine, expected_version=theirs.version, actor=actor, base=db.users.base_of(theirs)
    )
    assert (saved.record.email, saved.record.role) == ("ana.c@example.com", "editor")
    assert saved.merged == ()


def test_a_third_writer_during_the_merge_is_caught(
    db: Database, colleague: Database, actor: Actor, other_actor: Actor
) -> None:
    """The merge decides on the locked row and writes with the version guard: a writer that
    slips in behind the lock (as one ignoring it would) makes the save a Conflict, and
    nothing of it is written."""
    loaded = _user(db, actor)
    colleague.users.update(
        loaded.id, {"role": "editor"}, expected_version=loaded.version, actor=other_actor
    )
    moved: list[int] = []

    def third_writer(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("UPDATE users SET") and not moved:
            moved.append(loaded.id)
            bump = text("UPDATE users SET role = 'admin', version = version + 1 WHERE id = :id")
            conn.execute(bump, {"id": loaded.id})

    event.listen(db.engine, "before_cursor_execute", third_writer)
    try:
        with pytest.raises(Conflict):
            db.users.update(
                loaded.id,
                {"name": "Ana D"},
                expected_version=loaded.version,
                actor=actor,
                base=db.users.base_of(loaded),
            )
    finally:
        event.remove(db.engine, "before_cursor_execute", third_writer)
    assert moved == [loaded.id]
    stored = db.users.get(loaded.id)
    assert (stored.name, stored.role) == ("Ana", "editor")  # rolled back whole


def test_a_third_writer_holding_the_lock_is_waited_for_and_merged(
    db: Database, colleague: Database, actor: Actor, other_actor: Actor
) -> None:
    """A colleague's save in progress when mine starts: mine waits for the lock, then
    merges against what they committed (it does not decide on the row it read before)."""
    loaded = _user(db, actor)
    colleague.users.update(
        loaded.id, {"role": "editor"}, expected_version=loaded.version, actor=other_actor
    )
    started = threading.Event()
    result: list[Any] = []

    def mine() -> None:
        started.set()
        try:
            result.append(
                db.users.update(
                    loaded.id,
                    {"name": "Ana E", "email": "ana.e@example.com"},
                    expected_version=loaded.version,
                    actor=actor,
                    base=db.users.base_of(loaded),
                )
            )
        except Conflict as conflict:
            result.append(conflict)

    with colleague.engine.connect() as third:
        transaction = third.begin()
        if third.dialect.name == "sqlite":
            third.exec_driver_sql("SELECT 1")  # SQLAlchemy's BEGIN is deferred: take the lock
        third.execute(
            text(
                "UPDATE users SET email = 'third@example.com', version = version + 1 WHERE id = :id"
            ),
            {"id": loaded.id},
        )
        worker = threading.Thread(target=mine)
        worker.start()
        started.wait()
        worker.join(0.5)  # it waits on the lock the third writer holds
        assert worker.is_alive()
        transaction.commit()
    worker.join(10)
    assert len(result) == 1
    assert isinstance(result[0], Conflict)
    assert result[0].fields == ("email",)
    stored = db.users.get(loaded.id)
    assert (stored.name, stored.email) == ("Ana", "third@example.com")


def test_without_a_base_any_change_in_between_is_refused_as_before(
    db: Database, colleague: Database, actor: Actor, other_actor: Actor
) -> None:
    loaded = _user(db, actor)
    colleague.users.update(
        loaded.id, {"role": "editor"}, expected_version=loaded.version, actor=other_actor
    )
    with pytest.raises(Conflict) as conflict:
        db.users.update(loaded.id, {"name": "Ana F"}, expected_version=loaded.version, actor=actor)
    assert conflict.value.fields == ()
    assert db.users.get(loaded.id).name == "Ana"


def test_a_field_i_sent_unchanged_does_not_revert_theirs(
    db: Database, colleague: Database, actor: Actor, other_actor: Actor
) -> None:
    """A whole form sent back (every field, most as loaded) writes only what I changed."""
    loaded = _user(db, actor)
    colleague.users.update(
        loaded.id, {"role": "admin"}, expected_version=loaded.version, actor=other_actor
    )
    saved = db.users.update(
        loaded.id,
        {"name": "Ana G", "role": "viewer", "email": "ana@example.com"},
        expected_version=loaded.version,
        actor=actor,
        base=db.users.base_of(loaded),
    )
    assert (saved.record.name, saved.record.role) == ("Ana G", "admin")
    assert saved.written == ("name",)


def test_money_and_relations_compare_by_value(
    db: Database, colleague: Database, actor: Actor, other_actor: Actor
) -> None:
    owner = _user(db, actor)
    product = db.products.create(
        {"sku": "MG-1", "name": "Mug", "price": "12.50", "stock": 3, "owner": owner.id},
        actor=actor,
    )
    colleague.products.update(
        product.id, {"stock": 4}, expected_version=product.version, actor=other_actor
    )
    # 12.5 is the price as loaded, the owner given by email is the owner as loaded: neither
    # is a change of mine, so only the name is written.
    saved = db.products.update(
        product.id,
        {"price": "12.5", "owner": "ana@example.com", "name": "Big mug"},
        expected_version=product.version,
        actor=actor,
        base=db.products.base_of(product),
    )
    assert saved.written == ("name",)
    assert (saved.record.price, saved.record.stock, saved.record.owner_id) == (
        Decimal("12.50"),
        4,
        owner.id,
    )


def test_update_many_merges_each_record_with_its_base(
    db: Database, colleague: Database, actor: Actor, other_actor: Actor
) -> None:
    one = db.products.create({"sku": "QM-1", "name": "One", "price": "1", "stock": 1}, actor=actor)
    two = db.products.create({"sku": "QM-2", "name": "Two", "price": "2", "stock": 2}, actor=actor)
    colleague.products.update(one.id, {"name": "Uno"}, expected_version=1, actor=other_actor)
    saved = db.products.update_many(
        [(one.id, one.version, {"stock": "10"}), (two.id, two.version, {"stock": "20"})],
        actor=actor,
        bases={one.id: db.products.base_of(one), two.id: db.products.base_of(two)},
    )
    assert [(s.record.name, s.record.stock) for s in saved] == [("Uno", 10), ("Two", 20)]
    assert merged_note(saved[0].merged) == "Merged with the change to name by bob from 10.0.0.8"
    assert saved[1].merged == ()
    colleague.products.update(two.id, {"stock": 7}, expected_version=2, actor=other_actor)
    with pytest.raises(Conflict) as conflict:
        db.products.update_many(
            [(one.id, 3, {"name": "Eins"}), (two.id, 2, {"stock": "30"})],
            actor=actor,
            bases={
                one.id: db.products.base_of(saved[0].record),
                two.id: db.products.base_of(saved[1].record),
            },
        )
    assert conflict.value.fields == ("stock",)
    assert db.products.get(one.id).name == "Uno"  # all or nothing


def test_the_merge_note_names_people_and_fields() -> None:
    from datetime import UTC, datetime

    from data.changes import Change

    def change(actor: str, *fields: str) -> Change:
        return Change(1, "user", 1, "update", actor, "cli", datetime.now(UTC), fields)

    assert merged_note([change("bob", "email")]) == "Merged with bob's change to email"
    assert (
        merged_note([change("bob", "email"), change("carol", "role", "name")])
        == "Merged with bob's change to email and carol's change to role, name"
    )
    assert merged_note([]) is None
