"""Declarative base shared by every AccessGuard model."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, MetaData, Numeric, String, func
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from models.plain import SQLITE_DATETIME, Malformed, raw_text

T = TypeVar("T")

# Named constraints make migrations and error translation deterministic: a driver error
# mentions "uq_users_email", and the data layer maps that name to the "email" field.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Parent of all models; its metadata carries the constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Tolerant(TypeDecorator[T]):
    """A column type read value by value: a value its type cannot read (text in a SQLite
    NUMERIC column, ``garbage`` in a DATETIME) becomes `Malformed`, where the driver's
    conversion would fail the whole result, and every other row of it, with one bad row.
    """

    cache_ok = True
    reason = "cannot be read"

    @property
    def python_type(self) -> type[Any]:
        return self.impl_instance.python_type

    def accepts(self, value: Any) -> bool:
        """Whether the driver's raw ``value`` is of a kind this type reads."""
        return True

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        process = super().result_processor(dialect, coltype)
        accepts, reason = self.accepts, self.reason

        def read(value: Any) -> Any:
            if value is None:
                return None
            if not accepts(value):
                return Malformed(raw_text(value), reason, value)
            if process is None:
                return value
            try:
                return finish(value, process(value))
            except (ValueError, TypeError, ArithmeticError):
                return Malformed(raw_text(value), reason, value)

        finish = self.finish
        return read

    def finish(self, raw: Any, value: Any) -> Any:
        """The value read from ``raw``, as the column's type gives it."""
        return value


class Money(Tolerant[Decimal]):
    """``Numeric`` read tolerantly: anything but a number is `Malformed`."""

    cache_ok = True
    impl = Numeric
    reason = "is not a number"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


class WholeNumber(Tolerant[int]):
    """``Integer`` read tolerantly: anything but a whole number is `Malformed`."""

    cache_ok = True
    impl = Integer
    reason = "is not a whole number"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)


class Flag(Tolerant[bool]):
    """``Boolean`` read tolerantly: anything but true/false (1/0) is `Malformed`."""

    cache_ok = True
    impl = Boolean
    reason = "is not yes or no"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (bool, int)) and value in (0, 1)


class StoredTime(datetime):
    """A time SQLite holds as text written otherwise than AccessGuard writes it (another
    tool's ``2026-01-02 03:04:05``): the same time, and ``as_stored``, its text, which is
    what compares equal to it in SQL (keyset paging seeks by it)."""

    as_stored: str

    @classmethod
    def of(cls, value: datetime, as_stored: str) -> StoredTime:
        """``value``, remembering the text it was read from."""
        stored = cls(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            value.tzinfo,
        )
        stored.as_stored = as_stored
        return stored


class UTCDateTime(Tolerant[datetime]):
    """A timestamp stored as naive UTC and always read back as an aware UTC datetime.

    SQLite and MySQL keep no zone, PostgreSQL would convert to the session zone; storing
    naive UTC everywhere makes the three backends agree byte for byte.
    """

    impl = DateTime
    cache_ok = True
    reason = "is not a date and time"

    def accepts(self, value: Any) -> bool:
        # SQLite stores text that the driver's processor parses; the servers give datetimes.
        return isinstance(value, (str, datetime))

    def finish(self, raw: Any, value: Any) -> Any:
        if isinstance(raw, str) and not SQLITE_DATETIME.fullmatch(raw):
            return StoredTime.of(value, raw)
        return value

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=False))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def exact_key(length: int) -> String:
    """A unique key column that compares byte for byte on every backend.

    Keys are normalised before they are stored (email lower case, SKU upper case), so the
    database must not fold accents too: MySQL/MariaDB's default collations would make
    ``josé@…`` and ``jose@…`` one address. SQLite and PostgreSQL compare exactly already.
    """
    binary = mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin")
    return String(length).with_variant(binary, "mysql")


def sortable(*attributes: Any, fold_case: Collection[str] = ()) -> None:
    """Index each column together with ``id``: the order a keyset page walks.

    Names in ``fold_case`` sort without regard to case on every backend: by a NOCASE index
    on SQLite (which also serves prefix search), by ``lower(column)`` on PostgreSQL (whose
    collation may well be C), by the table's case-insensitive collation on MySQL.
    """
    for attribute in attributes:
        column = _column(attribute)
        table = column.table
        name = f"ix_{table.name}_{column.name}_id"
        if column.name not in fold_case:
            Index(name, column, table.c.id)
            continue
        column.info["fold_case"] = True  # data.paging sorts it the same way
        only_on(("mysql", "mariadb"), Index(name, column, table.c.id))
        only_on(("sqlite",), Index(_nocase_name(column), column.collate("NOCASE"), table.c.id))
        folded = Index(f"ix_{table.name}_{column.name}_folded", func.lower(column), table.c.id)
        only_on(("postgresql",), folded)


def searchable(*attributes: Any) -> None:
    """Indexes that make search on these columns independent of the table's size.

    Prefix search (``LIKE 'p%'``) uses a NOCASE index on SQLite and a ``lower(column)
    text_pattern_ops`` index on PostgreSQL; substring search uses a trigram GIN index on
    PostgreSQL. SQLite's substring index is an FTS5 table kept by triggers, which metadata
    cannot describe: a migration creates it with `data.migration_helpers`.
    """
    for attribute in attributes:
        column = _column(attribute)
        table = column.table
        if not any(index.name == _nocase_name(column) for index in table.indexes):
            only_on(("sqlite",), Index(_nocase_name(column), column.collate("NOCASE")))
        lowered = f"{column.name}_lower"
        prefix = Index(
            f"ix_{table.name}_{column.name}_prefix",
            func.lower(column).label(lowered),
            postgresql_ops={lowered: "text_pattern_ops"},
        )
        trigram = Index(
            f"ix_{table.name}_{column.name}_trigram",
            func.lower(column).label(lowered),
            postgresql_using="gin",
            postgresql_ops={lowered: "gin_trgm_ops"},
        )
        only_on(("postgresql",), prefix, trigram)


def only_on(dialects: tuple[str, ...], *indexes: Index) -> None:
    """Create ``indexes`` only on these backends; ``info`` tells schema comparisons so."""
    for index in indexes:
        # Documented to take a tuple of names; SQLAlchemy's annotation says str.
        index.ddl_if(dialect=dialects)  # type: ignore[arg-type]
        index.info["dialects"] = dialects


def _column(attribute: Any) -> Column[Any]:
    column = attribute.expression
    assert isinstance(column, Column)
    return column


def _nocase_name(column: Column[Any]) -> str:
    return f"ix_{column.table.name}_{column.name}_nocase"


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)
