"""Ids are never given out twice, and every audit entry records the database login.

Revision ID: 0005_lasting_ids_and_db_login
Revises: 0004_search_and_sort_indexes

- SQLite hands out ``max(id) + 1`` unless a table is AUTOINCREMENT: once the newest user was
  deleted, the next user took its id, and the audit trail's entries about the deleted one
  then named the new one. AUTOINCREMENT needs the table rebuilt (SQLite cannot ALTER a
  primary key), so each table is copied into a new one and renamed back, SQLite's documented
  way of changing a table: every row keeps its id and version, the DDL keeps every column,
  check, default, foreign key and constraint name byte for byte (only the primary key moves
  into the id column, where AUTOINCREMENT must be written), and the indexes and the FTS5
  search triggers, which dropping the old table drops, are created again from their own
  stored text. ``sqlite_sequence`` then starts past every id ever used: the largest id now
  or any id the audit trail remembers (a deleted newest row leaves no other trace).
- PostgreSQL sequences and MariaDB's AUTO_INCREMENT never go back already (MariaDB keeps
  the counter across restarts since 10.2.4), so their tables are left as they are.
- ``audit_entries.db_login``: the database account that wrote the entry (``current_user``
  on PostgreSQL, ``CURRENT_USER()`` on MariaDB; empty on SQLite, which has no logins).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from data.errors import SchemaMismatch

revision: str = "0005_lasting_ids_and_db_login"
down_revision: str | Sequence[str] | None = "0004_search_and_sort_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported (see 0002): the audit's entity name for each table's records.
ENTITIES = {"users": "user", "products": "product", "audit_entries": None}
DB_LOGIN_MAX = 400  # MariaDB: an 80-character user, '@', a 255-character host
REBUILT_SUFFIX = "_rebuilt"


def upgrade() -> None:
    """Add ``db_login``; make SQLite's tables AUTOINCREMENT, seeded past every id ever used."""
    op.add_column("audit_entries", sa.Column("db_login", sa.String(DB_LOGIN_MAX), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table in ENTITIES:
        _rebuild(bind, table, autoincrement=True)
    for table, entity in ENTITIES.items():
        _seed_sequence(bind, table, entity)


def downgrade() -> None:
    """Back to plain SQLite rowids (ids may be reused again) and no ``db_login``."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for table in ENTITIES:
            _rebuild(bind, table, autoincrement=False)
        op.execute("DELETE FROM sqlite_sequence")  # SQLite keeps the table itself
        op.execute("ALTER TABLE audit_entries DROP COLUMN db_login")
    else:
        op.drop_column("audit_entries", "db_login")


def _rebuild(bind: Connection, table: str, *, autoincrement: bool) -> None:
    """Copy ``table`` into one whose id is (or is not) AUTOINCREMENT, and rename it back.

    Foreign keys are off while migrating (data.schema), so dropping ``users`` leaves the
    products pointing at it alone; the rows come back under the same ids, and data.schema
    runs ``PRAGMA foreign_key_check`` before it commits.
    """
    ddl = bind.scalar(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": table},
    )
    if ddl is None:
        raise SchemaMismatch(f"The {table} table is missing; nothing was changed.")
    rebuilt = f"{table}{REBUILT_SUFFIX}"
    new_ddl = _retitled(_with_autoincrement(ddl, table) if autoincrement else _without(ddl, table))
    # Indexes and triggers go with the old table: keep their own text to create them again.
    kept = bind.execute(
        sa.text(
            "SELECT sql FROM sqlite_master WHERE tbl_name = :name AND sql IS NOT NULL "
            "AND type IN ('index', 'trigger') ORDER BY type, name"
        ),
        {"name": table},
    ).scalars()
    kept_sql = list(kept)
    columns = ", ".join(
        f'"{row[1]}"' for row in bind.exec_driver_sql(f'PRAGMA table_info("{table}")')
    )
    op.execute(new_ddl.replace(f"CREATE TABLE {table} (", f"CREATE TABLE {rebuilt} (", 1))
    op.execute(f"INSERT INTO {rebuilt} ({columns}) SELECT {columns} FROM {table}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {rebuilt} RENAME TO {table}")
    for sql in kept_sql:
        op.execute(sql)


def _retitled(ddl: str) -> str:
    # SQLite stores CREATE TABLE as written; SQLAlchemy wrote "CREATE TABLE name (".
    return re.sub(r"^CREATE TABLE \"?(\w+)\"? \(", r"CREATE TABLE \1 (", ddl, count=1)


def _with_autoincrement(ddl: str, table: str) -> str:
    """The table's DDL with ``CONSTRAINT pk_<table> PRIMARY KEY (id)`` moved into the id
    column as ``... PRIMARY KEY AUTOINCREMENT``, the only place SQLite accepts it."""
    name = f"pk_{table}"
    table_key = re.compile(rf",\s*CONSTRAINT {name} PRIMARY KEY \(id\)")
    id_column = re.compile(r"\bid INTEGER NOT NULL,")
    if len(table_key.findall(ddl)) != 1 or len(id_column.findall(ddl)) != 1:
        raise SchemaMismatch(
            f"The {table} table is not as AccessGuard created it (its id or primary key "
            "differs), so it was not rebuilt; nothing was changed."
        )
    ddl = table_key.sub("", ddl)
    return id_column.sub(f"id INTEGER NOT NULL CONSTRAINT {name} PRIMARY KEY AUTOINCREMENT,", ddl)


def _without(ddl: str, table: str) -> str:
    """The reverse of `_with_autoincrement`: 0004's DDL."""
    name = f"pk_{table}"
    column_key = f"id INTEGER NOT NULL CONSTRAINT {name} PRIMARY KEY AUTOINCREMENT,"
    if ddl.count(column_key) != 1:
        raise SchemaMismatch(f"The {table} table has no AUTOINCREMENT id; nothing was changed.")
    ddl = ddl.replace(column_key, "id INTEGER NOT NULL,")
    closing = ddl.rindex(")")
    return f"{ddl[:closing].rstrip()}, \n\tCONSTRAINT {name} PRIMARY KEY (id)\n{ddl[closing:]}"


def _seed_sequence(bind: Connection, table: str, entity: str | None) -> None:
    """Start ``table``'s ids past the largest one in it or named by the audit trail."""
    largest = int(bind.scalar(sa.text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")) or 0)
    if entity is not None:
        remembered = bind.scalar(
            sa.text("SELECT COALESCE(MAX(record_id), 0) FROM audit_entries WHERE entity = :e"),
            {"e": entity},
        )
        largest = max(largest, int(remembered or 0))
    op.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :t").bindparams(t=table))
    if largest:
        op.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :seq)").bindparams(
                t=table, seq=largest
            )
        )
