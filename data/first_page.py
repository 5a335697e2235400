"""The console's first page of a SQLite table, read with the standard library's ``sqlite3``.

SQLAlchemy takes about as long to import as a bare Textual app takes to draw its first
frame, so the console's first rows cannot wait for the data core. This module reads that
one page before the data core has loaded, and gives the very records the data core's
paging would (`data.records.record_class`, the same plain checks, the same conversions as
the models' column types on SQLite), so the table shows them and the data core's own
first page, a moment later, replaces them with equal ones.

It answers None, and the console waits for the data core as before, whenever it cannot
promise that: not a plain ``sqlite:///path`` URL, no such file, not a database, a schema
other than this AccessGuard's head, a page other than the first by id, a relation to its
own table, a column type it does not know, and any value the data core would mark as
malformed or convert otherwise (text in a number column, a time in another format, a NULL
where a value belongs, an address only the full validator can judge and refuses). Refusals
and their messages stay the data core's.

Safety: the file is opened through a read-only ``file:`` URI quoted byte by byte
(`data.sqlite_file.file_uri`), so a missing file is never created and nothing is written;
the page is read in one read transaction that waits for no lock (``timeout=0``: a
colleague mid-write makes it give up) and is closed at once. On a WAL database, SQLite
makes its ``-wal`` and ``-shm`` companions if they are missing, as the data core's own
connection does a moment later, in read-only mode too.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote

from data.entities import entity_named
from data.entity import CLOCK_FIELDS, ID, Entity, Field
from data.plain_checks import BIGINT_MAX, INTEGER_MAX, PlainCheck, money_max, plain_check
from data.records import PAGE_LIMIT_MAX, Cursor, Page, PageRequest, record_class, record_fields
from data.revision import HEAD, VERSION_TABLE
from data.sqlite_file import file_uri
from data.stored import StoredCheck, stored_check
from data.validation import email
from models.plain import SQLITE_DATETIME

# Only a URL SQLAlchemy reads in one obvious way: a driver-less or pysqlite ``sqlite:///``,
# then a path with no query (``?``), user (``@``) or port (``:``) to tell apart; its
# percent escapes are decoded as SQLAlchemy decodes them. Anything else waits.
PLAIN_SQLITE_URL = re.compile(r"sqlite(?:\+pysqlite)?:///(?P<database>[^?@:]+)")
# Declared column types and what the models read from them (anything else: give up).
NUMERIC_TYPE = re.compile(r"NUMERIC\((?P<precision>\d+), ?(?P<scale>\d+)\)")
INTEGER_TYPES = {"INTEGER": INTEGER_MAX, "BIGINT": BIGINT_MAX}


class GiveUp(Exception):
    """The page cannot be promised identical to the data core's: wait for the data core."""


def sqlite_file(raw_url: str) -> Path | None:
    """The file a plain ``sqlite:///`` URL names, as the data core resolves it; None for
    any other URL (a server, options, a user or port part, an in-memory database)."""
    found = PLAIN_SQLITE_URL.fullmatch(raw_url)
    if found is None:
        return None
    name = unquote(found["database"])
    if not name or name == ":memory:" or "\x00" in name:
        return None
    return Path(os.path.abspath(name))


def read_first_page(raw_url: str, plural: str, request: PageRequest) -> Page[Any] | None:
    """The first page ``request`` asks of ``plural`` in the SQLite database ``raw_url``
    names, equal record for record to the data core's; None when that cannot be promised."""
    path = sqlite_file(raw_url)
    if path is None or not _first_by_id(request) or not path.is_file():
        return None
    try:
        declared = entity_named(plural)
        with _reading(path) as connection:
            if not _stamped_at_head(connection):
                return None
            rows = connection.execute(_page_sql(declared), (request.limit + 1,)).fetchall()
            readers = _readers(declared, _declared_types(connection, declared.plural))
        record = record_class(declared)
        records = tuple(
            record(*(read(value) for read, value in zip(readers, row, strict=True)))
            for row in rows[: request.limit]
        )
    except (GiveUp, sqlite3.Error, KeyError):
        return None
    return Page(
        records=records,
        next=Cursor(records[-1].id, records[-1].id) if records else None,
        prev=Cursor(records[0].id, records[0].id) if records else None,
        has_next=len(rows) > request.limit,
        has_prev=False,
        request=request,
    )


def _first_by_id(request: PageRequest) -> bool:
    """Whether ``request`` asks for the first page by id: the one a screen opens on."""
    first = PageRequest(sort=ID, limit=request.limit)
    return request == first and 0 < request.limit <= PAGE_LIMIT_MAX


