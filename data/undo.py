"""Undo and redo of one console's own changes: a plan to show first, then the act.

A console's changes are read from the audit trail, by the actor's ``source`` (unique per
console run), as a stack of batches (one batch: one unit of work):

- a *change* batch holds creates, updates and deletes (the admin's own work);
- an *undo* batch holds restores that revert a change or a redo;
- a *redo* batch holds restores that revert an undo.

`u` takes back the newest change or redo batch that still has entries in effect; redo
takes back the newest undo batch newer than the console's newest change (a new change
clears redo, as in an editor). Each is asked first: `plan` says what would happen, and
`take_back` re-checks that the plan is still what it would do before it writes anything.

A big batch (an import) is taken back in chunks, each its own short transaction, newest
first, so colleagues' saves wait at most one chunk. Stopped half way (a conflict, a
crash, Escape), the batch keeps its remaining entries and the next `u` continues them
into the same undo batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from data.actor import Actor
from data.audit import UNDOABLE_ACTIONS, UndoResult, plan_restore, revert, to_record
from data.audit_record import AuditRecord
from data.bulk import cycle_collection_paused, roomy_sqlite_cache, table_of
from data.entity import counted
from data.errors import Conflict, NotFound, NotRestorable
from data.lock_wait import lock_rows
from data.specs import SPECS, EntitySpec
from data.trail import new_batch, to_json, write_restores
from data.translate import StaleWrite
from data.unit import reading, writing
from models import AuditEntry

Kind = Literal["undo", "redo"]
BatchKind = Literal["change", "undo", "redo", "other"]

# Entries taken back per transaction: a colleague's save waits for one chunk at most.
UNDO_CHUNK = 1000
# After each chunk on SQLite, the database lock is left free this long. SQLite's busy
# handler has a writer that waits poll at most every 100 ms: without the pause, the next
# chunk's BEGIN IMMEDIATE wins every time and a colleague's save waits for the whole undo.
# Servers lock rows, not the database, and queue waiting writers: no pause there.
SQLITE_PAUSE_S = 0.11
# Records the confirm names one by one; the rest are counted.
RECORDS_SHOWN = 4
TAKEN_BACK = (*UNDOABLE_ACTIONS, "restore")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PlannedRecord:
    """One record an undo or redo changes: its label, what happens to it, and each field
    as (name, value now, value after); None where the record is absent."""

    label: str
    effect: Literal["update", "recreate", "delete"]
    changes: tuple[tuple[str, Any, Any], ...]


@dataclass(frozen=True)
class UndoPlan:
    """What `take_back` would do now, for the admin to confirm.

    ``batch`` is the unit of work taken back, made by ``actor`` at ``at`` (its ``action``:
    create, update, delete, or restore; ``made_as`` says whether it was a change, an undo
    or a redo). ``left`` of its
    ``total`` entries are still in effect (fewer: an earlier undo stopped half way, and
    this one continues it into ``into``). ``records`` names the first few records, and
    ``lost`` says what cannot come back (a password is never kept in the audit).
    """

    kind: Kind
    batch: str
    into: str | None
    action: str
    made_as: BatchKind
    actor: str
    at: datetime
    total: int
    left: int
    records: tuple[PlannedRecord, ...]
    lost: tuple[str, ...]

    @property
    def resumes(self) -> bool:
        """Whether an earlier undo (or redo) of this batch stopped half way."""
        return self.left < self.total


@dataclass(frozen=True)
class _Batch:
    batch: str
    kind: BatchKind
    total: int
    left: int


def plan(sessions: sessionmaker[Session], actor: Actor, kind: Kind) -> UndoPlan:
    """What ``kind`` (undo or redo) would take back for ``actor`` now; `NotFound` if nothing."""
    with reading(sessions) as session:
        target = _target(session, actor, kind)
        if target is None:
            raise NotFound(_NOTHING[kind])
        return _describe(session, actor, kind, target)


def take_back(
    sessions: sessionmaker[Session],
    planned: UndoPlan,
    *,
    actor: Actor,
    progress: Progress | None = None,
    chunk: int | None = None,
) -> UndoResult:
    """Do what ``planned`` says, if it is still what ``plan`` would say; else `Conflict`.

    Chunks of ``chunk`` (default `UNDO_CHUNK`) entries, newest first, each its own
    transaction; ``progress`` hears (done, total) after each and may raise to stop (what
    is done stays done, and the next undo continues). A record changed since by anyone
    else refuses its chunk with `Conflict`, saying how many were taken back before it.
    """
    into = planned.into or new_batch()
    size = chunk or UNDO_CHUNK
    written: list[AuditRecord] = []
    done = planned.total - planned.left
    first = True
    below: int | None = None  # the oldest entry taken back so far: the next chunk is older
    while True:
        try:
            with writing(sessions) as session:
                if first:
                    _require_unchanged(session, actor, planned)
                    first = False
                entries = _chunk(session, planned.batch, size, below=below)
                if not entries:
                    break
                below = entries[-1].id
                with roomy_sqlite_cache(session), cycle_collection_paused():
                    written.extend(_take_back_chunk(session, entries, actor=actor, batch=into))
                backend = session.connection().dialect.name
        except (Conflict, NotRestorable, StaleWrite) as refused:
            if not written and planned.left == planned.total:
                if isinstance(refused, StaleWrite):
                    raise Conflict(_MOVED[planned.kind], current=None) from None
                raise
            message = (
                refused.message if not isinstance(refused, StaleWrite) else "A record moved on."
            )
            raise Conflict(
                f"{message} {done:,} of {planned.total:,} were taken back before it; "
                f"press {_KEYS[planned.kind]} again to see what is left.",
                current=getattr(refused, "current", None),
            ) from None
        done += len(entries)
        if progress is not None:
            progress(done, planned.total)
        if backend == "sqlite" and done < planned.total:
            time.sleep(SQLITE_PAUSE_S)
    return UndoResult(entries=tuple(written), summary=_summary(planned, len(written)))


def _require_unchanged(session: Session, actor: Actor, planned: UndoPlan) -> None:
    """Refuse when the plan is not what ``plan`` would say now (someone, maybe this console
    elsewhere, undid, redid or changed something since it was shown)."""
    target = _target(session, actor, planned.kind)
    if target is None or (target.batch, target.left) != (planned.batch, planned.left):
        raise Conflict(_MOVED[planned.kind], current=None)


def _chunk(
    session: Session, batch: str, size: int, *, below: int | None = None
) -> list[AuditEntry]:
    """The newest ``size`` entries of ``batch`` still in effect (older than ``below``)."""
    stmt = _in_effect().where(AuditEntry.batch == batch)
    if below is not None:
        stmt = stmt.where(AuditEntry.id < below)
    return list(session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(size)).all())


def _take_back_chunk(
    session: Session, entries: Sequence[AuditEntry], *, actor: Actor, batch: str
) -> list[AuditRecord]:
    """Revert ``entries`` (newest first) in ``session``: the plain creates of an import in
    bulk, everything else one by one with every check of `revert`."""
    quick = _quick_creates(session, entries)
    records: list[AuditRecord] = []
    if quick:
        records.extend(_delete_created(session, quick, actor=actor, batch=batch))
    for entry in entries:
        if entry.id not in quick:
            records.append(to_record(revert(session, entry, actor=actor, batch=batch)))
    return records


def _quick_creates(session: Session, entries: Sequence[AuditEntry]) -> dict[int, AuditEntry]:
    """The "create" entries of ``entries`` whose undo is a plain delete: nothing was written
    about the record since (so it is the record the entry made, at the entry's version),
    nothing points at it, and no seed came after. The rest go through `revert`."""
    creates = [entry for entry in entries if entry.action == "create" and entry.record_id]
    if not creates:
        return {}
    oldest = min(entry.id for entry in creates)
    seeded = session.scalar(
        select(func.max(AuditEntry.id)).where(AuditEntry.action == "seed", AuditEntry.id > oldest)
    )
    if seeded is not None:
        return {}
    quick: dict[int, AuditEntry] = {}
    for entity in {entry.entity for entry in creates}:
        spec = SPECS[entity]
        mine = [entry for entry in creates if entry.entity == entity]
        ids = [int(entry.record_id or 0) for entry in mine]
        if len(set(ids)) != len(ids) or spec.dependants(session, ids):
            continue
        touched = set(
            session.scalars(
                select(AuditEntry.record_id).where(
                    AuditEntry.entity == entity,
                    AuditEntry.record_id.in_(ids),
                    AuditEntry.id > oldest,
                    AuditEntry.id.not_in([entry.id for entry in mine]),
                )
            ).all()
        )
        table = table_of(spec.model)
        rows = {
            row.id: row
            for row in lock_rows(
                session,
                select(table.c.id, table.c.version, table.c.created_at).where(table.c.id.in_(ids)),
            )
        }
        for entry in mine:
            row = rows.get(entry.record_id)
            new = entry.new_values or {}
            if (
                row is None
                or entry.record_id in touched
                or row.version != new.get("version")
                or to_json(row.created_at) != new.get("created_at")
            ):
                continue
            quick[entry.id] = entry
    return quick


def _delete_created(
    session: Session, quick: dict[int, AuditEntry], *, actor: Actor, batch: str
) -> list[AuditRecord]:
    """Delete the rows ``quick`` created, and audit each as a restore reverting its create."""
    for entity in sorted({entry.entity for entry in quick.values()}):
        mine = [entry for entry in quick.values() if entry.entity == entity]
        table = table_of(SPECS[entity].model)
        ids = [entry.record_id for entry in mine]
        deleted = session.connection().execute(table.delete().where(table.c.id.in_(ids))).rowcount
        if deleted != len(mine):
            raise StaleWrite
        restores = [(int(e.record_id or 0), e.new_values, None, e.id) for e in mine]
        write_restores(session, restores, actor=actor, batch=batch, entity=entity)
    # By the entries they revert (indexed): the undo's own batch grows with every chunk.
    written = session.scalars(
        select(AuditEntry).where(AuditEntry.reverts_id.in_(list(quick))).order_by(AuditEntry.id)
    )
    return [to_record(entry) for entry in written if entry.batch == batch]


# The console's stack of batches


def _in_effect() -> Any:
    """Entries that can be taken back and are not yet."""
    undo = aliased(AuditEntry)
    return select(AuditEntry).where(
        AuditEntry.action.in_(TAKEN_BACK),
        ~exists().where(undo.reverts_id == AuditEntry.id),
    )


def _target(session: Session, actor: Actor, kind: Kind) -> _Batch | None:
    """The batch ``kind`` takes back for ``actor`` now, or None."""
    kinds: dict[str, BatchKind] = {}
    for batch in _batches(session, actor):
        batch_kind = _kind(session, actor, batch, kinds)
        if kind == "redo" and batch_kind in ("change", "other"):
            return None  # a change since the undo: nothing to redo (as in an editor)
        wanted = ("undo",) if kind == "redo" else ("change", "redo")
        if batch_kind not in wanted:
            continue
        total, left = _counts(session, batch)
        if left:
            return _Batch(batch, batch_kind, total, left)
    return None


def _batches(session: Session, actor: Actor) -> list[str]:
    """The console's batches, newest first."""
    newest = func.max(AuditEntry.id)
    rows = session.execute(
        select(AuditEntry.batch, newest)
        .where(AuditEntry.actor == actor.label, AuditEntry.source == actor.source)
        .group_by(AuditEntry.batch)
        .order_by(newest.desc())
    ).all()
    return [row[0] for row in rows]


def _kind(session: Session, actor: Actor, batch: str, known: dict[str, BatchKind]) -> BatchKind:
    """A change, an undo (reverts a change or a redo) or a redo (reverts an undo) of this
    console; "other" for what `u` never takes back (a password, an import's summary)."""
    if batch in known:
        return known[batch]
    first = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.batch == batch, AuditEntry.action.in_(TAKEN_BACK))
        .order_by(AuditEntry.id)
        .limit(1)
    ).first()
    kind: BatchKind
    if first is None:
        kind = "other"
    elif first.action != "restore":
        kind = "change"
    else:
        target = session.get(AuditEntry, first.reverts_id) if first.reverts_id else None
        mine = target is not None and (target.actor, target.source) == (actor.label, actor.source)
        if target is None or not mine:
            kind = "change"  # a restore of a colleague's entry, from the audit screen
        else:
            undone = _kind(session, actor, target.batch, known)
            kind = "redo" if undone == "undo" else "undo"
    known[batch] = kind
    return kind


