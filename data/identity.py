"""Which record an audit entry was written for, told apart from a later record with its id.

Before migration 0005, SQLite gave a deleted newest row's id to the next new row, so one id
in the audit trail can name two records in turn. Ids are never reused since; the entries
written before that are what this module guards against.

A record's identity is the audit entry that brought it into being: its "create" (a form,
the CLI or an import, one entry per row), the "seed" that filled the empty tables, or, for
a record a restore brought back, the identity of the record the restored entry was written
for. Entries about a record before it had any of these (rows older than the trail) share
identity 0. The trail is written in the changing transaction, so it knows every birth; its
ids come from the database, so no two clocks are compared (the admins' clocks may differ);
and it needs nothing from entries written before this check existed, which are exactly
the ones that may name reused ids. A row another program put under a used id has no birth
in the trail; its ``created_at`` then differs from the one its id's "create" entry
recorded (a restore puts ``created_at`` back too), which gives it away.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.errors import NotRestorable
from data.specs import SPECS, EntitySpec
from data.trail import to_json
from models import AuditEntry

PREDATES_TRAIL = 0


def identity(session: Session, entity: str, record_id: int, *, upto: int | None = None) -> int:
    """The id of the audit entry that brought record ``entity`` ``record_id`` into being,
    as the trail stood at entry ``upto`` (None: now); `PREDATES_TRAIL` when none did.

    Both lookups walk the (entity, record_id) index, however long the trail.
    """
    births = (
        select(AuditEntry.id, AuditEntry.action, AuditEntry.old_values, AuditEntry.reverts_id)
        .where(
            AuditEntry.entity == entity,
            AuditEntry.record_id == record_id,
            AuditEntry.action.in_(("create", "restore")),
        )
        .order_by(AuditEntry.id.desc())
    )
    if upto is not None:
        births = births.where(AuditEntry.id <= upto)
    seed = _newest_seed(session, upto)
    for entry_id, action, old_values, reverts_id in session.execute(births).all():
        if seed > entry_id:
            return seed
        if action != "restore":
            return int(entry_id)
        if old_values is None and reverts_id is not None:
            # A restore that brought a deleted record back: it is the record it was before.
            return identity(session, entity, record_id, upto=reverts_id)
        # Other restores set fields back on a record that was there already.
    return seed


def _newest_seed(session: Session, upto: int | None) -> int:
    """The newest "seed" entry up to ``upto`` (`PREDATES_TRAIL`: none). A seed fills empty
    tables and writes one entry about them all, with no record id, under a table's name."""
    seeds = select(func.max(AuditEntry.id)).where(
        AuditEntry.entity.in_([spec.plural for spec in SPECS.values()]),
        AuditEntry.record_id.is_(None),
        AuditEntry.action == "seed",
    )
    if upto is not None:
        seeds = seeds.where(AuditEntry.id <= upto)
    return int(session.scalar(seeds) or PREDATES_TRAIL)


def same_record(session: Session, spec: EntitySpec[Any, Any], record_id: int, *, upto: int) -> bool:
    """Whether record ``record_id`` now is the one that held that id at entry ``upto``."""
    now = identity(session, spec.entity, record_id)
    if identity(session, spec.entity, record_id, upto=upto) != now:
        return False
    created = spec.model.__table__.c.get("created_at")
    if now == PREDATES_TRAIL or created is None:
        return True
    birth = session.get(AuditEntry, now)
    recorded = (birth.new_values or {}).get("created_at") if birth is not None else None
    if recorded is None:  # a seed: no values per record
        return True
    current = session.scalar(select(created).where(spec.model.__table__.c.id == record_id))
    return current is None or to_json(current) == recorded


def require_same_record(session: Session, spec: EntitySpec[Any, Any], entry: AuditEntry) -> None:
    """Refuse, with `NotRestorable` naming why, when the record now holding ``entry``'s id
    is not the one ``entry`` was written for."""
    if entry.record_id is None or same_record(session, spec, entry.record_id, upto=entry.id):
        return
    raise NotRestorable(
        f"{spec.entity.capitalize()} {entry.record_id} is not the {spec.entity} audit entry "
        f"{entry.id} was written for: that one was deleted, and another {spec.entity} has "
        "its id now (given out again before ids were kept unique, or written by another "
        "program). Nothing was changed."
    )


def drop_other_targets(session: Session, entry: AuditEntry, values: dict[str, Any]) -> None:
    """Empty each reference in ``values`` (restored from ``entry``) whose target is gone, or
    is no longer the record ``entry`` saw there: a product must not pass to a stranger who
    took its old owner's id."""
    spec = SPECS[entry.entity]
    for column in spec.model.__table__.columns:
        value = values.get(column.name)
        if value is None:
            continue
        for foreign_key in column.foreign_keys:
            target = foreign_key.column
            if session.scalar(select(target).where(target == value)) is None:
                values[column.name] = None
                continue
            target_spec = _spec_of_table(target.table.name)
            if target_spec is not None and not same_record(
                session, target_spec, int(value), upto=entry.id
            ):
                values[column.name] = None


def _spec_of_table(table: str) -> EntitySpec[Any, Any] | None:
    return next((spec for spec in SPECS.values() if spec.model.__tablename__ == table), None)