@contextmanager
def _reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection in one read transaction, closed (and so ended) on leaving."""
    # No wait for a lock: a writer mid-commit makes the first page wait for the data core.
    connection = sqlite3.connect(
        file_uri(path, read_only=True), uri=True, timeout=0, isolation_level=None
    )
    try:
        connection.execute("BEGIN")
        yield connection
    finally:
        connection.close()  # ends the read transaction; nothing was written


def _stamped_at_head(connection: sqlite3.Connection) -> bool:
    """Whether the version table says HEAD, as `data.schema` asks it at start-up."""
    stamped = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    return [row[0] for row in stamped] == [HEAD]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _page_sql(declared: Entity) -> str:
    """The data core's first-page query by id: the record's columns in `record_fields`
    order, a relation's key through a left join, whether a secret is set."""
    table = _quoted(declared.plural)
    columns = [f"{table}.{_quoted(ID)}"]
    joins = []
    for item in declared.fields:
        if item.kind == "relation":
            target = entity_named(item.to)
            if target.plural == declared.plural:
                raise GiveUp  # the data core would alias the table; not read here
            other = _quoted(target.plural)
            column = f"{table}.{_quoted(item.stored_as)}"
            columns += [column, f"{other}.{_quoted(target.natural_key)}"]
            joins.append(f" LEFT OUTER JOIN {other} ON {column} = {other}.{_quoted(ID)}")
        elif item.kind == "secret":
            columns.append(f"{table}.{_quoted(item.stored_as)} IS NOT NULL")
        else:
            columns.append(f"{table}.{_quoted(item.name)}")
    columns += [f"{table}.{_quoted(name)}" for name in (*CLOCK_FIELDS, "version")]
    return (
        f"SELECT {', '.join(columns)} FROM {table}{''.join(joins)} "
        f"ORDER BY {table}.{_quoted(ID)} ASC LIMIT ?"
    )


def _declared_types(connection: sqlite3.Connection, table: str) -> dict[str, str]:
    """Column -> its declared type, as the migrations created it (``NUMERIC(12, 2)``)."""
    rows = connection.execute(f"PRAGMA table_info({_quoted(table)})").fetchall()
    return {str(row[1]): str(row[2]).upper() for row in rows}


# Reads one stored value as the data core's record holds it, or raises GiveUp.
Reader = Callable[[Any], Any]


class _Kind(NamedTuple):
    """How one kind of stored value is read, and checked when it is a field's."""

    read: Reader
    check: PlainCheck | None = None


def _readers(declared: Entity, types: dict[str, str]) -> tuple[Reader, ...]:
    """One reader per record attribute, in `record_fields` order."""
    readers: list[Reader] = [_as_is]
    for item in declared.fields:
        if item.kind == "relation":
            readers += [_as_is, _as_is]  # id and key, unconverted as the models leave them
        elif item.kind == "secret":
            readers.append(_flag)  # ``IS NOT NULL``: 0 or 1
        else:
            readers.append(_field_reader(item, types.get(item.stored_as, "")))
    readers += [_time, _time, _as_is]
    if len(readers) != len(record_fields(declared)):
        raise GiveUp
    return tuple(readers)


def _field_reader(item: Field, declared_type: str) -> Reader:
    """The reader of a field's stored value: its conversion, then the data core's check."""
    kind = _kind(item, declared_type)
    read = kind.read
    if kind.check is None:
        return read
    judge = _stored_check(item, kind.check)

    def checked(value: Any) -> Any:
        converted = read(value)
        if judge(converted) is not None:
            raise GiveUp  # the data core marks it malformed
        return converted

    return checked


def _stored_check(item: Field, plainly: PlainCheck) -> StoredCheck:
    """The data core's check of a stored ``item`` (`data.stored.stored_check`), where its
    validator is known without SQLAlchemy: the address's. Elsewhere what the plain check
    does not pass gives up (the data core's validator might still accept it)."""
    if item.kind == "email":
        return stored_check(email, plainly)
    return lambda value: None if plainly(value) else "not plainly acceptable"


def _kind(item: Field, declared_type: str) -> _Kind:
    """How ``item`` is read, from the column's declared type (as the models read it)."""
    match item.kind:
        case "money":
            found = NUMERIC_TYPE.fullmatch(declared_type)
            if found is None:
                raise GiveUp
            precision, scale = int(found["precision"]), int(found["scale"])
            return _Kind(_decimal(scale), plain_check(item, money_max(precision, scale)))
        case "count":
            top = INTEGER_TYPES.get(declared_type)
            if top is None:
                raise GiveUp
            return _Kind(_whole_number, plain_check(item, top))
        case "flag":
            return _Kind(_flag, plain_check(item))
        case _:
            return _Kind(_as_is, plain_check(item))


def _as_is(value: Any) -> Any:
    """A value no column type converts on SQLite (text, integers, a relation's key)."""
    return value


def _flag(value: Any) -> bool:
    """``models.base.Flag``: 0 or 1 as false or true; anything else is malformed."""
    if type(value) is not int or value not in (0, 1):
        raise GiveUp
    return bool(value)


def _whole_number(value: Any) -> int:
    """``models.base.WholeNumber``: an integer as it is; anything else is malformed."""
    if type(value) is not int:
        raise GiveUp
    return value


def _decimal(scale: int) -> Reader:
    """``models.base.Money`` on SQLite: a number, rounded to ``scale`` places as text."""
    form = f"%.{scale}f"

    def read(value: Any) -> Decimal:
        if type(value) not in (int, float):
            raise GiveUp
        try:
            return Decimal(form % value)
        except (ArithmeticError, ValueError):
            raise GiveUp from None

    return read


def _time(value: Any) -> datetime | None:
    """``models.base.UTCDateTime``: the text AccessGuard writes, as an aware UTC time; a
    missing time stays missing; any other text (another tool's format) gives up."""
    if value is None:
        return None
    if type(value) is not str or not SQLITE_DATETIME.fullmatch(value):
        raise GiveUp
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


__all__ = ["read_first_page", "sqlite_file"]
