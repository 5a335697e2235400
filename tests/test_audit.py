"""The audit trail is exact, secrets stay out of it, and undo restores from it."""

from __future__ import annotations

import json
import os
import pwd

import pytest
from sqlalchemy import select, text

from data.actor import Actor, sudo_user_of
from data.database import Database
from data.errors import Conflict, Invalid, NotFound
from data.records import PageRequest
from models import AuditEntry


def test_create_update_delete_write_exact_entries_in_order(db: Database, actor: Actor) -> None:
    user = db.users.create({"name": "Lea", "email": "lea@example.com"}, actor=actor)
    db.users.update(user.id, {"name": "Léa", "role": "editor"}, expected_version=1, actor=actor)
    db.users.delete(user.id, expected_version=2, actor=actor)
    entries = list(reversed(db.audit.page(PageRequest(limit=10)).records))
    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert all(e.entity == "user" and e.record_id == user.id for e in entries)
    assert all(e.actor == "alice from 10.0.0.7" for e in entries)
    create, update, delete = entries
    assert create.old is None
    assert create.new is not None
    assert {k: create.new[k] for k in ("name", "email", "role", "is_active", "version")} == {
        "name": "Lea",
        "email": "lea@example.com",
        "role": "viewer",
        "is_active": True,
        "version": 1,
    }
    assert update.old == {"name": "Lea", "role": "viewer", "version": 1}
    assert update.new == {"name": "Léa", "role": "editor", "version": 2}
    assert update.changes == {"name": ("Lea", "Léa"), "role": ("viewer", "editor")}
    assert delete.new is None
    assert delete.old is not None
    assert delete.old["name"] == "Léa"
    assert len({e.batch for e in entries}) == 3


def test_actor_records_a_real_sudos_user_and_the_ssh_client() -> None:
    nobody = pwd.getpwnam("nobody")
    sudo = {"SUDO_USER": "nobody", "SUDO_UID": str(nobody.pw_uid)}
    assert sudo_user_of(sudo, euid=0) == "nobody"
    # Believed only as root, and only when the name and uid agree with the password file.
    assert sudo_user_of(sudo, euid=nobody.pw_uid) is None
    assert sudo_user_of({**sudo, "SUDO_UID": "0"}, euid=0) is None
    assert sudo_user_of({"SUDO_USER": "mallory", "SUDO_UID": "1000"}, euid=0) is None
    assert sudo_user_of({"SUDO_USER": "nobody"}, euid=0) is None
    actor = Actor.from_environment(
        source="cli",
        environ={"USER": "mallory", "SSH_CONNECTION": "203.0.113.9 50022 10.0.0.1 22"},
    )
    assert actor.os_user == pwd.getpwuid(os.getuid()).pw_name
    assert actor.client_addr == "203.0.113.9"
    assert actor.source == "cli"
    root = Actor(os_user="root", sudo_user="alice", client_addr="203.0.113.9")
    assert root.label == "root (sudo: alice) from 203.0.113.9"
    assert Actor(os_user="alice").label == "alice"


def test_a_no_change_save_writes_no_entry_and_keeps_the_version(db: Database, actor: Actor) -> None:
    user = db.users.create({"name": "Same", "email": "same@example.com"}, actor=actor)
    saved = db.users.update(user.id, {"name": " Same "}, expected_version=1, actor=actor)
    assert saved.version == 1
    assert db.audit.count() == 1


def test_password_is_hashed_with_argon2id_and_never_audited_or_returned(
    db: Database, actor: Actor
) -> None:
    user = db.users.create({"name": "Pat", "email": "pat@example.com"}, actor=actor)
    secret = "correct horse battery staple"
    updated = db.users.set_secret(user.id, secret, expected_version=1, actor=actor)
    assert updated.has_password is True
    assert not any("hash" in field for field in vars(updated))
    assert db.users.check_secret("pat@example.com", secret)
    assert not db.users.check_secret("pat@example.com", "wrong password")
    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM users")).scalar_one()
        trail = connection.execute(text("SELECT old_values, new_values FROM audit_entries")).all()
    assert stored.startswith("$argon2id$")
    dumped = json.dumps([list(map(str, row)) for row in trail])
    assert secret not in dumped
    assert "argon2" not in dumped
    entry = db.audit.page(PageRequest(limit=1)).records[0]
    assert (entry.action, entry.old, entry.new) == (
        "password",
        {"password": "not set", "version": 1},
        {"password": "changed", "version": 2},
    )


