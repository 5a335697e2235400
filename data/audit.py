"""Writing the audit trail, reading it, and undoing changes from it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import false, func, insert, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from data.actor import Actor
from data.audit_filters import EVERY_ENTRY, AuditFilter
from data.audit_record import AuditRecord
from data.errors import Conflict, NotFound, NotRestorable
from data.identity import drop_other_targets, require_same_record
from data.lock_wait import lock_row
from data.numbers import is_record_id
from data.paging import contains, keyset_page, shown_count
from data.records import Count, Page, PageRequest
from data.specs import SPECS, EntitySpec, from_json
from data.tables import STREAM_CHUNK, audited_change
from data.trail import new_batch, snapshot, to_json, write_entry
from data.translate import StaleWrite
from data.unit import reading, writing
from models import AuditEntry

if TYPE_CHECKING:
    from data.undo import UndoPlan

UNDOABLE_ACTIONS = ("create", "update", "delete")


def to_record(entry: AuditEntry) -> AuditRecord:
    """The plain record for an entry."""
    return AuditRecord(
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        source=entry.source,
        batch=entry.batch,
        action=entry.action,
        entity=entry.entity,
        record_id=entry.record_id,
        old=entry.old_values,
        new=entry.new_values,
        reverts_id=entry.reverts_id,
        db_login=entry.db_login,
    )


@dataclass(frozen=True)
class UndoResult:
    """What an undo restored: the restore entries it wrote, newest last, and a summary."""

    entries: tuple[AuditRecord, ...]
    summary: str


RESTORABLE_ACTIONS = (*UNDOABLE_ACTIONS, "restore")

Effect = Literal["update", "recreate", "delete"]


@dataclass(frozen=True)
class RestorePlan:
    """What restoring an entry's "before" state would do, for the admin to confirm.

    ``effect``: set fields back (``update``), bring a deleted record back (``recreate``) or
    delete a record that did not exist before the entry (``delete``). ``changes`` holds
    (field, value now, value after), None where the record is absent. ``version`` is the
    record's version now (None: absent); `AuditLog.restore` refuses if it moved on since.
    ``later`` counts the changes made to the record after the entry, ``latest`` is the
    newest of them: restoring puts the listed fields back over them.
    """

    entry: AuditRecord
    label: str
    effect: Effect
    changes: tuple[tuple[str, Any, Any], ...]
    version: int | None
    later: int
    latest: AuditRecord | None


class AuditLog:
    """The public operations on the audit trail; each is one unit of work."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def page(self, request: PageRequest, where: AuditFilter = EVERY_ENTRY) -> Page[AuditRecord]:
        """Entries newest first (``descending`` is ignored), keyset-paged by id.

        ``search`` matches the actor or the record (``user``, ``user 12`` or ``12``);
        ``where`` narrows further (a script's ``audit list`` options).
        """
        # Newest first, always: the trail is read backwards from now.
        request = replace(request, sort="id", descending=True)
        with reading(self._sessions) as session:
            return keyset_page(
                session,
                where.narrow(_filtered(select(AuditEntry), request.search)),
                sort=AuditEntry.id,
                id_column=AuditEntry.id,
                request=request,
                to_record=lambda row: to_record(row[0]),
            )

    def stream(self, where: AuditFilter, *, limit: int | None = None) -> Iterator[AuditRecord]:
        """The entries ``where`` matches, newest first, at most ``limit``: a page per unit
        of work, so memory stays flat however long the trail."""
        request = PageRequest(limit=STREAM_CHUNK if limit is None else min(limit, STREAM_CHUNK))
        left = limit
        while left is None or left > 0:
            page = self.page(request, where)
            records = page.records if left is None else page.records[:left]
            yield from records
            left = None if left is None else left - len(records)
            if not page.has_next or page.next is None:
                return
            request = replace(request, after=page.next)

    def count(self, search: str = "") -> int:
        """How many entries match ``search``."""
        with reading(self._sessions) as session:
            return _count(session, search)

    def display_count(self, search: str = "") -> Count:
        """`count` for a screen: the whole of a big PostgreSQL trail is estimated."""
        with reading(self._sessions) as session:
            return shown_count(
                session,
                AuditEntry.__tablename__,
                narrowed=bool(search.strip()),
                exact=lambda: _count(session, search),
            )

    def get(self, entry_id: int) -> AuditRecord:
        """One entry, whole."""
        with reading(self._sessions) as session:
            return to_record(_entry(session, entry_id))

    def restore_plan(self, entry_id: int) -> RestorePlan:
        """What `restore` would do for entry ``entry_id`` now; `NotRestorable` if nothing."""
        with reading(self._sessions) as session:
            entry, spec, obj = _restorable(session, entry_id)
            return plan_restore(session, spec, entry, obj)

    def restore(self, entry_id: int, *, actor: Actor, expected_version: int | None) -> AuditRecord:
        """Put the record of entry ``entry_id`` back to its state before that entry, in a
        new transaction audited as a "restore" of it.

        ``expected_version`` is the record's version the admin saw in the `RestorePlan`
        (None: absent); a record that moved on (or came or went) since is refused with
        `Conflict`, so a restore never overwrites a change its confirmation did not show.
        """
        try:
            with writing(self._sessions) as session:
                entry, spec, obj = _restorable(session, entry_id, lock=True)
                version = None if obj is None else obj.version
                if version != expected_version:
                    record_id = _record_of(entry)
                    raise Conflict(
                        f"{spec.entity.capitalize()} {record_id} changed since the restore "
                        "was shown: nothing was restored. Look at the entry again.",
                        current=spec.fetch(session, record_id),
                    )
                plan_restore(
                    session, spec, entry, obj
                )  # refuses what there is nothing to restore of
                return to_record(
                    put_before(session, spec, entry, obj, actor=actor, batch=new_batch())
                )
        except StaleWrite:
            raise Conflict(
                f"The record of audit entry {entry_id} changed while restoring: nothing was "
                "restored. Look at the entry again.",
                current=None,
            ) from None

    def undo_plan(self, *, actor: Actor) -> UndoPlan:
        """What `u` would undo for ``actor`` (one console) now; `NotFound` if nothing."""
        from data.undo import plan

        return plan(self._sessions, actor, "undo")

    def redo_plan(self, *, actor: Actor) -> UndoPlan:
        """What redo would bring back for ``actor`` now; `NotFound` if nothing."""
        from data.undo import plan

        return plan(self._sessions, actor, "redo")

    def take_back(
        self,
        planned: UndoPlan,
        *,
        actor: Actor,
        progress: Callable[[int, int], None] | None = None,
    ) -> UndoResult:
        """Do the undo or redo ``planned`` (as the admin confirmed it), in audited
        transactions; `Conflict` if anything moved on since it was planned. See data.undo."""
        from data.undo import take_back

        return take_back(self._sessions, planned, actor=actor, progress=progress)

    def undo_last(self, *, actor: Actor) -> UndoResult:
        """Undo ``actor``'s most recent change that is not undone yet, without asking.

        A change is one unit of work (a bulk delete undoes as a whole). A deleted row comes
        back with its id; a changed row goes back to its old values if nobody changed it
        since (else `Conflict`); a created row is deleted again under the same check.
        """
        return self.take_back(self.undo_plan(actor=actor), actor=actor)


