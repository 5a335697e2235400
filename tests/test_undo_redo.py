"""Undo asks first and can be redone: the plan names what it takes back, the act re-checks
that nothing moved on, a big import is taken back in short, resumable chunks."""

from __future__ import annotations

import io

import pytest

from data.actor import Actor
from data.database import Database
from data.errors import Conflict, NotFound
from data.records import PageRequest
from data.transfer import import_records
from data.undo import take_back
from tests.data_support import find, password_matches


class Stop(Exception):
    """Raised from a progress report: the admin pressed Escape, or the console died."""


def _import_users(db: Database, actor: Actor, count: int) -> None:
    rows = "".join(f"Person {i},p{i}@example.com\n" for i in range(count))
    source = io.StringIO("name,email\n" + rows, newline="")
    import_records(db, "users", source, fmt="csv", actor=actor, dry_run=False)


def test_the_plan_names_the_record_each_field_who_and_when_and_changes_nothing(
    db: Database, actor: Actor
) -> None:
    user = db.users.create({"name": "Ada", "email": "ada@example.com"}, actor=actor)
    db.users.update(user.id, {"name": "Ada L.", "role": "admin"}, expected_version=1, actor=actor)
    plan = db.audit.undo_plan(actor=actor)
    assert (plan.kind, plan.action, plan.actor, plan.total, plan.left) == (
        "undo",
        "update",
        "alice from 10.0.0.7",
        1,
        1,
    )
    assert plan.at is not None
    (record,) = plan.records
    assert record.effect == "update"
    assert record.label == f"user {user.id} <ada@example.com>"
    assert set(record.changes) == {("name", "Ada L.", "Ada"), ("role", "admin", "viewer")}
    assert plan.lost == ()
    assert db.users.get(user.id).name == "Ada L."  # planning writes nothing

    result = db.audit.take_back(plan, actor=actor)
    assert (db.users.get(user.id).name, db.users.get(user.id).role) == ("Ada", "viewer")
    assert result.entries[0].reverts_id is not None


def test_redo_brings_back_what_was_undone_newest_first_and_is_audited(
    db: Database, actor: Actor
) -> None:
    user = db.users.create({"name": "Bo", "email": "bo@example.com"}, actor=actor)
    db.users.update(user.id, {"name": "Bob"}, expected_version=1, actor=actor)
    db.users.update(user.id, {"role": "editor"}, expected_version=2, actor=actor)
    db.audit.take_back(db.audit.undo_plan(actor=actor), actor=actor)  # the role
    db.audit.take_back(db.audit.undo_plan(actor=actor), actor=actor)  # the name
    assert (db.users.get(user.id).name, db.users.get(user.id).role) == ("Bo", "viewer")

    redo = db.audit.redo_plan(actor=actor)
    assert redo.kind == "redo"
    assert redo.records[0].changes == (("name", "Bo", "Bob"),)
    db.audit.take_back(redo, actor=actor)
    assert db.users.get(user.id).name == "Bob"
    db.audit.take_back(db.audit.redo_plan(actor=actor), actor=actor)
    assert db.users.get(user.id).role == "editor"
    with pytest.raises(NotFound, match="Nothing to redo"):
        db.audit.redo_plan(actor=actor)
    # A redo is undone like any change, and that undo can be redone again.
    assert db.audit.undo_plan(actor=actor).records[0].changes == (("role", "editor", "viewer"),)
    db.audit.undo_last(actor=actor)
    assert db.users.get(user.id).role == "viewer"
    db.audit.take_back(db.audit.redo_plan(actor=actor), actor=actor)
    assert db.users.get(user.id).role == "editor"
    actions = [e.action for e in db.audit.page(PageRequest(limit=50)).records]
    assert actions.count("restore") == 6


def test_a_new_change_after_an_undo_clears_redo(db: Database, actor: Actor) -> None:
    user = db.users.create({"name": "Cy", "email": "cy@example.com"}, actor=actor)
    db.users.update(user.id, {"name": "Cyd"}, expected_version=1, actor=actor)
    db.audit.undo_last(actor=actor)
    assert db.audit.redo_plan(actor=actor).records
    db.users.update(user.id, {"role": "admin"}, expected_version=3, actor=actor)
    with pytest.raises(NotFound, match="Nothing to redo"):
        db.audit.redo_plan(actor=actor)


def test_undo_and_redo_refuse_when_anything_moved_on_since_the_plan(
    db: Database, actor: Actor, other_actor: Actor
) -> None:
    user = db.users.create({"name": "Di", "email": "di@example.com"}, actor=actor)
    db.users.update(user.id, {"name": "Diana"}, expected_version=1, actor=actor)
    plan = db.audit.undo_plan(actor=actor)
    db.users.update(user.id, {"role": "editor"}, expected_version=2, actor=other_actor)
    with pytest.raises(Conflict):
        db.audit.take_back(plan, actor=actor)
    assert (db.users.get(user.id).name, db.users.get(user.id).role) == ("Diana", "editor")

    # The same console undid something else in between (another `u` elsewhere): the plan
    # shown is no longer what it would do.
    other = db.users.create({"name": "Ed", "email": "ed@example.com"}, actor=actor)
    stale = db.audit.undo_plan(actor=actor)
    db.audit.undo_last(actor=actor)
    with pytest.raises(Conflict, match="changed since it was shown"):
        db.audit.take_back(stale, actor=actor)
    redo = db.audit.redo_plan(actor=actor)
    db.users.create({"name": "Flo", "email": "flo@example.com"}, actor=other_actor)
    db.audit.take_back(redo, actor=actor)  # a colleague's unrelated work does not matter
    assert db.users.get(other.id).name == "Ed"


