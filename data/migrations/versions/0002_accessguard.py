"""AccessGuard's schema: users, products and the audit trail, converted from the seeds' tables.

Revision ID: 0002_accessguard
Revises: 0001_seeds

Rather than ALTERing the seeds' tables column by column (SQLite can hardly ALTER at all, and
MySQL would commit after every step), this revision builds the new tables beside the old
ones and copies the rows across, which works the same on SQLite, PostgreSQL and MariaDB:

1. check, before any DDL, that every legacy row can satisfy the new constraints, and refuse
   with the offending ids otherwise (never drop or change a row silently);
2. drop the legacy tables' secondary indexes and unique constraints: their names are
   whatever created them (``ix_users_email``, ``users_email_key``, ...) and index names are
   global on SQLite and PostgreSQL, so they could collide with the new ones;
3. rename ``users``/``products`` to ``legacy_users``/``legacy_products``;
4. create the new tables, every constraint named by the models' naming convention;
5. copy the rows with INSERT ... SELECT, keeping their ids;
6. drop the legacy tables and, on PostgreSQL, move the id sequences past the copied ids.

Everything runs in the caller's transaction: on SQLite and PostgreSQL a failure leaves the
database exactly as it was. MySQL commits implicitly around DDL, which is why step 1 comes
before any of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from data.errors import SchemaMismatch
from data.migration_helpers import one_of, utc_timestamp

revision: str = "0002_accessguard"
down_revision: str | Sequence[str] | None = "0001_seeds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The models' limits as they were at this revision, copied rather than imported: a later
# model change gets a migration of its own and must not quietly change what this one did.
USER_NAME_MAX = 100
EMAIL_MAX = 254
ROLE_MAX = 16
PASSWORD_HASH_MAX = 255
SKU_MAX = 32
PRODUCT_NAME_MAX = 200
DESCRIPTION_MAX = 2000
ACTOR_MAX = 200
ROLES = ("admin", "editor", "viewer")
ACTIONS = ("create", "update", "delete", "restore", "password", "import", "seed")
# The smallest legacy price that would no longer fit Numeric(12, 2) once rounded.
PRICE_LIMIT = 9_999_999_999.995
LEGACY = {"users": "legacy_users", "products": "legacy_products"}
SEEDS_COLUMNS = {"users": {"id", "name", "email"}, "products": {"id", "name", "price"}}
IDS_SHOWN = 20
DUPLICATES_SHOWN = 10


def upgrade() -> None:
    """Convert the seeds' users and products into AccessGuard's tables, keeping every row."""
    bind = op.get_bind()
    legacy = _legacy_columns(bind)
    _refuse_unexpected_tables(bind, legacy)
    problems = _problems(bind, legacy)
    if problems:
        raise SchemaMismatch(
            "The seeds' users and products tables cannot be converted to AccessGuard's "
            "schema: some rows break its rules. No row was changed.\n"
            + "\n".join(f"  - {problem}" for problem in problems)
            + "\nFix or delete these rows in the users and products tables, then run "
            "`accessguard db upgrade` again."
        )
    for table, legacy_name in LEGACY.items():
        if table in legacy:
            _set_aside(bind, table, legacy_name)
    _create_tables()
    # One timestamp for the whole conversion, naive UTC as models.UTCDateTime stores it.
    now = datetime.now(UTC).replace(tzinfo=None)
    if "users" in legacy:
        _copy_users(bind, legacy["users"], now)
    if "products" in legacy:
        _copy_products(bind, legacy["products"], now)
    for table, legacy_name in LEGACY.items():
        if table in legacy:
            op.drop_table(legacy_name)
    if bind.dialect.name == "postgresql":
        # The rows came in with explicit ids, which a sequence does not notice; without this
        # the next new user would collide with legacy user 1. (MySQL's AUTO_INCREMENT and
        # SQLite's rowid already continue after the largest id.)
        for table in ("users", "products"):
            op.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE(MAX(id), 0) + 1, false) FROM {table}"
            )


def downgrade() -> None:
    """Refused: the seeds' tables cannot hold roles, SKUs, stock, owners or the audit trail."""
    raise NotImplementedError(
        "0002_accessguard cannot be downgraded: the seeds' tables have no place for roles, "
        "passwords, SKUs, stock, owners or the audit trail, so going back would lose them. "
        "Restore a backup taken before the upgrade instead."
    )