def _entry(session: Session, entry_id: int) -> AuditEntry:
    """Entry ``entry_id``, or `NotFound`: also for an id no backend could store, which is
    never sent (PostgreSQL would refuse 2**31 as out of range rather than find nothing)."""
    entry = session.get(AuditEntry, entry_id) if is_record_id(entry_id) else None
    if entry is None:
        raise NotFound(f"Audit entry {entry_id} does not exist.")
    return entry


def _restorable(
    session: Session, entry_id: int, *, lock: bool = False
) -> tuple[AuditEntry, EntitySpec[Any, Any], Any]:
    """The entry, its record's spec, and the record's row now (None: absent)."""
    entry = _entry(session, entry_id)
    spec = SPECS.get(entry.entity)
    if spec is None or entry.action not in RESTORABLE_ACTIONS:
        raise NotRestorable(
            f"Audit entry {entry_id} ({entry.action}) records no state to put back: only "
            "creates, updates, deletes and restores can be restored."
        )
    record_id = _record_of(entry)
    obj = lock_row(session, spec.model, record_id) if lock else session.get(spec.model, record_id)
    if obj is not None:
        require_same_record(session, spec, entry)
    return entry, spec, obj


def plan_restore(
    session: Session, spec: EntitySpec[Any, Any], entry: AuditEntry, obj: Any
) -> RestorePlan:
    """What `put_before` would do to ``obj`` for ``entry``; `NotRestorable` if nothing."""
    record_id = _record_of(entry)
    now = snapshot(spec.snapshot_fields, obj) if obj is not None else None
    before = {name: to_json(value) for name, value in _before_values(session, spec, entry).items()}
    effect: Effect
    if now is None:
        effect = "recreate"
        changes = [(name, None, value) for name, value in before.items()]
    elif entry.old_values is None:
        effect = "delete"
        changes = [(name, value, None) for name, value in now.items() if name != "version"]
    else:
        effect = "update"
        changes = [(name, now[name], value) for name, value in before.items() if now[name] != value]
    if now is None and entry.old_values is None:
        raise NotRestorable(
            f"{spec.entity.capitalize()} {record_id} did not exist before audit entry "
            f"{entry.id}, and does not now: there is nothing to restore."
        )
    if not changes:
        raise NotRestorable(
            f"{spec.entity.capitalize()} {record_id} already holds the values it had before "
            f"audit entry {entry.id}: there is nothing to restore."
        )
    later = select(AuditEntry).where(
        AuditEntry.entity == entry.entity,
        AuditEntry.record_id == record_id,
        AuditEntry.id > entry.id,
    )
    count = int(session.scalar(select(func.count()).select_from(later.subquery())) or 0)
    latest = session.scalars(later.order_by(AuditEntry.id.desc()).limit(1)).first()
    current = spec.fetch(session, record_id) if obj is not None else None
    if current is not None:
        label = spec.describe(current)
    else:
        key = (entry.old_values or {}).get(spec.natural_key)
        label = f"{spec.entity} {record_id}" + (f" <{key}>" if key is not None else "")
    return RestorePlan(
        entry=to_record(entry),
        label=label,
        effect=effect,
        changes=tuple(changes),
        version=None if obj is None else obj.version,
        later=count,
        latest=to_record(latest) if latest is not None else None,
    )


