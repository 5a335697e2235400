"""Imports you can trust: a row with an id updates that record, and the report shows what
each row changes. Every test runs on SQLite, PostgreSQL and MariaDB (the ``db`` fixture).
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

import data.transfer
from data.actor import Actor
from data.audit_record import AuditRecord
from data.database import Database
from data.import_report import ImportReport
from data.records import PageRequest
from data.transfer import Format, export_records, import_records
from tests.data_support import find


def _export(db: Database, entity: str, fmt: Format) -> str:
    out = io.StringIO(newline="")
    export_records(db, entity, out, fmt=fmt)
    return out.getvalue()


def _import(
    db: Database, entity: str, text: str, actor: Actor, *, fmt: Format = "csv", dry_run: bool
) -> ImportReport:
    source = io.StringIO(text, newline="")
    return import_records(db, entity, source, fmt=fmt, actor=actor, dry_run=dry_run)


def _counts(report: ImportReport) -> tuple[int, int, int, int]:
    return tuple(report.count(o) for o in ("add", "update", "unchanged", "refused"))  # type: ignore[return-value]


def _refusals(report: ImportReport) -> list[tuple[int, dict[str, str]]]:
    return [(row.line, row.errors) for row in report.refused]


def _audit(db: Database) -> list[AuditRecord]:
    return list(reversed(db.audit.page(PageRequest(limit=1000)).records))


@pytest.fixture
def people(db: Database, actor: Actor) -> tuple[Any, Any]:
    """Two users."""
    ana = db.users.create({"name": "Ana Lima", "email": "ana@example.com"}, actor=actor)
    bo = db.users.create({"name": "Bo Chen", "email": "bo@example.com"}, actor=actor)
    return ana, bo


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_an_exported_file_with_an_edited_email_updates_that_user(
    db: Database, actor: Actor, people: tuple[Any, Any], fmt: Format
) -> None:
    ana, bo = people
    exported = _export(db, "users", fmt)
    edited = exported.replace("ana@example.com", "ana.lima@example.org")
    entries = len(_audit(db))

    dry = _import(db, "users", edited, actor, fmt=fmt, dry_run=True)
    assert _counts(dry) == (0, 1, 1, 0)
    [row] = dry.changed
    assert (row.line, row.outcome, row.record_id, row.key) == (
        2 if fmt == "csv" else 1,
        "update",
        ana.id,
        "ana.lima@example.org",
    )
    assert [(c.field, c.old, c.new) for c in row.changes] == [
        ("email", "ana@example.com", "ana.lima@example.org")
    ]

    applied = _import(db, "users", edited, actor, fmt=fmt, dry_run=False)
    assert (applied.applied, _counts(applied)) == (True, (0, 1, 1, 0))
    users = list(db.users.stream(PageRequest(sort="id")))
    assert [(u.id, u.email) for u in users] == [
        (ana.id, "ana.lima@example.org"),
        (bo.id, "bo@example.com"),
    ]
    assert users[0].version == ana.version + 1
    update, batch = _audit(db)[entries:]
    assert (update.action, update.record_id, update.old, update.new) == (
        "update",
        ana.id,
        {"email": "ana@example.com", "version": ana.version},
        {"email": "ana.lima@example.org", "version": ana.version + 1},
    )
    assert (batch.action, batch.new) == ("import", {"added": 0, "updated": 1, "unchanged": 1})


def test_an_id_no_record_has_is_refused_naming_the_line(
    db: Database, actor: Actor, people: tuple[Any, Any]
) -> None:
    text = "id,name,email\n999999,Nobody,nobody@example.com\n,New Person,new@example.com\n"
    report = _import(db, "users", text, actor, dry_run=False)
    assert (report.applied, _counts(report)) == (False, (1, 0, 0, 1))
    assert _refusals(report) == [
        (2, {"id": "no user has id 999999 (leave the id empty to add it as a new user)"})
    ]
    assert db.users.count() == 2  # the valid new row is not written either


def test_an_email_that_belongs_to_another_user_is_refused(
    db: Database, actor: Actor, people: tuple[Any, Any]
) -> None:
    ana, bo = people
    text = f"id,name,email\n{ana.id},Ana Lima,BO@example.com\n"
    report = _import(db, "users", text, actor, dry_run=False)
    assert (report.applied, _counts(report)) == (False, (0, 0, 0, 1))
    reason = f"bo@example.com belongs to another user (id {bo.id}), not to user {ana.id}"
    assert _refusals(report) == [(2, {"email": reason})]
    assert db.users.get(ana.id) == ana


def test_an_id_given_twice_or_unreadable_is_refused(
    db: Database, actor: Actor, people: tuple[Any, Any]
) -> None:
    ana, _bo = people
    text = (
        "id,name,email\n"
        f"{ana.id},Ana One,ana@example.com\n"
        f"{ana.id},Ana Two,ana2@example.com\n"
        "twelve,Who,who@example.com\n"
        "0,Zero,zero@example.com\n"
    )
    report = _import(db, "users", text, actor, dry_run=True)
    not_an_id = "must be a record id (a whole number from 1), or empty for a new record"
    assert _refusals(report) == [
        (3, {"id": "appears twice, first at line 2"}),
        (4, {"id": not_an_id}),
        (5, {"id": not_an_id}),
    ]
    as_json = json.dumps([{"id": True, "name": "T", "email": "t@example.com"}])
    report = _import(db, "users", as_json, actor, fmt="json", dry_run=True)
    assert _refusals(report) == [(1, {"id": not_an_id})]


def test_without_an_id_rows_are_matched_by_email_as_before(
    db: Database, actor: Actor, people: tuple[Any, Any]
) -> None:
    ana, _bo = people
    text = "name,email,role\nAna L.,ANA@example.com,admin\nCy Dale,cy@example.com,\n"
    report = _import(db, "users", text, actor, dry_run=False)
    assert (report.applied, _counts(report)) == (True, (1, 1, 0, 0))
    stored = db.users.get(ana.id)
    assert (stored.name, stored.email, stored.role) == ("Ana L.", "ana@example.com", "admin")
    assert find(db, "users", "cy@example.com").role == "viewer"
    # A blank id in a file with an id column is a row without one.
    again = _import(db, "users", "id,name,email\n,Ana L.,ana@example.com\n", actor, dry_run=True)
    assert _counts(again) == (0, 0, 1, 0)


def test_the_report_keeps_each_change_with_old_and_new_values(
    db: Database, actor: Actor, people: tuple[Any, Any]
) -> None:
    desk = db.products.create(
        {"sku": "D-1", "name": "Desk", "price": "120.00", "stock": 3, "owner": "ana@example.com"},
        actor=actor,
    )
    text = (
        "id,sku,name,price,stock,owner_email\n"
        f"{desk.id},D-1,Desk,125.50,3,bo@example.com\n"
        ",L-1,Lamp,9.99,,\n"
    )
    report = _import(db, "products", text, actor, dry_run=True)
    assert _counts(report) == (1, 1, 0, 0)
    update, add = report.changed
    assert (update.outcome, update.record_id) == ("update", desk.id)
    assert [(c.field, c.old, c.new) for c in update.changes] == [
        ("price", "120.00", "125.50"),
        ("owner_email", "ana@example.com", "bo@example.com"),
    ]
    assert (add.outcome, add.record_id, add.key) == ("add", None, "L-1")
    assert [(c.field, c.old, c.new) for c in add.changes] == [
        ("sku", None, "L-1"),
        ("name", None, "Lamp"),
        ("price", None, "9.99"),
        ("owner_email", None, None),
    ]
    assert report.changed_left_out == 0


def test_the_report_keeps_the_first_changes_and_counts_the_rest(
    db: Database, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data.transfer, "CHANGED_KEPT", 3)
    monkeypatch.setattr(data.transfer, "WRITE_BATCH", 2)
    rows = "".join(f"Person {n},p{n}@example.com\n" for n in range(7))
    report = _import(db, "users", "name,email\n" + rows, actor, dry_run=True)
    assert [row.line for row in report.changed] == [2, 3, 4]
    assert (report.count("add"), report.changed_left_out) == (7, 4)