# Step 1: checking the legacy rows


def _legacy_columns(bind: Connection) -> dict[str, set[str]]:
    """The seeds' tables present in this database, each with the columns it has.

    `data.schema` accepts any subset of the seeds' shape; a missing column reads as NULL
    below, so the checks report it instead of the copy failing half way.
    """
    inspector = sa.inspect(bind)
    return {
        table: {column["name"] for column in inspector.get_columns(table)}
        for table in LEGACY
        if inspector.has_table(table)
    }


def _refuse_unexpected_tables(bind: Connection, legacy: dict[str, set[str]]) -> None:
    """Refuse, before any DDL, tables this revision was not written to convert.

    `data.schema` only stamps databases of the seeds' shape, but a database stamped 0001 by
    hand, or one where a conversion died half way on MySQL (which cannot roll DDL back),
    must not be "converted" a second time.
    """
    inspector = sa.inspect(bind)
    leftovers = [name for name in LEGACY.values() if inspector.has_table(name)]
    if leftovers:
        raise SchemaMismatch(
            f"The database still has {', '.join(leftovers)} from an earlier conversion that "
            "did not finish (MySQL cannot roll back table changes). Restore the backup taken "
            "before it, then run `accessguard db upgrade` again."
        )
    for table, columns in legacy.items():
        unexpected = sorted(columns - SEEDS_COLUMNS[table])
        if unexpected or "id" not in columns:
            raise SchemaMismatch(
                f"The {table} table is marked as the seeds' schema (0001_seeds) but does not "
                f"have its shape (id, {', '.join(sorted(SEEDS_COLUMNS[table] - {'id'}))}; "
                f"found {', '.join(sorted(columns))}). Nothing was changed."
            )


def _legacy_table(name: str, columns: set[str]) -> sa.TableClause:
    return sa.table(name, *(sa.column(column) for column in sorted(columns)))


def _column(table: sa.TableClause, name: str) -> ColumnElement[Any]:
    return table.c[name] if name in table.c else sa.null()


def _blank(value: ColumnElement[Any]) -> ColumnElement[bool]:
    return sa.or_(value.is_(None), sa.func.trim(value) == "")


def _problems(bind: Connection, legacy: dict[str, set[str]]) -> list[str]:
    """One line per rule the legacy rows break, naming the ids that break it."""
    # SQLite's length() counts characters; MySQL's counts bytes, char_length() characters.
    length = sa.func.length if bind.dialect.name == "sqlite" else sa.func.char_length
    problems: list[str] = []
    if "users" in legacy:
        users = _legacy_table("users", legacy["users"])
        name, email = _column(users, "name"), _column(users, "email")
        problems += _failing(
            bind,
            "users",
            users,
            [
                ("the name is missing or blank", _blank(name)),
                (
                    f"the name is longer than {USER_NAME_MAX} characters",
                    length(sa.func.trim(name)) > USER_NAME_MAX,
                ),
                ("the email is missing or blank", _blank(email)),
                (
                    f"the email is longer than {EMAIL_MAX} characters",
                    length(sa.func.trim(email)) > EMAIL_MAX,
                ),
            ],
        )
        problems += _duplicate_emails(bind, users, email)
    if "products" in legacy:
        products = _legacy_table("products", legacy["products"])
        name, price = _column(products, "name"), _column(products, "price")
        # Raw comparisons, not the rounded value: rounding an absurd float would overflow.
        problems += _failing(
            bind,
            "products",
            products,
            [
                ("the name is missing or blank", _blank(name)),
                (
                    f"the name is longer than {PRODUCT_NAME_MAX} characters",
                    length(sa.func.trim(name)) > PRODUCT_NAME_MAX,
                ),
                ("the price is missing", price.is_(None)),
                ("the price is negative", price < 0),
                ("the price is 10,000,000,000 or more", price >= PRICE_LIMIT),
            ],
        )
    return problems


def _failing(
    bind: Connection,
    entity: str,
    table: sa.TableClause,
    checks: list[tuple[str, ColumnElement[bool]]],
) -> list[str]:
    problems = []
    for reason, condition in checks:
        ids = bind.scalars(sa.select(table.c.id).where(condition).order_by(table.c.id)).all()
        if ids:
            problems.append(f"{entity} {_ids(ids)}: {reason}")
    return problems