def revert(session: Session, entry: AuditEntry, *, actor: Actor, batch: str) -> AuditEntry:
    """Put the record of ``entry`` back to its state before ``entry``; audit that as a restore.

    Refused with `Conflict` when anyone else changed the record since ``entry``, or when
    the row moved on without an audit entry: an undo never overwrites a colleague's work.
    """
    spec = SPECS[entry.entity]
    record_id = _record_of(entry)
    obj = lock_row(session, spec.model, record_id)
    if obj is not None:
        require_same_record(session, spec, entry)
    expected_version = _version_after_own_changes(session, spec, entry, actor)
    if entry.new_values is None:  # the entry left the record absent (a delete)
        if obj is not None:
            raise Conflict(
                f"Cannot undo: {spec.entity} {record_id} exists again.",
                current=spec.fetch(session, record_id),
            )
    elif obj is None:
        raise Conflict(f"Cannot undo: {spec.entity} {record_id} was deleted since.", current=None)
    elif obj.version != expected_version:
        raise Conflict(
            f"Cannot undo: {spec.entity} {record_id} was changed since, outside this console.",
            current=spec.fetch(session, record_id),
        )
    return put_before(session, spec, entry, obj, actor=actor, batch=batch)


def put_before(
    session: Session,
    spec: EntitySpec[Any, Any],
    entry: AuditEntry,
    obj: Any,
    *,
    actor: Actor,
    batch: str,
) -> AuditEntry:
    """Give the record of ``entry`` (``obj``, locked, or None when absent) its state before
    ``entry``, audited as a "restore" that reverts ``entry``. The caller has checked that
    doing so overwrites nobody's work unawares (undo and restore check differently).

    Absent before (a create): the row is deleted. Absent now: it comes back with its id.
    Otherwise the entry's old field values are set back, under the version check.
    """
    record_id = _record_of(entry)
    if obj is None:
        return _recreate(session, spec, entry, actor=actor, batch=batch)
    if entry.old_values is None:
        before = snapshot(spec.snapshot_fields, obj)
        if spec.before_delete is not None:
            spec.before_delete(session, obj, actor, batch)
        session.delete(obj)
        session.flush()
        return write_entry(
            session,
            actor=actor,
            batch=batch,
            action="restore",
            entity=spec.entity,
            record_id=record_id,
            old=before,
            new=None,
            reverts_id=entry.id,
        )
    values = _before_values(session, spec, entry)

    def put_back() -> None:
        for name, value in values.items():
            setattr(obj, name, value)

    restored = audited_change(
        session,
        spec,
        obj,
        put_back,
        actor=actor,
        batch=batch,
        action="restore",
        reverts_id=entry.id,
    )
    assert restored is not None  # a restore is always recorded: it marks the entry undone
    return restored


