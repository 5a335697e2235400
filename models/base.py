"""Declarative base shared by every AccessGuard model."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, MetaData, String, func
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

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


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and always read back as an aware UTC datetime.

    SQLite and MySQL keep no zone, PostgreSQL would convert to the session zone; storing
    naive UTC everywhere makes the three backends agree byte for byte.
    """

    impl = DateTime
    cache_ok = True

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
    cannot describe: migration 0004 creates it.
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
