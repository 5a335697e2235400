"""The generic record table: paging, search, count and versioned writes for any spec."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from data.actor import Actor
from data.audit import escape_like
from data.errors import Conflict, Invalid, NotFound
from data.records import Cursor, Page, PageRequest
from data.specs import Column, EntitySpec
from data.trail import new_batch, snapshot, to_json, write_entry
from data.translate import StaleWrite
from data.unit import reading, writing
from data.validation import validate_fields
from models import Base

ModelT = TypeVar("ModelT", bound=Base)
RecordT = TypeVar("RecordT")

PAGE_LIMIT_MAX = 1_000
SEARCH_MAX = 200
STREAM_CHUNK = 1_000


class RecordTable(Generic[ModelT, RecordT]):
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
        """How many records match; a separate call so a screen can show rows first."""
        with reading(self._sessions) as session:
            stmt = select(func.count()).select_from(self.spec.model)
            stmt = self._where(stmt, search=search, filters=filters)
            return int(session.scalar(stmt) or 0)

    def get(self, record_id: int) -> RecordT:
        """The record with ``record_id``, or `NotFound`."""
        with reading(self._sessions) as session:
            return self.require(session=session, record_id=record_id)

    def find(self, key: str) -> RecordT:
        """The record whose natural key (email or SKU) equals ``key`` after validation."""
        clean = validate_fields(self.spec.validators, {self.spec.natural_key: key})
        value = clean[self.spec.natural_key]
        with reading(self._sessions) as session:
            column = getattr(self.spec.model, self.spec.natural_key)
            row = session.execute(self.spec.select().where(column == value)).first()
            if row is None:
                raise NotFound(f"No {self.spec.entity} with {self.spec.natural_key} {value}.")
            return self.spec.record(row)

    def stream(self, request: PageRequest) -> Iterator[RecordT]:
        """Every matching record in order, a page per unit of work, memory flat at any size."""
        current = PageRequest(
            sort=request.sort,
            descending=request.descending,
            search=request.search,
            filters=request.filters,
            limit=STREAM_CHUNK,
        )
        while True:
            page = self.page(current)
            yield from page.records
            if not page.has_next or page.next is None:
                return
            current = PageRequest(
                sort=current.sort,
                descending=current.descending,
                search=current.search,
                filters=current.filters,
                after=page.next,
                limit=STREAM_CHUNK,
            )

    # Writing

    def create(self, values: Mapping[str, Any], *, actor: Actor) -> RecordT:
        """Validate and insert a record, auditing it in the same transaction."""
        clean = validate_fields(self.spec.validators, values, required=self.spec.required)
        with writing(self._sessions) as session:
            obj = self.spec.model()
            self.spec.assign_values(session, obj, clean)
            session.add(obj)
            session.flush()
            record_id = _id(obj)
            write_entry(
                session,
                actor=actor,
                batch=new_batch(),
                action="create",
                entity=self.spec.entity,
                record_id=record_id,
                new=snapshot(self.spec.snapshot_fields, obj),
            )
            return self.require(session=session, record_id=record_id)

    def update(
        self,
        record_id: int,
        changes: Mapping[str, Any],
        *,
        expected_version: int,
        actor: Actor,
    ) -> RecordT:
        """Apply ``changes`` if the row is still at ``expected_version``, else `Conflict`.

        The version is the one the editor read, never one re-read here: re-reading before
        writing would silently overwrite whatever a colleague saved in between.
        """
        clean = validate_fields(self.spec.validators, changes)
        try:
            with writing(self._sessions) as session:
                obj = self.lock_for_write(
                    session=session, record_id=record_id, expected_version=expected_version
                )
                before = snapshot(self.spec.snapshot_fields, obj)
                self.spec.assign_values(session, obj, clean)
                changed = [
                    name for name in self.spec.snapshot_fields if _differs(obj, name, before)
                ]
                if not changed:
                    return self.require(session=session, record_id=record_id)
                session.flush()  # UPDATE ... WHERE id = ? AND version = ?
                after = snapshot(self.spec.snapshot_fields, obj)
                write_entry(
                    session,
                    actor=actor,
                    batch=new_batch(),
                    action="update",
                    entity=self.spec.entity,
                    record_id=record_id,
                    old={name: before[name] for name in [*changed, "version"]},
                    new={name: after[name] for name in [*changed, "version"]},
                )
                return self.require(session=session, record_id=record_id)
        except StaleWrite:
            raise self.conflict(record_id) from None

    def delete(self, record_id: int, *, expected_version: int, actor: Actor) -> None:
        """Delete the record if it is still at ``expected_version``, else `Conflict`."""
        self.delete_many({record_id: expected_version}, actor=actor)

    def delete_many(self, targets: Mapping[int, int], *, actor: Actor) -> int:
        """Delete every ``id -> expected_version`` in one transaction: all of them or none."""
        batch = new_batch()
        try:
            with writing(self._sessions) as session:
                for record_id, expected_version in targets.items():
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
        except StaleWrite:
            if len(targets) == 1:
                raise self.conflict(next(iter(targets))) from None
            raise Conflict(
                f"One of the {len(targets)} {self.spec.plural} changed while deleting; "
                "nothing was deleted. Reload and try again.",
                current=None,
            ) from None

    # Internals: keyword-only, given the session of the unit of work that owns them.

    def _page(self, *, session: Session, request: PageRequest) -> Page[RecordT]:
        sort = self._sort_column(request.sort)
        id_column = self.spec.sort_columns["id"]
        limit = max(1, min(request.limit, PAGE_LIMIT_MAX))
        backward = request.before is not None or (request.from_end and request.after is None)
        ascending = request.descending == backward
        stmt = self._where(self.spec.select(), search=request.search, filters=request.filters)
        for cursor in (request.after, request.before):
            if cursor is not None:
                stmt = stmt.where(_beyond(sort, id_column, cursor, ascending=ascending))
        if request.start_at is not None:
            stmt = stmt.where(
                _beyond(sort, id_column, request.start_at, ascending=ascending, inclusive=True)
            )
        if ascending:
            stmt = stmt.order_by(sort.asc(), id_column.asc())
        else:
            stmt = stmt.order_by(sort.desc(), id_column.desc())
        rows = list(session.execute(stmt.limit(limit + 1)).all())
        more = len(rows) > limit
        rows = rows[:limit]
        if backward:
            rows.reverse()
        records = tuple(self.spec.record(row) for row in rows)
        if backward:
            has_prev, has_next = more, request.before is not None
        else:
            has_next, has_prev = more, (request.after or request.start_at) is not None
        return Page(
            records=records,
            next=self._cursor(records[-1], request.sort) if records else None,
            prev=self._cursor(records[0], request.sort) if records else None,
            has_next=has_next,
            has_prev=has_prev,
            request=request,
        )

    def _where(self, stmt: Any, *, search: str, filters: tuple[tuple[str, Any], ...]) -> Any:
        if len(search) > SEARCH_MAX:
            raise Invalid({"search": f"is too long (at most {SEARCH_MAX} characters)"})
        text = search.strip().lower()
        if text:
            pattern = "%" + escape_like(text) + "%"
            stmt = stmt.where(
                or_(
                    *(
                        func.lower(column).like(pattern, escape="\\")
                        for column in self.spec.search_columns
                    )
                )
            )
        for name, value in filters:
            column = self.spec.filter_columns.get(name)
            if column is None:
                raise Invalid({"filter": f"cannot filter {self.spec.plural} by {name!r}"})
            stmt = stmt.where(column.is_(None) if value is None else column == value)
        return stmt

    def _sort_column(self, name: str) -> Column:
        column = self.spec.sort_columns.get(name)
        if column is None:
            allowed = ", ".join(self.spec.sort_columns)
            raise Invalid(
                {"sort": f"cannot sort {self.spec.plural} by {name!r}; use one of {allowed}"}
            )
        return column

    @staticmethod
    def _cursor(record: Any, sort: str) -> Cursor:
        return Cursor(value=getattr(record, sort), id=record.id)

    def require(self, *, session: Session, record_id: int) -> RecordT:
        """The record as it is in ``session``'s transaction, or `NotFound`."""
        record = self.spec.fetch(session, record_id)
        if record is None:
            raise NotFound(
                f"{self.spec.entity.capitalize()} {record_id} does not exist (any more)."
            )
        return record

    def lock_for_write(self, *, session: Session, record_id: int, expected_version: int) -> ModelT:
        """Load the row for writing (FOR UPDATE on servers) and check the editor's version."""
        obj = session.get(self.spec.model, record_id, with_for_update=True)
        if obj is None:
            raise Conflict(
                f"{self.spec.entity.capitalize()} {record_id} was deleted by someone else.",
                current=None,
            )
        if obj.version != expected_version:  # type: ignore[attr-defined]
            raise Conflict(
                f"{self.spec.entity.capitalize()} {record_id} was changed by someone else "
                f"since you opened it.",
                current=self.spec.fetch(session, record_id),
            )
        return obj

    def conflict(self, record_id: int) -> Conflict:
        """The `Conflict` to raise when a versioned write found the row moved on or gone."""
        with reading(self._sessions) as session:
            current = self.spec.fetch(session, record_id)
        if current is None:
            return Conflict(
                f"{self.spec.entity.capitalize()} {record_id} was deleted by someone else.",
                current=None,
            )
        return Conflict(
            f"{self.spec.entity.capitalize()} {record_id} was changed by someone else "
            f"while saving.",
            current=current,
        )


def _beyond(
    sort: Column, id_column: Column, cursor: Cursor, *, ascending: bool, inclusive: bool = False
) -> ColumnElement[bool]:
    """Rows past ``cursor`` in the scan order (sort value, then id), or at it if ``inclusive``."""
    # A typed literal: SQLAlchemy refuses ``column > True`` for booleans, and the column's
    # type (UTCDateTime, Numeric) must process the bound cursor value the same way it stores.
    value = literal(cursor.value, type_=sort.type)
    if ascending:
        tie = id_column >= cursor.id if inclusive else id_column > cursor.id
        return or_(sort > value, and_(sort == value, tie))
    tie = id_column <= cursor.id if inclusive else id_column < cursor.id
    return or_(sort < value, and_(sort == value, tie))


def _id(obj: Any) -> int:
    return int(obj.id)


def _differs(obj: Any, name: str, before: Mapping[str, Any]) -> bool:
    return bool(to_json(getattr(obj, name)) != before.get(name))