def _record_of(entry: AuditEntry) -> int:
    if entry.record_id is None:
        raise NotRestorable(f"Audit entry {entry.id} names no record.")
    return entry.record_id


def _before_values(
    session: Session, spec: EntitySpec[Any, Any], entry: AuditEntry
) -> dict[str, Any]:
    """The snapshot fields ``entry`` recorded before its change, as model values; a
    reference to a row deleted since, or now holding another record, becomes empty."""
    old = entry.old_values or {}
    values = {
        name: from_json(spec.model, name, old[name]) for name in spec.snapshot_fields if name in old
    }
    drop_other_targets(session, entry, values)
    return values


def _version_after_own_changes(
    session: Session, spec: EntitySpec[Any, Any], entry: AuditEntry, actor: Actor
) -> int | None:
    """The version the row must be at for ``entry`` to be undone safely.

    Every later entry on the record must be this actor's own undo (or password change);
    anything else means someone changed the record since, and undo would overwrite them.
    """
    later = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.entity == entry.entity,
            AuditEntry.record_id == entry.record_id,
            AuditEntry.id > entry.id,
        )
        .order_by(AuditEntry.id)
    ).all()
    reverted = {item.reverts_id for item in later if item.action == "restore"}
    for item in later:
        foreign = item.actor != actor.label or item.source != actor.source
        pending = item.action in UNDOABLE_ACTIONS and item.id not in reverted
        if foreign or pending:
            raise Conflict(
                f"Cannot undo: {item.actor} changed {spec.entity} {entry.record_id} since "
                f"(audit entry {item.id}).",
                current=spec.fetch(session, entry.record_id or 0),
            )
    newest = later[-1] if later else entry
    version = (newest.new_values or {}).get("version")
    return int(version) if version is not None else None


def _recreate(
    session: Session,
    spec: EntitySpec[Any, Any],
    entry: AuditEntry,
    *,
    actor: Actor,
    batch: str,
) -> AuditEntry:
    if entry.old_values is None:
        raise NotRestorable(
            f"{spec.entity.capitalize()} {entry.record_id} did not exist before audit entry "
            f"{entry.id}, and does not now: there is nothing to restore."
        )
    values = _before_values(session, spec, entry)
    # The version moves on from the deleted row's, so an editor still holding it is told.
    values.update(id=entry.record_id, version=int(entry.old_values.get("version", 0)) + 1)
    # Core insert: the row keeps its old id and version, which an ORM insert would reset.
    session.execute(insert(spec.model).values(**values))
    new = {name: to_json(value) for name, value in values.items() if name != "id"}
    return write_entry(
        session,
        actor=actor,
        batch=batch,
        action="restore",
        entity=spec.entity,
        record_id=entry.record_id,
        old=None,
        new=new,
        reverts_id=entry.id,
    )


def _filtered(stmt: Any, search: str) -> Any:
    """Entries about a record (``user 12``, ``12``, ``product``) or by an actor (any text)."""
    by_actor = contains((AuditEntry.actor,), search)  # also refuses an over-long search
    if by_actor is None:
        return stmt
    text = search.strip()
    words = text.split()
    if len(words) == 2 and words[0].lower() in SPECS and _is_id_text(words[1]):
        return stmt.where(AuditEntry.entity == words[0].lower(), _about_record(words[1]))
    if _is_id_text(text):
        return stmt.where(_about_record(text))
    if text.lower() in SPECS:
        return stmt.where(AuditEntry.entity == text.lower())
    return stmt.where(by_actor)


__all__ = ["AuditLog", "RestorePlan", "UndoResult", "put_before", "revert"]


def _is_id_text(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _about_record(text: str) -> ColumnElement[bool]:
    """Entries about the record with id ``text`` (ASCII digits); none for an id out of range."""
    record_id = int(text)
    return AuditEntry.record_id == record_id if is_record_id(record_id) else false()


def _count(session: Session, search: str) -> int:
    """How many entries match ``search``, in ``session``."""
    return int(session.scalar(_filtered(select(func.count()).select_from(AuditEntry), search)) or 0)