def test_undo_reverts_update_delete_and_create_newest_first(db: Database, actor: Actor) -> None:
    user = db.users.create({"name": "Uma", "email": "uma@example.com"}, actor=actor)
    product = db.products.create(
        {"sku": "U1", "name": "Umbrella", "price": "9.90", "owner": user.id}, actor=actor
    )
    db.products.update(product.id, {"price": "12.00"}, expected_version=1, actor=actor)
    db.users.delete(user.id, expected_version=1, actor=actor)
    assert db.products.get(product.id).owner_id is None

    result = db.audit.undo_last(actor=actor)  # the delete, with its unlinked product
    assert len(result.entries) == 2
    restored = db.users.get(user.id)
    assert (restored.id, restored.email, restored.name) == (user.id, "uma@example.com", "Uma")
    assert db.products.get(product.id).owner_id == user.id

    db.audit.undo_last(actor=actor)  # the price change
    assert str(db.products.get(product.id).price) == "9.90"
    db.audit.undo_last(actor=actor)  # the product's creation
    with pytest.raises(NotFound):
        db.products.get(product.id)
    db.audit.undo_last(actor=actor)  # the user's creation
    assert db.users.count() == 0
    with pytest.raises(NotFound):
        db.audit.undo_last(actor=actor)
    restores = [e for e in db.audit.page(PageRequest(limit=50)).records if e.action == "restore"]
    assert len(restores) == 5
    assert all(e.reverts_id is not None for e in restores)


def test_undo_never_overwrites_a_colleagues_later_change(
    db: Database, actor: Actor, other_actor: Actor
) -> None:
    user = db.users.create({"name": "Vic", "email": "vic@example.com"}, actor=other_actor)
    db.users.update(user.id, {"name": "Victor"}, expected_version=1, actor=actor)
    db.users.update(user.id, {"role": "admin"}, expected_version=2, actor=other_actor)
    with pytest.raises(Conflict) as conflict:
        db.audit.undo_last(actor=actor)
    assert conflict.value.current is not None
    assert conflict.value.current.role == "admin"
    assert db.users.get(user.id).name == "Victor"


def test_undo_only_sees_this_consoles_changes(
    db: Database, actor: Actor, other_actor: Actor
) -> None:
    db.users.create({"name": "Mine", "email": "mine@example.com"}, actor=actor)
    db.users.create({"name": "Theirs", "email": "theirs@example.com"}, actor=other_actor)
    db.audit.undo_last(actor=actor)
    assert [u.name for u in db.users.page(PageRequest()).records] == ["Theirs"]


def test_undo_of_a_bulk_delete_restores_every_row(db: Database, actor: Actor) -> None:
    rows = [
        db.products.create({"sku": f"K{i}", "name": "K", "price": "1"}, actor=actor)
        for i in range(4)
    ]
    db.products.delete_many({r.id: r.version for r in rows}, actor=actor)
    result = db.audit.undo_last(actor=actor)
    assert len(result.entries) == 4
    assert sorted(p.id for p in db.products.stream(PageRequest())) == sorted(r.id for r in rows)
    assert all(p.version == 2 for p in db.products.stream(PageRequest()))


def test_audit_search_by_actor_and_record(db: Database, actor: Actor, other_actor: Actor) -> None:
    user = db.users.create({"name": "Wes", "email": "wes@example.com"}, actor=actor)
    db.users.create({"name": "Xia", "email": "xia@example.com"}, actor=other_actor)
    assert db.audit.count(search="bob") == 1
    assert db.audit.count(search=f"user {user.id}") == 1
    assert [e.record_id for e in db.audit.for_record("user", user.id)] == [user.id]
    entry = db.audit.page(PageRequest(search="alice")).records[0]
    assert db.audit.get(entry.id) == entry


def test_writes_and_their_entries_share_one_transaction(db: Database, actor: Actor) -> None:
    db.users.create({"name": "Yan", "email": "yan@example.com"}, actor=actor)
    with pytest.raises(Invalid):
        db.users.create({"name": "Yan 2", "email": "YAN@example.com"}, actor=actor)
    with db.sessions() as session:
        assert len(session.scalars(select(AuditEntry)).all()) == 1
