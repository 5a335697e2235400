"""Migration 0005: an id names one record forever, and nothing is lost on the way there.

Every test runs on SQLite, PostgreSQL and MariaDB (see conftest). The database starts at
0004 holding what AccessGuard wrote before 0005, gaps and a reused id included.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from data.actor import Actor
from data.database import Database
from data.errors import NotRestorable
from data.records import PageRequest
from data.schema import alembic_config, upgrade
from data.seed import seed_demo
from tests.console_support import TIME_PARAMETER
from tests.test_schema import _differences, _rows

BEFORE_0005 = "0004_search_and_sort_indexes"
AT = datetime(2026, 1, 2, 3, 4, 5)
AT_JSON = AT.replace(tzinfo=UTC).isoformat()
TIMES = ("at", "created_at", "updated_at")
TABLES = ("users", "products", "audit_entries")
# Users 1, 2, 5 and 6 are left; 3 and 9 were deleted (9 was the newest: only the trail
# remembers it); 6 was Dan until he was deleted and SQLite gave his id to Eve.
USERS = [(1, "Alice"), (2, "Bob"), (5, "Carol"), (6, "Eve")]
PRODUCTS = [(1, "Widget", 5), (4, "Gizmo", 6)]
# (action, entity, record id, old values, new values), oldest first.
HISTORY: list[tuple[str, str, int, Any, Any]] = [
    *[("create", "user", n, None, {"name": f"u{n}", "created_at": AT_JSON}) for n in (1, 2, 3)],
    ("delete", "user", 3, {"name": "u3"}, None),
    ("create", "user", 5, None, {"name": "Carol", "created_at": AT_JSON}),
    ("create", "user", 6, None, {"name": "Dan", "created_at": AT_JSON}),
    ("create", "product", 1, None, {"name": "Widget", "owner_id": 6, "created_at": AT_JSON}),
    ("update", "user", 6, {"name": "Dan", "version": 1}, {"name": "Daniel", "version": 2}),
    ("update", "product", 1, {"owner_id": 6, "version": 1}, {"owner_id": 5, "version": 2}),
    ("delete", "user", 6, {"name": "Daniel"}, None),
    ("create", "user", 6, None, {"name": "Eve", "created_at": AT_JSON}),
    ("create", "product", 4, None, {"name": "Gizmo", "owner_id": 6, "created_at": AT_JSON}),
    ("create", "user", 9, None, {"name": "Zed", "created_at": AT_JSON}),
    ("delete", "user", 9, {"name": "Zed"}, None),
]
DAN_RENAMED, WIDGET_HANDED_OVER, EVE_CREATED = 8, 9, 11  # audit ids of those entries


def _typed(column: str) -> sa.types.TypeEngine[Any] | None:
    """How a column of the rows below is bound: times and JSON as each backend stores them
    (a time not through sqlite3's default adapter, deprecated since Python 3.12)."""
    if column in TIMES:
        return sa.DateTime()
    return sa.JSON() if column.endswith("_values") else None


def _history_at_0004(engine: Engine) -> None:
    """Rows and trail as 0004-era AccessGuard left them; server counters where they were."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), BEFORE_0005)
    common = {"created_at": AT, "updated_at": AT, "version": 1}
    users = [{"id": n, "name": name, "email": f"{name}@x.org", **common} for n, name in USERS]
    products = [
        {"id": n, "sku": name.upper(), "name": name, "price": 1, "owner_id": owner, **common}
        for n, name, owner in PRODUCTS
    ]
    who = {"at": AT, "actor": "alice", "os_user": "alice", "source": "cli", "batch": "b"}
    entries = [
        {
            "id": at,
            **who,
            "action": action,
            "entity": entity,
            "record_id": record_id,
            "old_values": old,
            "new_values": new,
        }
        for at, (action, entity, record_id, old, new) in enumerate(HISTORY, start=1)
    ]
    with engine.begin() as connection:
        for name, rows in (("users", users), ("products", products), ("audit_entries", entries)):
            columns = [sa.column(key, _typed(key)) for key in rows[0]]
            connection.execute(sa.insert(sa.table(name, *columns)), rows)
        _counters_past(connection, {"users": 9, "products": 4, "audit_entries": len(HISTORY)})


def _counters_past(connection: sa.Connection, used: dict[str, int]) -> None:
    """Where PostgreSQL's sequences and MariaDB's AUTO_INCREMENT stood: they handed out
    every id up to ``used`` (explicit ids above do not move them). SQLite has no counter."""
    for table, largest in used.items():
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {largest})")
            )
        elif connection.dialect.name == "mysql":
            connection.execute(sa.text(f"ALTER TABLE {table} AUTO_INCREMENT = {largest + 1}"))


def _sqlite_schema(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")
        ).all()
        has_sequence = any(row[1] == "sqlite_sequence" for row in rows)
        sequence: dict[str, int] = (
            dict(connection.execute(sa.text("SELECT name, seq FROM sqlite_sequence")).all())
            if has_sequence
            else {}
        )
        keys = connection.exec_driver_sql("PRAGMA foreign_key_list(products)").all()
    return {
        "kept": [row for row in rows if row[0] in ("index", "trigger")],
        "tables": {row[1]: row[3] for row in rows if row[0] == "table" and row[1] in TABLES},
        "sequence": sequence,
        "keys": keys,
    }


def test_0005_keeps_every_row_and_no_id_is_given_out_again(engine: Engine) -> None:
    _history_at_0004(engine)
    before = {table: _rows(engine, table) for table in TABLES}
    sqlite = engine.dialect.name == "sqlite"
    schema_before = _sqlite_schema(engine) if sqlite else None

    assert upgrade(engine).status == "current"

    after = {table: _rows(engine, table) for table in TABLES}
    assert after["users"] == before["users"]
    assert after["products"] == before["products"]
    # The trail gains an empty db_login column and loses nothing.
    assert [row[:-1] for row in after["audit_entries"]] == before["audit_entries"]
    assert {row[-1] for row in after["audit_entries"]} == {None}
    assert _differences(engine) == []
    if schema_before is not None:
        schema_after = _sqlite_schema(engine)
        # Every index and FTS trigger is back, as it was, under its own name (tables that
        # later migrations add are not 0005's business).
        tables_before = {row[2] for row in schema_before["kept"]}
        kept_after = [row for row in schema_after["kept"] if row[2] in tables_before]
        assert kept_after == schema_before["kept"]
        assert schema_after["keys"] == schema_before["keys"]
        for table in TABLES:
            old, new = schema_before["tables"][table], schema_after["tables"][table]
            assert f"CONSTRAINT pk_{table} PRIMARY KEY AUTOINCREMENT" in new
            names = {word for word in old.split() if word.startswith(("ck_", "uq_", "fk_"))}
            assert names
            assert all(name in new for name in names)
        # Past every id used: Zed's 9 is known only to the audit trail.
        assert schema_after["sequence"] == {"users": 9, "products": 4, "audit_entries": 14}

    db = Database(engine)
    actor = Actor("ops", source="cli")
    # The search tables still find the old rows, and their triggers the new ones.
    assert [user.id for user in db.users.page(PageRequest(search="aro")).records] == [5]
    newest = db.users.create({"name": "Newton", "email": "newton@x.org"}, actor=actor)
    assert newest.id == 10
    assert [user.id for user in db.users.page(PageRequest(search="ewto")).records] == [10]
    db.users.delete(newest.id, expected_version=1, actor=actor)
    assert db.users.create({"name": "Next", "email": "next@x.org"}, actor=actor).id == 11


def test_entries_about_a_reused_id_are_refused_after_0005(engine: Engine) -> None:
    _history_at_0004(engine)
    upgrade(engine)
    db = Database(engine)
    actor = Actor("ops", source="cli")
    eve = db.users.get(6)

    # Dan's rename was written for Dan, not for Eve, who got his id.
    with pytest.raises(NotRestorable, match="User 6 is not the user audit entry 8"):
        db.audit.restore_plan(DAN_RENAMED)
    with pytest.raises(NotRestorable, match="Nothing was changed"):
        db.audit.restore(DAN_RENAMED, actor=actor, expected_version=eve.version)
    assert db.users.get(6) == eve

    # The widget's owner then was Dan: restoring that entry must not hand it to Eve.
    plan = db.audit.restore_plan(WIDGET_HANDED_OVER)
    assert plan.changes == (("owner_id", 5, None),)
    db.audit.restore(WIDGET_HANDED_OVER, actor=actor, expected_version=plan.version)
    assert db.products.get(1).owner_id is None
    # Eve's own history is hers: her product's entry still restores onto her.
    assert db.audit.restore_plan(EVE_CREATED).effect == "delete"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_seed_that_reused_ids_makes_its_records_others(db: Database) -> None:
    actor = Actor("ops", source="cli")
    # A user older than the trail (converted from the seeds' tables): no "create" entry.
    with db.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO users (id, name, email, role, is_active, created_at, updated_at,"
                " version) VALUES (1, 'Old', 'old@x.org', 'viewer', 1, :at, :at, 1)"
            ).bindparams(TIME_PARAMETER),
            {"at": AT},
        )
    db.users.update(1, {"name": "Old B"}, expected_version=1, actor=actor)
    renamed = db.audit.page(PageRequest(limit=1)).records[0].id
    db.users.delete(1, expected_version=2, actor=actor)
    with db.engine.begin() as connection:  # SQLite before 0005: no memory of used ids
        connection.execute(sa.text("DELETE FROM sqlite_sequence"))
    seed_demo(db, users=2, products=0, seed=3, actor=actor)
    seeded = db.users.get(1)  # the seed's first user took the deleted id

    with pytest.raises(NotRestorable, match="User 1 is not the user"):
        db.audit.restore_plan(renamed)
    assert db.users.get(1) == seeded
