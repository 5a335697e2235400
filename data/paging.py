"""Keyset paging and text search, shared by every table the data core lists (records, audit).

A page is read from a cursor (sort value, id) in either direction, ``limit + 1`` rows so we
know whether more exist; no OFFSET, so the cost does not grow with the position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Column as TableColumn
from sqlalchemy import func, literal, or_, text, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from data.errors import Invalid
from data.records import PAGE_LIMIT_MAX, Count, Cursor, Page, PageRequest
from models.base import StoredTime
from models.plain import Malformed

RecordT = TypeVar("RecordT")
# A mapped attribute (User.email) or any column expression usable in WHERE and ORDER BY.
Column = ColumnElement[Any] | InstrumentedAttribute[Any]

SEARCH_MAX = 200
# Above this many rows PostgreSQL's whole-table count is the planner's estimate: an exact
# count(*) reads every row (or the visibility map and index) and grows with the table.
ESTIMATE_FROM = 100_000


def keyset_page(
    session: Session,
    stmt: Any,
    *,
    sort: Column,
    id_column: Column,
    request: PageRequest,
    to_record: Callable[[Any], RecordT],
) -> Page[RecordT]:
    """Read the page ``request`` asks for from ``stmt`` (already filtered), in display order."""
    limit = max(1, min(request.limit, PAGE_LIMIT_MAX))
    dialect = session.get_bind().dialect.name
    order = _Order(sort, id_column, dialect)
    backward = request.before is not None or (request.from_end and request.after is None)
    ascending = request.descending == backward
    cursor = request.after or request.before or request.start_at
    inclusive = cursor is request.start_at and request.after is None and request.before is None
    rows = order.read(
        session, stmt, cursor, ascending=ascending, inclusive=inclusive, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    if backward:
        rows.reverse()
    records = tuple(to_record(row) for row in rows)
    if backward:
        has_prev, has_next = more, request.before is not None
    else:
        has_next, has_prev = more, (request.after or request.start_at) is not None
    return Page(
        records=records,
        next=_cursor(records[-1], request.sort) if records else None,
        prev=_cursor(records[0], request.sort) if records else None,
        has_next=has_next,
        has_prev=has_prev,
        request=request,
    )


def contains(columns: Sequence[Column], search: str) -> ColumnElement[bool] | None:
    """Rows where any of ``columns`` contains ``search`` (any case, wildcards literal).

    None when the search is blank; `Invalid` when it is longer than anyone types.
    """
    if len(search) > SEARCH_MAX:
        raise Invalid({"search": f"is too long (at most {SEARCH_MAX} characters)"})
    text = search.strip().lower()
    if not text:
        return None
    pattern = "%" + escape_like(text) + "%"
    return or_(*(func.lower(column).like(pattern, escape="\\") for column in columns))


def escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards and the escape character taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _cursor(record: Any, sort: str) -> Cursor:
    return Cursor(value=getattr(record, sort), id=record.id)


class _Order:
    """The scan order of a keyset page (the sort column, then id to break ties) and how to
    read a page of it from a cursor by seeking in the (sort, id) index, never scanning.

    The natural condition, ``sort > :value OR (sort = :value AND id > :id)``, made SQLite
    scan and sort the table (27 ms for a page in the middle of a million names). A row value,
    ``(sort, id) > (:value, :id)``, is a true seek on PostgreSQL; SQLite seeks with its first
    column only, then walks every tie (50 ms in the middle of a million users sorted by role).
    So SQLite and MySQL read the page as two seeks: the cursor's ties after its id, then the
    rows past its value. (One UNION ALL of both made SQLite sort each half.)
    """

    def __init__(self, sort: Column, id_column: Column, dialect: str) -> None:
        base = _table_column(sort)
        # Unique columns need no tie-breaker, and PostgreSQL could not use their own index
        # for (column, id).
        self.unique = base is not None and bool(base.primary_key or base.unique)
        folded = base is not None and base.info.get("fold_case", False)
        # Case-folded columns sort as their indexes do (see models.base.sortable).
        self.fold = _FOLDS.get(dialect) if folded else None
        self.sort: Column = self.fold(sort) if self.fold else sort
        self.id_column = id_column
        self.row_values = dialect == "postgresql"

    def keys(self, *, ascending: bool) -> list[ColumnElement[Any]]:
        """The ORDER BY clause."""
        columns = [self.sort] if self.unique else [self.sort, self.id_column]
        return [column.asc() if ascending else column.desc() for column in columns]

    def read(
        self,
        session: Session,
        stmt: Any,
        cursor: Cursor | None,
        *,
        ascending: bool,
        inclusive: bool,
        limit: int,
    ) -> list[Any]:
        """Up to ``limit`` rows of ``stmt`` from ``cursor`` on (at it, if ``inclusive``)."""
        keys = self.keys(ascending=ascending)
        if cursor is None:
            return list(session.execute(stmt.order_by(*keys).limit(limit)))
        value = self._value(cursor)
        compare = partial(_compare, ascending=ascending)
        if self.unique:
            past = compare(self.sort, value, inclusive=inclusive)
        elif self.row_values:
            pair, at = tuple_(self.sort, self.id_column), tuple_(value, literal(cursor.id))
            past = compare(pair, at, inclusive=inclusive)
        else:
            # Two seeks: the cursor's ties after its id, then, if the page is not full yet,
            # the rows past its value.
            same = compare(self.id_column, cursor.id, inclusive=inclusive)
            ties = stmt.where(self.sort == value, same).order_by(*keys).limit(limit)
            rows = list(session.execute(ties))
            if len(rows) == limit:
                return rows
            past = compare(self.sort, value, inclusive=False)
            rest = stmt.where(past).order_by(*keys).limit(limit - len(rows))
            return rows + list(session.execute(rest))
        return list(session.execute(stmt.where(past).order_by(*keys).limit(limit)))

    def _value(self, cursor: Cursor) -> Any:
        # A typed literal: SQLAlchemy refuses ``column > True`` for booleans, and the
        # column's type (UTCDateTime, Numeric) must process the bound cursor value the same
        # way it stores. A malformed value (text in a SQLite NUMERIC column) is bound as the
        # driver gave it, which the database orders where it ordered the row.
        value: Any
        if isinstance(cursor.value, Malformed):
            stored = cursor.value.stored
            typed = isinstance(stored, self.sort.type.python_type)
            value = literal(stored, type_=self.sort.type) if typed else literal(stored)
        elif isinstance(cursor.value, StoredTime):  # bound as the text SQLite holds
            value = literal(cursor.value.as_stored)
        else:
            value = literal(cursor.value, type_=self.sort.type)
        return self.fold(value) if self.fold is not None else value


_FOLDS: dict[str, Callable[[Any], Any]] = {
    "sqlite": lambda expression: expression.collate("NOCASE"),
    "postgresql": func.lower,
}


def _compare(left: Any, right: Any, *, ascending: bool, inclusive: bool) -> ColumnElement[bool]:
    if ascending:
        return left >= right if inclusive else left > right  # type: ignore[no-any-return]
    return left <= right if inclusive else left < right  # type: ignore[no-any-return]


def _table_column(expression: Column) -> TableColumn[Any] | None:
    base = getattr(expression, "expression", expression)
    return base if isinstance(base, TableColumn) else None


def shown_count(
    session: Session, table_name: str, *, narrowed: bool, exact: Callable[[], int]
) -> Count:
    """The count a screen shows under its rows: ``exact()``, except for the whole of a big
    PostgreSQL table (nothing ``narrowed`` it), where the planner's estimate costs nothing
    and ``count(*)`` would read a million rows."""
    if not narrowed:
        estimate = whole_table_count(session, table_name)
        if estimate is not None:
            return estimate
    return Count(exact())


def whole_table_count(session: Session, table_name: str) -> Count | None:
    """PostgreSQL's estimate of a big table's rows, shown as approximate; None otherwise.

    None for other backends, for small tables (they are counted exactly), and for tables
    never analysed (reltuples is -1).
    """
    if session.get_bind().dialect.name != "postgresql":
        return None
    estimate = session.scalar(
        text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"),
        {"name": table_name},
    )
    if estimate is None or estimate < ESTIMATE_FROM:
        return None
    return Count(rows=int(estimate), exact=False)