def _counts(session: Session, batch: str) -> tuple[int, int]:
    """(entries of ``batch`` that can be taken back, those still in effect)."""
    total = session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.batch == batch, AuditEntry.action.in_(TAKEN_BACK))
    )
    left = session.scalar(
        select(func.count()).select_from(_in_effect().where(AuditEntry.batch == batch).subquery())
    )
    return int(total or 0), int(left or 0)


def _describe(session: Session, actor: Actor, kind: Kind, target: _Batch) -> UndoPlan:
    """The plan for ``target``: who made it and when, its first records, what is lost."""
    shown = _chunk(session, target.batch, RECORDS_SHOWN)
    newest = shown[0]
    records = []
    for entry in shown:
        spec = SPECS[entry.entity]
        obj = session.get(spec.model, entry.record_id) if entry.record_id else None
        try:
            restore = plan_restore(session, spec, entry, obj)
        except NotRestorable:
            # Nothing to set back now (a product's owner comes back with the deleted user
            # this same batch brings back): say what the entry recorded instead.
            records.append(_as_recorded(session, spec, entry, obj))
            continue
        changes = tuple(change for change in restore.changes if change[0] != "version")
        records.append(PlannedRecord(restore.label, restore.effect, changes))
    into = None
    if target.left < target.total:
        undone = aliased(AuditEntry)
        into = session.scalar(
            select(AuditEntry.batch)
            .join(undone, AuditEntry.reverts_id == undone.id)
            .where(undone.batch == target.batch, AuditEntry.source == actor.source)
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
    return UndoPlan(
        kind=kind,
        batch=target.batch,
        into=into,
        action=newest.action,
        made_as=target.kind,
        actor=newest.actor,
        at=newest.at,
        total=target.total,
        left=target.left,
        records=tuple(records),
        lost=tuple(_lost(session, target.batch)),
    )


def _as_recorded(
    session: Session, spec: EntitySpec[Any, Any], entry: AuditEntry, obj: Any
) -> PlannedRecord:
    """The record of ``entry`` with each field it changed, after → before, as recorded."""
    old, new = entry.old_values or {}, entry.new_values or {}
    label = (
        spec.describe(spec.fetch(session, entry.record_id or 0))
        if obj is not None
        else (f"{spec.entity} {entry.record_id}")
    )
    names = [name for name in {**old, **new} if name != "version"]
    changes = tuple((name, new.get(name), old.get(name)) for name in names)
    effect: Literal["update", "recreate", "delete"] = (
        "recreate" if obj is None else "delete" if not old else "update"
    )
    return PlannedRecord(label, effect, changes)


def _lost(session: Session, batch: str) -> list[str]:
    """What cannot come back: the secret of each record the batch brings back (the audit
    never keeps one), counted per entity."""
    notes = []
    for spec in SPECS.values():
        secret = spec.declared.secret
        if secret is None:
            continue
        count = _recreated(session, spec, batch)
        if count:
            who = (
                f"the {spec.entity} comes" if count == 1 else f"{counted(count, spec.entity)} come"
            )
            notes.append(
                f"A {secret.name} is never kept in the audit: {who} back without one "
                f"(set a new one after)."
            )
    return notes


def _recreated(session: Session, spec: EntitySpec[Any, Any], batch: str) -> int:
    """How many records of ``spec`` taking back ``batch`` brings back from deleted: the
    entries in effect that left their record absent (a delete, or a restore that deleted)."""
    count = 0
    stmt = (
        _in_effect()
        .with_only_columns(AuditEntry.id, AuditEntry.action, AuditEntry.new_values)
        .where(AuditEntry.batch == batch, AuditEntry.entity == spec.entity)
        .where(AuditEntry.action.in_(("delete", "restore")))
    )
    for _, _, new in session.execute(stmt):
        if new is None:
            count += 1
    return count


def _summary(planned: UndoPlan, count: int) -> str:
    verb = "Undo" if planned.kind == "undo" else "Redo"
    if len(planned.records) == 1 and planned.total == 1:
        record = planned.records[0]
        done = {"update": "set back", "recreate": "brought back", "delete": "removed"}
        return f"{verb}: {done[record.effect]} {record.label}."
    return f"{verb}: took back {counted(count, 'change')} of one operation."


_NOTHING: dict[Kind, str] = {
    "undo": "Nothing to undo: no change made here is left to undo.",
    "redo": "Nothing to redo: nothing undone here since the last change.",
}
_MOVED: dict[Kind, str] = {
    "undo": "What undo would take back changed since it was shown: nothing was undone. "
    "Press u to see what it would undo now.",
    "redo": "What redo would bring back changed since it was shown: nothing was redone. "
    "Press the redo key to see what it would redo now.",
}
_KEYS: dict[Kind, str] = {"undo": "u", "redo": "redo"}

__all__ = ["UNDO_CHUNK", "PlannedRecord", "UndoPlan", "plan", "take_back"]
