"""Restoring any audit entry's "before" state: shown first, version-checked, itself audited."""

from __future__ import annotations

import pytest

from data.actor import Actor
from data.database import Database
from data.errors import Conflict, NotFound, NotRestorable
from data.records import PageRequest


def _newest(db: Database, action: str) -> int:
    """The id of the newest audit entry with ``action``."""
    entries = db.audit.page(PageRequest(limit=50)).records
    return next(entry.id for entry in entries if entry.action == action)


def test_restore_puts_an_old_update_back_over_later_changes_and_audits_it(
    db: Database, actor: Actor, other_actor: Actor
) -> None:
    user = db.users.create({"name": "Rita", "email": "rita@example.com"}, actor=other_actor)
    db.users.update(user.id, {"name": "Rita B"}, expected_version=1, actor=other_actor)
    renamed = _newest(db, "update")
    db.users.update(user.id, {"role": "admin"}, expected_version=2, actor=other_actor)

    plan = db.audit.restore_plan(renamed)
    assert (plan.effect, plan.label, plan.version) == ("update", "user 1 <rita@example.com>", 3)
    assert plan.changes == (("name", "Rita B", "Rita"),)
    assert plan.later == 1
    assert plan.latest is not None
    assert plan.latest.changes == {"role": ("viewer", "admin")}

    written = db.audit.restore(renamed, actor=actor, expected_version=plan.version)
    after = db.users.get(user.id)
    assert (after.name, after.role, after.version) == ("Rita", "admin", 4)
    assert (written.action, written.reverts_id, written.actor) == (
        "restore",
        renamed,
        actor.label,
    )
    assert written.changes == {"name": ("Rita B", "Rita")}
    # Done once, there is nothing left to put back.
    with pytest.raises(NotRestorable):
        db.audit.restore_plan(renamed)


def test_restore_refuses_a_record_that_moved_on_since_the_plan(
    db: Database, actor: Actor, other_actor: Actor
) -> None:
    user = db.users.create({"name": "Sam", "email": "sam@example.com"}, actor=actor)
    db.users.update(user.id, {"name": "Samuel"}, expected_version=1, actor=actor)
    plan = db.audit.restore_plan(_newest(db, "update"))
    db.users.update(user.id, {"name": "Sammy"}, expected_version=2, actor=other_actor)
    entries = db.audit.count()

    with pytest.raises(Conflict) as refused:
        db.audit.restore(plan.entry.id, actor=actor, expected_version=plan.version)
    assert refused.value.current is not None
    assert refused.value.current.name == "Sammy"
    assert db.users.get(user.id).name == "Sammy"
    assert db.audit.count() == entries


def test_restore_of_a_delete_brings_the_record_back_and_of_a_create_deletes_it(
    db: Database, actor: Actor
) -> None:
    user = db.users.create({"name": "Tom", "email": "tom@example.com"}, actor=actor)
    product = db.products.create(
        {"sku": "T-1", "name": "Tent", "price": "80.00", "owner": user.id}, actor=actor
    )
    created = _newest(db, "create")
    db.products.delete(product.id, expected_version=1, actor=actor)
    deleted = _newest(db, "delete")

    plan = db.audit.restore_plan(deleted)
    assert (plan.effect, plan.version, plan.label) == ("recreate", None, "product 1 <T-1>")
    assert ("price", None, "80.00") in plan.changes
    db.audit.restore(deleted, actor=actor, expected_version=None)
    back = db.products.get(product.id)
    assert (back.sku, back.owner_id, back.version) == ("T-1", user.id, 2)

    plan = db.audit.restore_plan(created)
    assert (plan.effect, plan.version, plan.later) == ("delete", 2, 2)
    with pytest.raises(Conflict):  # a stale plan: the record was absent when shown
        db.audit.restore(created, actor=actor, expected_version=None)
    written = db.audit.restore(created, actor=actor, expected_version=2)
    assert (written.action, written.new, written.reverts_id) == ("restore", None, created)
    with pytest.raises(NotFound):
        db.products.get(product.id)
    with pytest.raises(NotRestorable):  # absent before the create, absent now
        db.audit.restore_plan(created)


def test_entries_without_a_before_state_are_not_restorable(db: Database, actor: Actor) -> None:
    user = db.users.create({"name": "Val", "email": "val@example.com"}, actor=actor)
    db.users.set_secret(user.id, "a long enough secret", expected_version=1, actor=actor)
    with pytest.raises(NotRestorable):
        db.audit.restore_plan(_newest(db, "password"))
    with pytest.raises(NotFound):
        db.audit.restore_plan(10_000)
