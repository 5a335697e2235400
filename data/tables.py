"""The generic record table: paging, search, count and versioned writes for any spec."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any, Generic, TypeVar, overload

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session, sessionmaker

from data.actor import Actor
from data.changes import Change
from data.errors import Conflict, Invalid, NotFound
from data.lock_wait import lock_row
from data.merge import Updated, changes_since, field_values, plan
from data.numbers import is_record_id
from data.paging import Column, keyset_page, shown_count
from data.records import Count, Page, PageRequest
from data.search import matching
from data.secrets import KeepsSecrets
from data.specs import EntitySpec
from data.stored import refuse_unfixed
from data.trail import change_values, changed_fields, new_batch, snapshot, write_entry
from data.translate import StaleWrite, translate_errors
from data.unit import reading, writing
from data.validation import validate_fields
from models import AuditEntry, Base

ModelT = TypeVar("ModelT", bound=Base)
RecordT = TypeVar("RecordT")

STREAM_CHUNK = 1_000
# How a refused merge ends; a refused batch says it its own way.
NOTHING_SAVED = " Nothing was saved."


class RecordStore(KeepsSecrets, Generic[ModelT, RecordT]):
    """Public operations on one kind of record. Each call is one unit of work."""

    def __init__(self, spec: EntitySpec[ModelT, RecordT], sessions: sessionmaker[Session]) -> None:
        self.spec = spec
        self._sessions = sessions

    # Reading

    def page(self, request: PageRequest) -> Page[RecordT]:
        """One keyset page in the requested order; see `PageRequest` for the direction."""
        with reading(self._sessions) as session:
            return self._page(session=session, request=request)

    def count(self, search: str = "", filters: tuple[tuple[str, Any], ...] = ()) -> int:
        """How many records match, exactly."""
        with reading(self._sessions) as session:
            return self._count(session=session, search=search, filters=filters)

    def display_count(self, search: str = "", filters: tuple[tuple[str, Any], ...] = ()) -> Count:
        """How many records match, for a screen that shows rows first and this after.

        Exact, except the whole of a big PostgreSQL table: the planner's estimate, which
        costs nothing where ``count(*)`` reads a million rows.
        """
        with reading(self._sessions) as session:
            return shown_count(
                session,
                self.spec.model.__tablename__,
                narrowed=bool(search.strip() or filters),
                exact=lambda: self._count(session=session, search=search, filters=filters),
            )

    def get(self, record_id: int) -> RecordT:
        """The record with ``record_id``, or `NotFound`."""
        with reading(self._sessions) as session:
            return self.require(session=session, record_id=record_id)

    def find(self, key: str) -> RecordT:
        """The record whose natural key (email, SKU) is ``key`` once validated, or `NotFound`."""
        name = self.spec.natural_key
        value = validate_fields(self.spec.validators, {name: key})[name]
        with reading(self._sessions) as session:
            column = getattr(self.spec.model, name)
            row = session.execute(self.spec.select().where(column == value)).first()
            if row is None:
                raise NotFound(f"No {self.spec.entity} with {name} {value}.")
            return self.spec.record(row)

    def stream(self, request: PageRequest) -> Iterator[RecordT]:
        """Every matching record in order, a page per unit of work, memory flat at any size."""
        current = replace(
            request, after=None, before=None, start_at=None, from_end=False, limit=STREAM_CHUNK
        )
        while True:
            page = self.page(current)
            yield from page.records
            if not page.has_next or page.next is None:
                return
            current = replace(current, after=page.next)

    # Writing

    def base_of(self, record: RecordT) -> dict[str, Any]:
        """The ``base`` to save an edit of ``record`` with: its editable fields as stored."""
        return field_values(self.spec.declared, record)

    def create(self, values: Mapping[str, Any], *, actor: Actor) -> RecordT:
        """Validate and insert a record, auditing it in the same transaction."""
        clean = validate_fields(self.spec.validators, values, required=self.spec.required)
        with writing(self._sessions) as session:
            obj = audited_insert(session, self.spec, clean, actor=actor, batch=new_batch())
            return self.require(session=session, record_id=obj.id)

    @overload
    def update(
        self,
        record_id: int,
        changes: Mapping[str, Any],
        *,
        expected_version: int,
        actor: Actor,
        base: None = None,
    ) -> RecordT: ...

    @overload
    def update(
        self,
        record_id: int,
        changes: Mapping[str, Any],
        *,
        expected_version: int,
        actor: Actor,
        base: Mapping[str, Any],
    ) -> Updated[RecordT]: ...

    def update(
        self,
        record_id: int,
        changes: Mapping[str, Any],
        *,
        expected_version: int,
        actor: Actor,
        base: Mapping[str, Any] | None = None,
    ) -> RecordT | Updated[RecordT]:
        """Apply ``changes`` to the record the editor read at ``expected_version``.

        Without ``base`` (a script's ``--expect-version``) the row must still be at that
        version, else `Conflict`. With ``base``, the editor's stored values at that version
        (`field_values` of the record it loaded), the save merges: see `data.merge`. Fields
        only the editor changed are written onto whatever others saved, in one audited
        transaction on the locked row; fields both changed to different values make a
        `Conflict` naming them. Returns `Updated`: the record, the fields written and the
        saves it merged with.

        The version is the one the editor read, never one re-read here: re-reading before
        writing would silently overwrite whatever a colleague saved in between.
        """
        clean = validate_fields(self.spec.validators, changes)
        try:
            with writing(self._sessions) as session:
                obj, write, merged = self._lock_and_merge(
                    session=session,
                    record_id=record_id,
                    expected_version=expected_version,
                    clean=clean,
                    base=base,
                )
                self._refuse_unfixed(session=session, record_id=record_id, changing=clean)
                audited_change(
                    session,
                    self.spec,
                    obj,
                    lambda: self.spec.assign_values(session, obj, write),
                    actor=actor,
                    batch=new_batch(),
                )
                record = self.require(session=session, record_id=record_id)
        except StaleWrite:
            raise self.conflict(record_id) from None
        if base is None:
            return record
        return Updated(record=record, written=tuple(write), merged=merged)

    @overload
    def update_many(
        self,
        changes: Sequence[tuple[int, int, Mapping[str, Any]]],
        *,
        actor: Actor,
        bases: None = None,
    ) -> list[RecordT]: ...

    @overload
    def update_many(
        self,
        changes: Sequence[tuple[int, int, Mapping[str, Any]]],
        *,
        actor: Actor,
        bases: Mapping[int, Mapping[str, Any]],
    ) -> list[Updated[RecordT]]: ...

    def update_many(
        self,
        changes: Sequence[tuple[int, int, Mapping[str, Any]]],
        *,
        actor: Actor,
        bases: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> list[RecordT] | list[Updated[RecordT]]:
        """Apply every ``(id, expected_version, fields)`` in one transaction: all or none.

        Each record is changed and audited as `update` would (one batch, so one undo
        reverts them all), merging as `update` does when ``bases`` gives its base (id ->
        the editor's stored values at that version; then `Updated` is returned for each).
        If any record moved on in a way that cannot merge, or any value is refused,
        nothing is saved, and the error names the record: an `Invalid` keys each reason by
        ``"<entity> <id>, <field>"``. Returns the records as saved, in order.
        """
        ids = [record_id for record_id, _version, _fields in changes]
        if len(set(ids)) != len(ids):
            raise ValueError("each record may appear only once; merge its fields first")
        clean: dict[int, dict[str, Any]] = {}
        errors: dict[str, str] = {}
        for record_id, _version, fields in changes:
            try:
                clean[record_id] = validate_fields(self.spec.validators, fields)
            except Invalid as refused:
                errors.update(self._per_record(record_id, refused))
        if errors:
            raise Invalid(errors)
        versions = {record_id: version for record_id, version, _fields in changes}
        batch = new_batch()
        done: dict[int, tuple[tuple[str, ...], tuple[Change, ...]]] = {}
        try:
            with writing(self._sessions) as session:
                # Locked in id order, as `delete_many` does, so overlapping writers queue.
                for record_id in sorted(versions):
                    obj, write, merged = self._lock_and_merge(
                        session=session,
                        record_id=record_id,
                        expected_version=versions[record_id],
                        clean=clean[record_id],
                        base=None if bases is None else bases.get(record_id),
                    )
                    done[record_id] = (tuple(write), merged)
                    try:
                        self._refuse_unfixed(
                            session=session, record_id=record_id, changing=clean[record_id]
                        )
                        with translate_errors():
                            audited_change(
                                session,
                                self.spec,
                                obj,
                                partial(self.spec.assign_values, session, obj, write),
                                actor=actor,
                                batch=batch,
                            )
                    except Invalid as refused:
                        raise Invalid(self._per_record(record_id, refused)) from None
                records = [self.require(session=session, record_id=record_id) for record_id in ids]
        except Conflict as moved_on:
            if len(changes) == 1:
                raise
            raise Conflict(
                f"{moved_on.message.removesuffix(NOTHING_SAVED)} None of the {len(changes)} "
                f"{self.spec.plural} were saved; your edits are kept.",
                current=moved_on.current,
                fields=moved_on.fields,
                changes=moved_on.changes,
            ) from None
        except StaleWrite:
            if len(changes) == 1:
                raise self.conflict(ids[0]) from None
            raise Conflict(
                f"One of the {len(changes)} {self.spec.plural} changed while saving; "
                "nothing was saved. Reload and try again.",
                current=None,
            ) from None
        if bases is None:
            return records
        return [
            Updated(record=record, written=done[record_id][0], merged=done[record_id][1])
            for record_id, record in zip(ids, records, strict=True)
        ]

    def _lock_and_merge(
        self,
        *,
        session: Session,
        record_id: int,
        expected_version: int,
        clean: dict[str, Any],
        base: Mapping[str, Any] | None,
    ) -> tuple[ModelT, dict[str, Any], tuple[Change, ...]]:
        """Lock the row and decide what to write: the row, the fields to write, and the
        saves by others since ``expected_version`` that the write merges with.

        Without a base, the row must be at ``expected_version`` and every field is written.
        With one, the three-way comparison of `data.merge.plan` decides, on the locked row,
        so a third writer waits (or, behind the lock, is caught by the ORM's version guard).
        """
        if base is None:
            locked = self.lock_for_write(
                session=session, record_id=record_id, expected_version=expected_version
            )
            return locked, clean, ()
        found = lock_row(session, self.spec.model, record_id) if is_record_id(record_id) else None
        if found is None:
            raise self._moved_on(record_id, None)
        obj: ModelT = found
        version: int = obj.version  # type: ignore[attr-defined]
        merged = (
            changes_since(session, self.spec.declared, record_id, expected_version)
            if version != expected_version
            else ()
        )
        decided = plan(
            clean=clean,
            mine=self.spec.stored_values(session, clean),
            base=base,
            theirs=field_values(self.spec.declared, obj),
        )
        if decided.conflicts:
            raise Conflict(
                self._both_changed(record_id, decided.conflicts, merged),
                current=self.spec.fetch(session, record_id),
                fields=decided.conflicts,
                changes=merged,
            )
        return obj, decided.write, merged

    def _both_changed(
        self, record_id: int, fields: tuple[str, ...], merged: tuple[Change, ...]
    ) -> str:
        """``User 3: bob changed email since you opened it, and so did you.``"""
        who = ", ".join(dict.fromkeys(change.actor for change in merged)) or "someone else"
        what = ", ".join(fields)
        return (
            f"{self.spec.entity.capitalize()} {record_id}: {who} changed {what} since you "
            f"opened it, and so did you, differently.{NOTHING_SAVED}"
        )

    def _per_record(self, record_id: int, refused: Invalid) -> dict[str, str]:
        """``refused``'s reasons keyed by record and field: ``product 7, stock``."""
        return {
            f"{self.spec.entity} {record_id}, {name}": why for name, why in refused.errors.items()
        }

    def delete(self, record_id: int, *, expected_version: int, actor: Actor) -> None:
        """Delete the record if it is still at ``expected_version``, else `Conflict`."""
        self.delete_many({record_id: expected_version}, actor=actor)

    def delete_many(self, targets: Mapping[int, int], *, actor: Actor) -> int:
        """Delete every ``id -> expected_version`` in one transaction: all of them or none."""
        batch = new_batch()
        try:
            with writing(self._sessions) as session:
                # Rows are locked in id order, whatever order they were marked in: two
                # consoles deleting overlapping rows then queue instead of deadlocking (the
                # server would abort one of them, told "busy" where "already deleted" is true).
                for record_id, expected_version in sorted(targets.items()):
                    obj = self.lock_for_write(
                        session=session, record_id=record_id, expected_version=expected_version
                    )
                    old = snapshot(self.spec.snapshot_fields, obj)
                    if self.spec.before_delete is not None:
                        self.spec.before_delete(session, obj, actor, batch)
                    session.delete(obj)
                    session.flush()
                    write_entry(
                        session,
                        actor=actor,
                        batch=batch,
                        action="delete",
                        entity=self.spec.entity,
                        record_id=record_id,
                        old=old,
                    )
                return len(targets)
        except Conflict as moved_on:
            if len(targets) == 1:
                raise
            # Say that the other rows were not deleted either: it is all or nothing.
            raise Conflict(
                f"{moved_on.message} None of the {len(targets)} {self.spec.plural} were "
                "deleted. Reload and try again.",
                current=None,
            ) from None
        except StaleWrite:
            if len(targets) == 1:
                raise self.conflict(next(iter(targets))) from None
            raise Conflict(
                f"One of the {len(targets)} {self.spec.plural} changed while deleting; "
                "nothing was deleted. Reload and try again.",
                current=None,
            ) from None

    # Internals: keyword-only, given the session of the unit of work that owns them.

    def _count(self, *, session: Session, search: str, filters: tuple[tuple[str, Any], ...]) -> int:
        stmt = select(func.count()).select_from(self.spec.model)
        stmt = self._where(stmt, session=session, search=search, filters=filters)
        return int(session.scalar(stmt) or 0)

    def _page(self, *, session: Session, request: PageRequest) -> Page[RecordT]:
        return keyset_page(
            session,
            self._where(
                self.spec.select(),
                session=session,
                search=request.search,
                filters=request.filters,
                for_page=True,
            ),
            sort=self._sort_column(request.sort),
            id_column=self.spec.sort_columns["id"],
            request=request,
            to_record=self.spec.record,
        )

    def _where(
        self,
        stmt: Any,
        *,
        session: Session,
        search: str,
        filters: tuple[tuple[str, Any], ...],
        for_page: bool = False,
    ) -> Any:
        """``stmt`` narrowed to the search and filters.

        A page is one page of matches in sort order, a count is all of them: the fastest
        way to find each can differ (see `data.search.Match`).
        """
        found = matching(
            search,
            self.spec.search_columns,
            dialect=session.get_bind().dialect.name,
            id_column=self.spec.sort_columns["id"],
            trigram_table=self.spec.trigram_table,
        )
        if found is not None:
            stmt = stmt.where(found.condition(session, for_page=for_page))
        for name, value in filters:
            column = self.spec.filter_columns.get(name)
            if column is None:
                raise Invalid({"filter": f"cannot filter {self.spec.plural} by {name!r}"})
            stmt = stmt.where(_equals(column, value))
        return stmt

    def _sort_column(self, name: str) -> Column:
        column = self.spec.sort_columns.get(name)
        if column is None:
            allowed = ", ".join(self.spec.sort_columns)
            raise Invalid(
                {"sort": f"cannot sort {self.spec.plural} by {name!r}; use one of {allowed}"}
            )
        return column

    def require(self, *, session: Session, record_id: int) -> RecordT:
        """The record as it is in ``session``'s transaction, or `NotFound`."""
        record = self.spec.fetch(session, record_id)
        if record is None:
            raise NotFound(
                f"{self.spec.entity.capitalize()} {record_id} does not exist (any more)."
            )
        return record

    def _refuse_unfixed(
        self, *, session: Session, record_id: int, changing: Mapping[str, Any]
    ) -> None:
        """`Invalid` while the record keeps a malformed value in a field this write leaves
        alone: a record another tool broke is saved only once it is whole again."""
        refuse_unfixed(
            self.require(session=session, record_id=record_id),
            editable=self.spec.validators,
            changing=changing,
        )

    def lock_for_write(self, *, session: Session, record_id: int, expected_version: int) -> ModelT:
        """Load the row for writing (FOR UPDATE on servers) and check the editor's version."""
        obj = lock_row(session, self.spec.model, record_id) if is_record_id(record_id) else None
        if obj is None:
            raise self._moved_on(record_id, None)
        if obj.version != expected_version:  # type: ignore[attr-defined]
            raise self._moved_on(record_id, self.spec.fetch(session, record_id))
        return obj

    def conflict(self, record_id: int) -> Conflict:
        """The `Conflict` to raise when a versioned write found the row moved on or gone."""
        with reading(self._sessions) as session:
            return self._moved_on(record_id, self.spec.fetch(session, record_id))

    def _moved_on(self, record_id: int, current: RecordT | None) -> Conflict:
        """Deleted (``current`` None) or changed since the editor read it."""
        what = f"{self.spec.entity.capitalize()} {record_id}"
        if current is None:
            return Conflict(f"{what} was deleted by someone else.", current=None)
        return Conflict(f"{what} was changed by someone else since you opened it.", current=current)


def _equals(column: Column, value: Any) -> Any:
    """``column`` is ``value``: NULL for None, nothing for an id out of every backend's range
    (the console follows links by id; PostgreSQL would refuse 2**31 rather than match none)."""
    if value is None:
        return column.is_(None)
    if isinstance(value, int) and not isinstance(value, bool) and not is_record_id(value):
        return false()
    return column == value


def audited_insert(
    session: Session,
    spec: EntitySpec[Any, Any],
    values: Mapping[str, Any],
    *,
    actor: Actor,
    batch: str,
) -> Any:
    """Insert a record from validated ``values`` and audit its creation, in ``session``."""
    obj = spec.model()
    spec.assign_values(session, obj, values)
    session.add(obj)
    session.flush()
    write_entry(
        session,
        actor=actor,
        batch=batch,
        action="create",
        entity=spec.entity,
        record_id=obj.id,
        new=snapshot(spec.snapshot_fields, obj),
    )
    return obj


def audited_change(
    session: Session,
    spec: EntitySpec[Any, Any],
    obj: Any,
    change: Callable[[], None],
    *,
    actor: Actor,
    batch: str,
    action: str = "update",
    reverts_id: int | None = None,
) -> AuditEntry | None:
    """Apply ``change`` to ``obj`` and audit the fields it really changed, in ``session``.

    The flush is ``UPDATE ... WHERE id = ? AND version = ?``, so a colleague's save in
    between is caught, not lost. Returns the audit entry, or None when nothing changed (no
    write, no version bump) unless the entry marks a restore, which is always recorded.
    """
    before = snapshot(spec.snapshot_fields, obj)
    change()
    changed = changed_fields(before, snapshot(spec.snapshot_fields, obj))
    if not changed and reverts_id is None:
        return None
    session.flush()
    old, new = change_values(before, snapshot(spec.snapshot_fields, obj), changed)
    return write_entry(
        session,
        actor=actor,
        batch=batch,
        action=action,
        entity=spec.entity,
        record_id=obj.id,
        old=old,
        new=new,
        reverts_id=reverts_id,
    )
