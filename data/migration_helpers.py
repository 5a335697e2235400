"""What a migration needs that autogenerate cannot write: search and sort indexes, in one call.

Autogenerate writes tables, columns, keys and plain indexes from the models. It cannot write
the expression indexes `models.base.sortable` and `models.base.searchable` declare
(``name COLLATE NOCASE``, ``lower(name)``, trigram GIN), nor SQLite's FTS5 search table and
the triggers that keep it in step, which no model describes. A migration calls these
functions instead and gets exactly what the models declare, under the same names, so the
schema comparison after ``accessguard db upgrade`` (tests/test_schema.py) finds nothing::

    create_sort_indexes("categories", ("name", "code", "created_at"), fold_case={"name"})
    create_search_indexes("categories", ("name", "code"))

The index and table functions run inside a migration (they use Alembic's ``op``), with the
sort indexes first: a case-folded sort index on SQLite also serves prefix search, and
`create_search_indexes` then creates no second one, as `searchable` does.
`create_search_table` and `drop_search_table` take a plain connection instead, so a test can
give a table built with ``metadata.create_all`` (which creates the declared indexes) its
SQLite search table.

What a migration writes stays what it wrote: a later model change gets a migration of its
own, so these functions take the table and column names as arguments and never read them
from the models. For the same reason, what a function here creates never changes (every
migration that calls it would change with it): a new way gets a new function or keyword.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

_SEARCH_TRIGGERS = ("insert", "delete", "update")
_PG_SEARCH_INDEXES = ("prefix", "trigram")


def utc_timestamp() -> sa.types.TypeEngine[datetime]:
    """The column type `models.base.UTCDateTime` stores: naive UTC, microseconds on MySQL too."""
    return sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def exact_key(length: int) -> sa.types.TypeEngine[str]:
    """The column type `models.base.exact_key` declares: text compared byte for byte, on
    MySQL/MariaDB too (``utf8mb4_bin``), for a unique key stored normalised."""
    binary = mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin")
    return sa.String(length).with_variant(binary, "mysql")


def one_of(column: str, values: Iterable[str]) -> str:
    """The text of a CHECK constraint allowing only ``values`` in ``column``."""
    return "{} IN ({})".format(column, ", ".join(f"'{value}'" for value in values))


# Sort indexes


def sort_index_name(dialect: str, table: str, column: str, *, fold_case: bool) -> str:
    """The name `models.base.sortable` gives ``column``'s sort index on ``dialect``."""
    suffix = {"sqlite": "nocase", "postgresql": "folded"}.get(dialect, "id") if fold_case else "id"
    return f"ix_{table}_{column}_{suffix}"


def create_sort_indexes(
    table: str, columns: Sequence[str], *, fold_case: Collection[str] = ()
) -> None:
    """Index each column together with ``id``, the order a keyset page walks.

    Columns named in ``fold_case`` sort without regard to case, as `sortable` declares them:
    ``(column COLLATE NOCASE, id)`` on SQLite, ``(lower(column), id)`` on PostgreSQL, and the
    table's case-insensitive collation, a plain ``(column, id)``, on MySQL/MariaDB.
    """
    dialect = op.get_bind().dialect.name
    for column in columns:
        folded = column in fold_case
        name = sort_index_name(dialect, table, column, fold_case=folded)
        if folded and dialect == "sqlite":
            op.create_index(name, table, [sa.text(f"{column} COLLATE NOCASE"), "id"])
        elif folded and dialect == "postgresql":
            op.create_index(name, table, [sa.text(f"lower({column})"), "id"])
        else:
            op.create_index(name, table, [column, "id"])


def drop_sort_indexes(
    table: str, columns: Sequence[str], *, fold_case: Collection[str] = ()
) -> None:
    """Drop what `create_sort_indexes` created, given the same arguments."""
    dialect = op.get_bind().dialect.name
    for column in columns:
        name = sort_index_name(dialect, table, column, fold_case=column in fold_case)
        op.drop_index(name, table_name=table)


# Search indexes