def _duplicate_emails(
    bind: Connection, users: sa.TableClause, email: ColumnElement[Any]
) -> list[str]:
    """Users whose emails become equal once trimmed and lower-cased.

    Grouped by the database, not Python: under MariaDB's case- and accent-insensitive
    collation the unique index will also treat 'José' and 'jose' alike, and the check has
    to agree with the index that would otherwise refuse the copy.
    """
    normal = sa.func.lower(sa.func.trim(email))
    groups = bind.scalars(
        sa.select(normal)
        .where(sa.not_(_blank(email)))
        .group_by(normal)
        .having(sa.func.count() > 1)
        .order_by(normal)
    ).all()
    problems = []
    for value in groups[:DUPLICATES_SHOWN]:
        ids = bind.scalars(sa.select(users.c.id).where(normal == value).order_by(users.c.id)).all()
        problems.append(f"users {_ids(ids)}: the same email once trimmed and lower-cased ({value})")
    if len(groups) > DUPLICATES_SHOWN:
        problems.append(f"... and {len(groups) - DUPLICATES_SHOWN} more duplicated emails")
    return problems


def _ids(ids: Sequence[Any]) -> str:
    shown = ", ".join(str(record_id) for record_id in ids[:IDS_SHOWN])
    if len(ids) > IDS_SHOWN:
        shown += f" and {len(ids) - IDS_SHOWN} more"
    return shown


# Steps 2 and 3: setting the legacy tables aside


def _set_aside(bind: Connection, table: str, legacy_name: str) -> None:
    """Drop the legacy table's keys whose names could collide, then rename the table."""
    inspector = sa.inspect(bind)
    if bind.dialect.name != "sqlite":
        # SQLite's constraint names are not global and cannot be dropped without rebuilding
        # the table; its automatic unique indexes follow the table when it is renamed.
        for unique in inspector.get_unique_constraints(table):
            # MySQL reports a unique index both here and as an index; drop it once, below.
            if unique["name"] and not unique.get("duplicates_index"):
                op.drop_constraint(op.f(unique["name"]), table, type_="unique")
    for index in inspector.get_indexes(table):
        if index["name"] and not index.get("duplicates_constraint"):
            op.drop_index(op.f(index["name"]), table_name=table)
    primary_key = inspector.get_pk_constraint(table).get("name")
    op.rename_table(table, legacy_name)
    if bind.dialect.name == "postgresql":
        _rename_postgresql_relations(bind, legacy_name, primary_key)


def _rename_postgresql_relations(
    bind: Connection, legacy_name: str, primary_key: str | None
) -> None:
    """Move the primary key's index and the id sequence out of the new table's way.

    Renaming a table keeps the names of its primary key (``users_pkey``, or ``pk_users``
    under a naming convention) and its sequence (``users_id_seq``); both live in the
    schema's namespace, where the new table wants those names.
    """
    quote = bind.dialect.identifier_preparer.quote
    if primary_key:
        op.execute(
            f"ALTER TABLE {quote(legacy_name)} RENAME CONSTRAINT {quote(primary_key)} "
            f"TO {quote(legacy_name + '_pkey')}"
        )
    sequence = bind.scalar(
        sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": legacy_name}
    )
    if sequence:
        # pg_get_serial_sequence returns the name already quoted and schema-qualified.
        op.execute(f"ALTER SEQUENCE {sequence} RENAME TO {quote(legacy_name + '_id_seq')}")


# Step 4: the new tables


