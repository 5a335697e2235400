"""Three-way merge at save: what the editor loaded (base), what it changed (mine), and what
is stored now (theirs), compared field by field.

A save from an editor that knows its base no longer fails just because a colleague saved
the record meanwhile: fields only one side changed merge, a field both changed to the same
value is no conflict, and only fields both changed to different values are refused
(`Conflict` names them). The merge writes only the editor's own changed fields, so nobody's
change to a field the editor never touched is put back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.changes import Change
from data.entity import Entity
from models import AuditEntry, Malformed

RecordT = TypeVar("RecordT")

# How far back `changes_since` reads one record's trail: a form open across more saves than
# this still merges correctly, it just names only the newest of them.
TRAIL_LIMIT = 200


@dataclass(frozen=True)
class Updated(Generic[RecordT]):
    """What a save with a base did: the record as saved, the fields it wrote, and the saves
    by others since the editor's version that it merged with (oldest first; empty when the
    record had not moved on)."""

    record: RecordT
    written: tuple[str, ...]
    merged: tuple[Change, ...]

    @property
    def merged_note(self) -> str | None:
        """``Merged with bob's change to email``, or None when nothing was merged."""
        return merged_note(self.merged)


@dataclass(frozen=True)
class Plan:
    """The outcome of comparing base, mine and theirs for one record."""

    write: dict[str, Any]
    """The fields to write (mine, changed from the base and not already stored): field ->
    the value as the editor gave it (validated)."""
    conflicts: tuple[str, ...]
    """Fields both sides changed, to different values: nothing may be written."""


def field_values(declared: Entity, record: Any) -> dict[str, Any]:
    """Every editable field of ``record`` as stored (a relation as the id it holds): the
    ``base`` an editor passes to `RecordStore.update` for the record it loaded."""
    return {item.name: getattr(record, item.stored_as) for item in declared.editable}


def plan(
    *,
    clean: Mapping[str, Any],
    mine: Mapping[str, Any],
    base: Mapping[str, Any],
    theirs: Mapping[str, Any],
) -> Plan:
    """Compare field by field. ``clean`` is the validated changes (field -> value as given),
    ``mine`` the same fields as they would be stored (a relation's key as an id); ``base``
    and ``theirs`` are stored values, field -> value.

    A field in ``clean`` missing from ``base`` is taken as unchanged by others.
    """
    write: dict[str, Any] = {}
    conflicts: list[str] = []
    for name, value in clean.items():
        stored = _plain(theirs[name])
        was = _plain(base[name]) if name in base else stored
        if _same(mine[name], was):
            continue  # not my change: whatever is stored now stays
        if _same(mine[name], stored):
            continue  # they made the same change: nothing to write, nothing to refuse
        if not _same(stored, was):
            conflicts.append(name)
            continue
        write[name] = value
    return Plan(write=write, conflicts=tuple(conflicts))


def _plain(value: Any) -> Any:
    """A value as the driver gave it: a malformed one compares by what is stored."""
    return value.stored if isinstance(value, Malformed) else value


def _same(left: Any, right: Any) -> bool:
    # == so that 12.5 and 12.50 are one price; a flag is not a count (True == 1).
    return type(left) is type(right) and left == right if isinstance(left, bool) else left == right


def changes_since(
    session: Session, declared: Entity, record_id: int, version: int
) -> tuple[Change, ...]:
    """The saves of the record after ``version``, oldest first, from its audit trail: who,
    when, and which fields (by field name, a relation as its own name)."""
    names = {item.stored_as: item.name for item in declared.fields}
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.entity == declared.entity, AuditEntry.record_id == record_id)
        .order_by(AuditEntry.id.desc())
        .limit(TRAIL_LIMIT)
    )
    found: list[Change] = []
    for entry in session.scalars(stmt):
        reached = (entry.new_values or {}).get("version")
        if not isinstance(reached, int) or reached <= version:
            break
        fields = [key for key in entry.new_values or {} if key != "version"]
        found.append(
            Change(
                entry_id=entry.id,
                entity=entry.entity,
                record_id=record_id,
                action=entry.action,
                actor=entry.actor,
                source=entry.source,
                at=entry.at,
                fields=tuple(names.get(key, key) for key in fields),
            )
        )
    return tuple(reversed(found))


def merged_note(changes: Iterable[Change]) -> str | None:
    """``Merged with bob's change to email`` (and ``carol's change to role, stock``), or None.

    A longer actor label (``root (sudo: bob) from 10.0.0.8``) reads as ``the change to email
    by root (sudo: bob) from 10.0.0.8``.
    """
    parts = [_whose(change) for change in changes if change.fields]
    if not parts:
        return None
    return "Merged with " + " and ".join(parts)


def _whose(change: Change) -> str:
    fields = ", ".join(change.fields)
    if " " in change.actor or not change.actor:
        return f"the change to {fields} by {change.actor or 'someone'}"
    return f"{change.actor}'s change to {fields}"


__all__ = ["TRAIL_LIMIT", "Plan", "Updated", "changes_since", "field_values", "merged_note", "plan"]
