"""Keyset paging and text search, shared by every table the data core lists (records, audit).

A page is read from a cursor (sort value, id) in either direction, ``limit + 1`` rows so we
know whether more exist; no OFFSET, so the cost does not grow with the position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import and_, func, literal, or_
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from data.errors import Invalid
from data.records import Cursor, Page, PageRequest

RecordT = TypeVar("RecordT")
# A mapped attribute (User.email) or any column expression usable in WHERE and ORDER BY.
Column = ColumnElement[Any] | InstrumentedAttribute[Any]

PAGE_LIMIT_MAX = 1_000
SEARCH_MAX = 200


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
    backward = request.before is not None or (request.from_end and request.after is None)
    ascending = request.descending == backward
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