def test_undo_takes_back_only_this_consoles_changes(db: Database, actor: Actor) -> None:
    """Same admin, two consoles: each undoes its own work, never the other's."""
    console_2 = actor._replace(source="console:two")
    mine = db.users.create({"name": "Gus", "email": "gus@example.com"}, actor=actor)
    db.users.create({"name": "Hal", "email": "hal@example.com"}, actor=console_2)
    plan = db.audit.undo_plan(actor=actor)
    assert plan.records[0].label == f"user {mine.id} <gus@example.com>"
    db.audit.take_back(plan, actor=actor)
    with pytest.raises(NotFound):
        db.users.get(mine.id)
    assert find(db, "users", "hal@example.com").name == "Hal"
    with pytest.raises(NotFound, match="Nothing to undo"):
        db.audit.undo_plan(actor=actor)


def test_the_plan_says_a_deleted_users_password_cannot_come_back(
    db: Database, actor: Actor
) -> None:
    user = db.users.create({"name": "Ivy", "email": "ivy@example.com"}, actor=actor)
    user = db.users.set_secret(user.id, "a long passphrase here", expected_version=1, actor=actor)
    db.users.delete(user.id, expected_version=user.version, actor=actor)
    plan = db.audit.undo_plan(actor=actor)
    assert plan.records[0].effect == "recreate"
    assert plan.lost == (
        "A password is never kept in the audit: the user comes back without one "
        "(set a new one after).",
    )
    db.audit.take_back(plan, actor=actor)
    assert db.users.get(user.id).has_password is False
    assert not password_matches(db, "ivy@example.com", "a long passphrase here")


def test_a_big_undo_runs_in_chunks_resumes_where_it_stopped_and_lets_colleagues_save(
    db: Database, actor: Actor, other_actor: Actor
) -> None:
    colleague = db.users.create({"name": "Kai", "email": "kai@example.com"}, actor=other_actor)
    _import_users(db, actor, 10)
    assert db.users.count() == 11
    plan = db.audit.undo_plan(actor=actor)
    assert (plan.action, plan.total, plan.left) == ("create", 10, 10)
    heard: list[tuple[int, int]] = []

    def colleague_saves_then_console_dies(done: int, total: int) -> None:
        heard.append((done, total))
        # Between two chunks no lock is held: a colleague's save goes through at once.
        version = db.users.get(colleague.id).version
        db.users.update(
            colleague.id, {"name": f"Kai {done}"}, expected_version=version, actor=other_actor
        )
        if done >= 6:
            raise Stop

    with pytest.raises(Stop):
        take_back(
            db.sessions, plan, actor=actor, progress=colleague_saves_then_console_dies, chunk=3
        )
    assert heard == [(3, 10), (6, 10)]
    assert db.users.count() == 5
    assert db.users.get(colleague.id).name == "Kai 6"

    rest = db.audit.undo_plan(actor=actor)
    assert rest.resumes
    assert (rest.batch, rest.total, rest.left) == (plan.batch, 10, 4)
    assert rest.into is not None
    db.audit.take_back(rest, actor=actor)
    assert [u.name for u in db.users.page(PageRequest()).records] == ["Kai 6"]
    undo_batches = {
        e.batch for e in db.audit.page(PageRequest(limit=50)).records if e.action == "restore"
    }
    assert undo_batches == {rest.into}  # one undo, however many sittings: redone whole

    redo = db.audit.redo_plan(actor=actor)
    assert (redo.total, redo.left) == (10, 10)
    db.audit.take_back(redo, actor=actor)
    assert db.users.count() == 11


def test_a_colleagues_change_stops_a_big_undo_at_its_chunk_and_says_how_far_it_got(
    db: Database, actor: Actor, other_actor: Actor
) -> None:
    _import_users(db, actor, 10)
    oldest = find(db, "users", "p0@example.com")
    db.users.update(oldest.id, {"role": "admin"}, expected_version=1, actor=other_actor)
    plan = db.audit.undo_plan(actor=actor)
    # Newest first in threes: p9-p7, p6-p4, p3-p1, then p0, which bob changed since.
    with pytest.raises(Conflict, match="9 of 10 were taken back before it; press u again"):
        take_back(db.sessions, plan, actor=actor, chunk=3)
    assert db.users.count() == 1
    assert find(db, "users", "p0@example.com").role == "admin"
    rest = db.audit.undo_plan(actor=actor)
    assert (rest.left, rest.resumes) == (1, True)