def _create_tables() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(USER_NAME_MAX), nullable=False),
        sa.Column("email", sa.String(EMAIL_MAX), nullable=False),
        sa.Column("role", sa.String(ROLE_MAX), server_default="viewer", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("password_hash", sa.String(PASSWORD_HASH_MAX), nullable=True),
        sa.Column("created_at", utc_timestamp(), nullable=False),
        sa.Column("updated_at", utc_timestamp(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(one_of("role", ROLES), name=op.f("ck_users_role_allowed")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    for column in ("name", "created_at", "updated_at"):
        op.create_index(op.f(f"ix_users_{column}"), "users", [column])

    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(SKU_MAX), nullable=False),
        sa.Column("name", sa.String(PRODUCT_NAME_MAX), nullable=False),
        sa.Column("description", sa.String(DESCRIPTION_MAX), server_default="", nullable=False),
        sa.Column("price", sa.Numeric(12, 2), nullable=False),
        sa.Column("stock", sa.Integer(), server_default="0", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("created_at", utc_timestamp(), nullable=False),
        sa.Column("updated_at", utc_timestamp(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("price >= 0", name=op.f("ck_products_price_not_negative")),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_products_stock_not_negative")),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_products_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("sku", name=op.f("uq_products_sku")),
    )
    for column in ("name", "price", "stock", "owner_id", "created_at", "updated_at"):
        op.create_index(op.f(f"ix_products_{column}"), "products", [column])

    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", utc_timestamp(), nullable=False),
        sa.Column("actor", sa.String(ACTOR_MAX), nullable=False),
        sa.Column("os_user", sa.String(64), nullable=False),
        sa.Column("sudo_user", sa.String(64), nullable=True),
        sa.Column("client_addr", sa.String(64), nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("batch", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("old_values", sa.JSON(), nullable=True),
        sa.Column("new_values", sa.JSON(), nullable=True),
        sa.Column("reverts_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(one_of("action", ACTIONS), name=op.f("ck_audit_entries_action_allowed")),
        sa.ForeignKeyConstraint(
            ["reverts_id"],
            ["audit_entries.id"],
            name=op.f("fk_audit_entries_reverts_id_audit_entries"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    for column in ("actor", "batch", "reverts_id"):
        op.create_index(op.f(f"ix_audit_entries_{column}"), "audit_entries", [column])
    op.create_index(
        op.f("ix_audit_entries_entity_record_id"), "audit_entries", ["entity", "record_id"]
    )


# Step 5: copying the rows


def _value(value: Any, type_: sa.types.TypeEngine[Any], name: str) -> ColumnElement[Any]:
    """A constant in the SELECT list, cast so PostgreSQL knows the parameter's type."""
    return sa.cast(sa.literal(value, type_), type_).label(name)


def _copy_users(bind: Connection, columns: set[str], now: datetime) -> None:
    legacy = _legacy_table(LEGACY["users"], columns)
    name, email = _column(legacy, "name"), _column(legacy, "email")
    rows = sa.select(
        legacy.c.id.label("id"),
        sa.func.trim(name).label("name"),
        sa.func.lower(sa.func.trim(email)).label("email"),
        _value("viewer", sa.String(ROLE_MAX), "role"),
        sa.true().label("is_active"),
        sa.null().label("password_hash"),
        sa.literal(now, sa.DateTime()).label("created_at"),
        sa.literal(now, sa.DateTime()).label("updated_at"),
        _value(1, sa.Integer(), "version"),
    )
    _insert_from(bind, "users", rows)


def _copy_products(bind: Connection, columns: set[str], now: datetime) -> None:
    legacy = _legacy_table(LEGACY["products"], columns)
    name, price = _column(legacy, "name"), _column(legacy, "price")
    rows = sa.select(
        legacy.c.id.label("id"),
        (
            sa.literal("LEGACY-", sa.String(SKU_MAX)) + sa.cast(legacy.c.id, sa.String(SKU_MAX))
        ).label("sku"),
        sa.func.trim(name).label("name"),
        _value("", sa.String(DESCRIPTION_MAX), "description"),
        # Through a wide exact decimal first: round() on a float is binary rounding (and
        # PostgreSQL has no round(double precision, int) at all).
        sa.func.round(sa.cast(price, sa.Numeric(30, 10)), 2).label("price"),
        _value(0, sa.Integer(), "stock"),
        sa.true().label("is_active"),
        sa.null().label("owner_id"),
        sa.literal(now, sa.DateTime()).label("created_at"),
        sa.literal(now, sa.DateTime()).label("updated_at"),
        _value(1, sa.Integer(), "version"),
    )
    _insert_from(bind, "products", rows)


def _insert_from(bind: Connection, table: str, rows: sa.Select[Any]) -> None:
    names = [column.name for column in rows.selected_columns]
    target = sa.table(table, *(sa.column(name) for name in names))
    bind.execute(sa.insert(target).from_select(names, rows))