def create_search_indexes(table: str, columns: Sequence[str]) -> None:
    """Make search on these columns independent of the table's size, as `searchable` declares.

    - SQLite: a NOCASE index per column for prefix search (unless a case-folded sort index of
      that name serves already), and the FTS5 trigram table for substring search
      (`create_search_table`), filled from the rows already there.
    - PostgreSQL: ``lower(column) text_pattern_ops`` for prefix search and a trigram GIN
      index for substring search. pg_trgm is created if missing; where it may not be (no
      privilege), the trigram indexes are left out and substring search scans.
    - MySQL/MariaDB: nothing; search scans there.
    """
    bind = op.get_bind()
    dialect = bind.dialect.name
    if dialect == "sqlite":
        for column in columns:
            name = _nocase_name(table, column)
            if not _sqlite_index_exists(bind, name):
                op.create_index(name, table, [sa.text(f"{column} COLLATE NOCASE")])
        create_search_table(bind, table, columns)
    elif dialect == "postgresql":
        trigrams = _pg_trgm_available(bind)
        for column in columns:
            lowered = f"lower({column})"
            op.create_index(
                _pg_search_name(table, column, "prefix"),
                table,
                [sa.text(f"{lowered} text_pattern_ops")],
            )
            if trigrams:
                op.create_index(
                    _pg_search_name(table, column, "trigram"),
                    table,
                    [sa.text(f"{lowered} gin_trgm_ops")],
                    postgresql_using="gin",
                )


def drop_search_indexes(table: str, columns: Sequence[str]) -> None:
    """Drop what `create_search_indexes` created, leaving the sort indexes alone."""
    bind = op.get_bind()
    dialect = bind.dialect.name
    if dialect == "sqlite":
        drop_search_table(bind, table)
        for column in columns:
            name = _nocase_name(table, column)
            # A case-folded sort index has the same name but covers (column, id).
            if _sqlite_index_width(bind, name) == 1:
                op.drop_index(name, table_name=table)
    elif dialect == "postgresql":
        for column in columns:
            for kind in _PG_SEARCH_INDEXES:
                op.execute(f"DROP INDEX IF EXISTS {_pg_search_name(table, column, kind)}")


def search_table_name(table: str) -> str:
    """The SQLite FTS5 table that indexes ``table``'s searched columns by trigram."""
    return f"{table}_search"


def create_search_table(connection: Connection, table: str, columns: Sequence[str]) -> None:
    """On SQLite, ``table``'s FTS5 trigram search table, its triggers, filled from its rows.

    The table is "external content": it holds trigrams only and reads values from
    ``table``, whose ``id`` is its rowid; the triggers keep it in step on every insert,
    delete and update of these columns. On other backends this does nothing: their search
    indexes are plain indexes, which ``metadata.create_all`` or `create_search_indexes`
    creates.
    """
    if connection.dialect.name != "sqlite":
        return
    search = search_table_name(table)
    names = ", ".join(columns)
    new = ", ".join(f"new.{column}" for column in columns)
    old = ", ".join(f"old.{column}" for column in columns)
    add = f"INSERT INTO {search}(rowid, {names}) VALUES (new.id, {new});"
    remove = f"INSERT INTO {search}({search}, rowid, {names}) VALUES ('delete', old.id, {old});"
    for statement in (
        f"CREATE VIRTUAL TABLE {search} USING fts5("
        f"{names}, content='{table}', content_rowid='id', tokenize='trigram')",
        f"CREATE TRIGGER {table}_search_insert AFTER INSERT ON {table} BEGIN {add} END",
        f"CREATE TRIGGER {table}_search_delete AFTER DELETE ON {table} BEGIN {remove} END",
        f"CREATE TRIGGER {table}_search_update AFTER UPDATE OF {names} ON {table} "
        f"BEGIN {remove} {add} END",
        f"INSERT INTO {search}({search}) VALUES ('rebuild')",
    ):
        connection.exec_driver_sql(statement)


def drop_search_table(connection: Connection, table: str) -> None:
    """On SQLite, drop ``table``'s search table and its triggers, if they exist."""
    if connection.dialect.name != "sqlite":
        return
    for suffix in _SEARCH_TRIGGERS:
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_search_{suffix}")
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {search_table_name(table)}")


def _nocase_name(table: str, column: str) -> str:
    return f"ix_{table}_{column}_nocase"


def _pg_search_name(table: str, column: str, kind: str) -> str:
    return f"ix_{table}_{column}_{kind}"


def _sqlite_index_exists(connection: Connection, name: str) -> bool:
    return _sqlite_index_width(connection, name) > 0


def _sqlite_index_width(connection: Connection, name: str) -> int:
    """How many keys (columns or expressions) the index ``name`` has; 0 if there is none."""
    return len(connection.exec_driver_sql(f"PRAGMA index_info({name})").all())


def _pg_trgm_available(connection: Connection) -> bool:
    """Create pg_trgm if it is missing and we may; a refusal must not abort the migration."""
    try:
        with connection.begin_nested():
            connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as refused:
        log.warning("pg_trgm unavailable (%s); substring search will scan", refused.orig)
        return False
    return True
