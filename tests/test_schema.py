"""Schema management: empty, legacy, behind, ahead and unknown databases on every backend.

Every test that takes ``engine`` runs on SQLite, PostgreSQL and MariaDB (see conftest).
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import textwrap
import threading
from datetime import UTC
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    event,
    insert,
    inspect,
    text,
)
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import declarative_base
from sqlalchemy.pool import QueuePool

from data import schema
from data.actor import Actor
from data.config import normalise_url
from data.database import Database
from data.engine import create_database_engine
from data.entities import registered
from data.errors import SchemaMismatch, Unavailable
from data.schema import (
    SEEDS_REVISION,
    SchemaState,
    alembic_config,
    compare_server_default,
    compared_objects,
    ensure_current,
    head_revision,
    schema_state,
    upgrade,
)
from models import Base
from tests.data_support import find

# Alembic's own head: data.schema.HEAD (read from the file names) must agree with it.
HEAD = head_revision()

# The seeds' models, declared the way the owner's original script did (plain
# declarative_base, ids and email indexed), so "legacy" databases here are the real thing.
# declarative_base() is typed as returning Any, hence the ignores on the subclasses.
SeedsBase = declarative_base()


class SeedsUser(SeedsBase):  # type: ignore[misc, valid-type]
    __tablename__ = "users"
    id = Column(Integer, primary_key=True, index=True)
    name = Column(String(255))
    email = Column(String(255), unique=True, index=True)


class SeedsProduct(SeedsBase):  # type: ignore[misc, valid-type]
    __tablename__ = "products"
    id = Column(Integer, primary_key=True, index=True)
    name = Column(String(255))
    price = Column(Float)


SEEDS_USERS = [
    {"id": 1, "name": "Alice Admin", "email": "  Alice@Example.COM "},
    {"id": 2, "name": " Bob ", "email": "bob@example.com"},
    {"id": 5, "name": "Carol", "email": "CAROL@example.com"},
]
SEEDS_PRODUCTS = [
    {"id": 1, "name": "Widget", "price": 19.999},
    {"id": 3, "name": " Gizmo ", "price": 5.5},
    {"id": 7, "name": "Freebie", "price": 0.0},
]


def _seeds_database(
    engine: Engine,
    users: list[dict[str, Any]] = SEEDS_USERS,
    products: list[dict[str, Any]] = SEEDS_PRODUCTS,
) -> None:
    """Create the seeds' tables as their ``create_all`` did, and insert rows into them."""
    SeedsBase.metadata.create_all(engine)
    with engine.begin() as connection:
        if users:
            connection.execute(insert(SeedsUser.__table__), users)
        if products:
            connection.execute(insert(SeedsProduct.__table__), products)


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def _rows(engine: Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [
            tuple(row) for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY id"))
        ]


def _differences(engine: Engine, **opts: Any) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match the models."""
    with engine.connect() as connection:
        return list(
            compare_metadata(
                MigrationContext.configure(
                    connection,
                    opts={"include_object": compared_objects(connection.dialect.name), **opts},
                ),
                Base.metadata,
            )
        )


def _backend(engine: Engine) -> str:
    return engine.url.get_backend_name()


# Empty databases


def test_head_revision_is_the_accessguard_schema() -> None:
    # data.schema.HEAD lets start-up skip Alembic; it must be what Alembic says.
    assert head_revision() == HEAD == schema.HEAD


def test_empty_database_upgrades_to_head_and_matches_the_models(engine: Engine) -> None:
    before = schema_state(engine)
    assert before == SchemaState(current=None, head=HEAD, status="empty")
    assert "accessguard db upgrade" in before.message

    after = upgrade(engine)

    assert after == SchemaState(current=HEAD, head=HEAD, status="current")
    assert schema_state(engine) == after
    tables = _tables(engine)
    # SQLite's substring search lives in FTS5 tables (and their shadow tables).
    entities = {entity.plural for entity in registered()}
    searched = {f"{plural}_search" for plural in entities}
    search = {name for name in tables if name.startswith(tuple(searched))}
    assert tables - search == {"alembic_version", "audit_entries"} | entities
    assert searched <= search or _backend(engine) != "sqlite"
    assert _differences(engine) == []
    # A second upgrade is a no-op, not an error.
    assert upgrade(engine) == after


# Alembic's known server-default false positives, per backend (see compare_server_default):
# a declared "" everywhere but PostgreSQL, and a declared true on MariaDB.
FALSE_DEFAULT_DIFFERENCES = {
    "sqlite": {("products", "description")},
    "postgresql": set(),
    "mysql": {("products", "description"), ("products", "is_active"), ("users", "is_active")},
}


def test_migrated_schema_has_the_models_server_defaults(engine: Engine) -> None:
    upgrade(engine)
    # Column changes come grouped per column as lists of tuples; everything else as tuples.
    naive = [
        change
        for item in _differences(engine, compare_server_default=True)
        for change in (item if isinstance(item, list) else [item])
    ]
    assert {change[0] for change in naive} <= {"modify_default"}
    assert {(change[2], change[3]) for change in naive} == FALSE_DEFAULT_DIFFERENCES[
        _backend(engine)
    ]
    # The hook env.py gives Alembic settles exactly those, so autogenerate stays quiet.
    assert _differences(engine, compare_server_default=compare_server_default) == []


def test_migrated_schema_has_the_models_checks_and_cascades(engine: Engine) -> None:
    """What Alembic's comparison does not look at: CHECK constraints and ON DELETE."""
    upgrade(engine)
    with engine.connect() as connection:
        inspector = inspect(connection)
        for model_table in Base.metadata.sorted_tables:
            declared = {
                str(constraint.name)
                for constraint in model_table.constraints
                if isinstance(constraint, CheckConstraint)
            }
            reflected = {
                check["name"] for check in inspector.get_check_constraints(model_table.name)
            }
            # MariaDB adds its own json_valid() checks on JSON columns; ours must all be there.
            assert declared <= reflected, model_table.name
        for name in ("products", "audit_entries"):
            (foreign_key,) = inspector.get_foreign_keys(name)
            assert foreign_key["options"].get("ondelete") == "SET NULL", name


def test_ensure_current_creates_an_empty_database(engine: Engine) -> None:
    assert ensure_current(engine).status == "current"
    assert _differences(engine) == []
    assert ensure_current(engine) == SchemaState(current=HEAD, head=HEAD, status="current")


def test_ensure_current_can_refuse_to_create(engine: Engine) -> None:
    with pytest.raises(SchemaMismatch, match="accessguard db upgrade"):
        ensure_current(engine, create_if_empty=False)
    assert _tables(engine) == set()
    assert schema_state(engine).status == "empty"


def test_two_threads_starting_on_an_empty_database_both_succeed(engine: Engine) -> None:
    """The process's migration lock: the second waits, finds the schema at head, is done."""
    start = threading.Barrier(2)
    results: list[SchemaState] = []
    errors: list[BaseException] = []

    def start_console() -> None:
        start.wait()
        try:
            results.append(ensure_current(engine))
        except BaseException as error:  # the assertion below reports it
            errors.append(error)

    threads = [threading.Thread(target=start_console) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert [state.status for state in results] == ["current", "current"]
    assert _differences(engine) == []


def _start_console(url: str, start: Any, results: Any) -> None:
    """One console process starting up (runs in a child process)."""
    engine = create_database_engine(make_url(url))
    try:
        start.wait(timeout=60)
        results.put(ensure_current(engine).status)
    except Exception as error:
        results.put(f"{type(error).__name__}: {error}")
    finally:
        engine.dispose()


def test_two_processes_starting_on_an_empty_database_both_succeed(database_url: URL) -> None:
    """The database's schema lock (advisory lock, GET_LOCK, BEGIN IMMEDIATE) across processes.

    Without it the loser of the race fails on "table already exists" (or worse, on MySQL,
    takes the winner's half-created tables for a legacy database).
    """
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    results = context.Queue()
    url = database_url.render_as_string(hide_password=False)
    processes = [
        context.Process(target=_start_console, args=(url, start, results)) for _ in range(2)
    ]
    for process in processes:
        process.start()
    statuses = sorted(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=60)

    assert statuses == ["current", "current"]
    engine = create_database_engine(database_url)
    try:
        assert _differences(engine) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["mysql"], indirect=True)
def test_a_mariadb_schema_lock_holds_up_only_its_own_database(engine: Engine) -> None:
    """GET_LOCK names are server-wide: an AccessGuard upgrading another database on the same
    server must not make this one wait (and, past the lock timeout, fail saying "another
    AccessGuard is changing this database's schema" when none is)."""
    elsewhere = create_database_engine(engine.url.set(database="mysql"))
    try:
        with elsewhere.connect() as holder:
            name = schema._mysql_lock_name(holder)
            assert holder.scalar(text("SELECT GET_LOCK(:name, 0)"), {"name": name}) == 1
            upgrade(engine)
            holder.scalar(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
    finally:
        elsewhere.dispose()
    assert _differences(engine) == []


def test_two_consoles_creating_one_new_file_both_start(tmp_path: Path) -> None:
    """Switching a new file to WAL takes an exclusive lock that SQLite does not wait for.

    Before the retry, about one race in four ended in "database is locked" (46 of 200 when
    measured); 30 races make a regression all but certain to show.
    """
    context = multiprocessing.get_context("fork")
    outcomes = []
    for race in range(30):
        url = f"sqlite:///{tmp_path / f'race-{race}.db'}"
        barrier, results = context.Barrier(2), context.Queue()
        racers = [
            context.Process(target=_start_console, args=(url, barrier, results)) for _ in "ab"
        ]
        for racer in racers:
            racer.start()
        outcomes += [results.get(timeout=60) for _ in racers]
        for racer in racers:
            racer.join(timeout=30)
    assert set(outcomes) == {"current"}, [o for o in outcomes if o != "current"][:2]


# Legacy databases: what the seeds' create_all left behind


def test_seeds_database_is_converted_keeping_every_row(engine: Engine, actor: Actor) -> None:
    _seeds_database(engine)
    state = schema_state(engine)
    assert state == SchemaState(current=None, head=HEAD, status="legacy")
    with pytest.raises(SchemaMismatch, match="accessguard db upgrade") as refused:
        ensure_current(engine)
    assert "accessguard db status" in str(refused.value)
    assert _rows(engine, "users")  # refusing touched nothing

    assert upgrade(engine).status == "current"

    database = Database(engine)
    users = {record.id: record for record in (database.users.get(i) for i in (1, 2, 5))}
    assert {i: (u.name, u.email) for i, u in users.items()} == {
        1: ("Alice Admin", "alice@example.com"),
        2: ("Bob", "bob@example.com"),
        5: ("Carol", "carol@example.com"),
    }
    for user in users.values():
        assert (user.role, user.is_active, user.has_password, user.version) == (
            "viewer",
            True,
            False,
            1,
        )
        assert user.created_at == user.updated_at
        assert user.created_at.tzinfo == UTC
    products = {record.id: record for record in (database.products.get(i) for i in (1, 3, 7))}
    assert {i: (p.sku, p.name, p.price) for i, p in products.items()} == {
        1: ("LEGACY-1", "Widget", Decimal("20.00")),
        3: ("LEGACY-3", "Gizmo", Decimal("5.50")),
        7: ("LEGACY-7", "Freebie", Decimal("0.00")),
    }
    for product in products.values():
        assert isinstance(product.price, Decimal)
        assert (product.description, product.stock, product.is_active) == ("", 0, True)
        assert (product.owner_id, product.version) == (None, 1)

    # The data core works on the converted database: new ids continue after the old ones
    # (PostgreSQL's sequences were moved), normalised emails are found.
    dave = database.users.create({"name": "Dave", "email": "dave@example.com"}, actor=actor)
    assert dave.id > 5
    assert find(database, "users", "ALICE@example.com").id == 1
    new = database.products.create(
        {"sku": "NEW-1", "name": "New thing", "price": "2.50", "owner": "alice@example.com"},
        actor=actor,
    )
    assert new.id > 7
    assert new.owner_id == 1
    assert find(database, "products", "legacy-3").id == 3
    assert _differences(engine) == []
    assert ensure_current(engine).status == "current"


def test_legacy_users_alone_are_converted(engine: Engine) -> None:
    """A subset of the seeds' tables is still legacy; the missing one is simply created."""
    Table(
        "users",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("name", String(255)),
        Column("email", String(255)),
    ).create(engine)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO users (id, name, email) VALUES (4, 'Ann', 'Ann@X.org')")
        )
    assert schema_state(engine).status == "legacy"

    upgrade(engine)

    assert Database(engine).users.get(4).email == "ann@x.org"
    assert _differences(engine) == []


def test_legacy_rows_breaking_the_rules_are_refused_untouched(engine: Engine) -> None:
    users: list[dict[str, Any]] = [
        {"id": 1, "name": "Ann", "email": "ann@example.com"},
        {"id": 2, "name": "Ann Again", "email": " ANN@Example.com "},
        {"id": 3, "name": "   ", "email": "blank@example.com"},
        {"id": 4, "name": "Dan", "email": None},
    ]
    products: list[dict[str, Any]] = [
        {"id": 1, "name": "Widget", "price": -1.0},
        {"id": 2, "name": None, "price": 3.0},
        {"id": 3, "name": "Fine", "price": 1.0},
    ]
    _seeds_database(engine, users, products)
    before = {table: _rows(engine, table) for table in ("users", "products")}

    with pytest.raises(SchemaMismatch) as refused:
        upgrade(engine)

    message = str(refused.value)
    for line in (
        "users 1, 2: the same email once trimmed and lower-cased (ann@example.com)",
        "users 3: the name is missing or blank",
        "users 4: the email is missing or blank",
        "products 1: the price is negative",
        "products 2: the name is missing or blank",
        "No row was changed",
        "accessguard db upgrade",
    ):
        assert line in message
    assert "products 3" not in message
    assert {table: _rows(engine, table) for table in ("users", "products")} == before
    # The check runs before any DDL and rolls the stamp back, even on MySQL; MySQL keeps only
    # the (empty) version table it created, which counts as unversioned.
    assert schema_state(engine).status == "legacy"
    if _backend(engine) == "mysql":
        assert _tables(engine) <= {"users", "products", "alembic_version"}
    else:
        assert _tables(engine) == {"users", "products"}


def test_legacy_table_missing_a_needed_column_is_refused(engine: Engine) -> None:
    Table(
        "products", MetaData(), Column("id", Integer, primary_key=True), Column("name", String(255))
    ).create(engine)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO products (id, name) VALUES (9, 'No price')"))
    assert schema_state(engine).status == "legacy"

    with pytest.raises(SchemaMismatch, match="products 9: the price is missing"):
        upgrade(engine)

    assert _rows(engine, "products") == [(9, "No price")]


def test_a_conversion_failing_half_way_loses_nothing(engine: Engine) -> None:
    """Transactional DDL through data.engine's own BEGIN: SQLite and PostgreSQL roll back all.

    MySQL commits DDL as it goes, so there only the promise that no row is lost holds: the
    originals are still in the legacy tables.
    """
    _seeds_database(engine)
    before = _rows(engine, "users")

    @event.listens_for(engine, "before_cursor_execute")
    def _crash(*args: Any) -> None:
        if str(args[2]).strip().upper() == "DROP TABLE LEGACY_USERS":
            raise Unavailable("simulated crash")

    with pytest.raises(Unavailable, match="simulated crash"):
        upgrade(engine)
    event.remove(engine, "before_cursor_execute", _crash)

    if _backend(engine) == "mysql":
        assert [row[0] for row in _rows(engine, "legacy_users")] == [1, 2, 5]
        # A second attempt must not convert the half-converted tables again.
        with pytest.raises(SchemaMismatch, match="legacy_users, legacy_products from an earlier"):
            upgrade(engine)
        assert [row[0] for row in _rows(engine, "legacy_users")] == [1, 2, 5]
        return
    assert schema_state(engine).status == "legacy"
    assert _tables(engine) == {"users", "products"}
    assert _rows(engine, "users") == before
    with engine.connect() as connection:
        indexes = {index["name"] for index in inspect(connection).get_indexes("users")}
    assert "ix_users_email" in indexes  # even the dropped legacy index is back
    assert upgrade(engine).status == "current"


# Versioned databases that are not at head


def test_tables_stamped_as_seeds_but_not_their_shape_are_refused(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001_seeds'"))
    assert schema_state(engine).status == "behind"

    with pytest.raises(SchemaMismatch, match="does not have its shape"):
        upgrade(engine)

    assert schema_state(engine).current == SEEDS_REVISION
    assert _differences(engine) == []  # AccessGuard's tables, untouched


def test_database_at_the_seeds_revision_is_behind(engine: Engine) -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), SEEDS_REVISION)
        connection.execute(
            text("INSERT INTO users (id, name, email) VALUES (3, 'Eve', 'Eve@X.org')")
        )
    state = schema_state(engine)
    assert state == SchemaState(current=SEEDS_REVISION, head=HEAD, status="behind")
    assert state.message == (f"schema 0001_seeds, head {HEAD}: run `accessguard db upgrade`")
    with pytest.raises(SchemaMismatch, match="accessguard db upgrade"):
        ensure_current(engine)

    assert upgrade(engine).status == "current"
    assert Database(engine).users.get(3).email == "eve@x.org"
    assert _differences(engine) == []


def test_database_from_a_newer_accessguard_is_refused(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    tables = _tables(engine)

    state = schema_state(engine)
    assert state == SchemaState(current="0099_future", head=HEAD, status="ahead")
    assert "newer AccessGuard" in state.message
    for attempt in (upgrade, ensure_current):
        with pytest.raises(SchemaMismatch, match="newer AccessGuard"):
            attempt(engine)

    assert _tables(engine) == tables
    assert schema_state(engine).current == "0099_future"


@pytest.mark.parametrize(
    ("columns", "other_table"),
    [
        pytest.param(("id", "name", "email", "password"), None, id="seeds-plus-a-column"),
        pytest.param(("id", "name", "email"), "orders", id="seeds-plus-a-table"),
        pytest.param(None, "orders", id="someone-elses-table"),
    ],
)
def test_unversioned_foreign_tables_are_refused_untouched(
    engine: Engine, columns: tuple[str, ...] | None, other_table: str | None
) -> None:
    metadata = MetaData()
    if columns is not None:
        Table(
            "users", metadata, *(Column(c, Integer if c == "id" else String(255)) for c in columns)
        )
    if other_table is not None:
        Table(other_table, metadata, Column("id", Integer, primary_key=True))
    metadata.create_all(engine)
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            connection.execute(insert(table).values(id=1))
    tables = _tables(engine)

    state = schema_state(engine)
    assert state == SchemaState(current=None, head=HEAD, status="unknown")
    for attempt in (upgrade, ensure_current):
        with pytest.raises(SchemaMismatch, match="did not create") as refused:
            attempt(engine)
        assert ", ".join(sorted(tables)) in str(refused.value)

    assert _tables(engine) == tables
    for name in tables:
        assert _rows(engine, name) != []


# SQLite specifics and the import contract


def test_sqlite_foreign_keys_are_back_on_after_migrating(tmp_path: Path) -> None:
    engine = create_database_engine(normalise_url(f"sqlite:///{tmp_path / 'fk.db'}"))
    try:
        upgrade(engine)
        # One pooled connection: the one the migration used is the one checked below.
        assert isinstance(engine.pool, QueuePool)
        assert engine.pool.checkedin() == 1
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_migrating_never_imports_textual(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from data.config import normalise_url
        from data.engine import create_database_engine
        from data.schema import upgrade
        engine = create_database_engine(normalise_url("sqlite:///{tmp_path / "hygiene.db"}"))
        assert upgrade(engine).status == "current"
        assert "textual" not in sys.modules, "textual was imported"
        """
    )
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_search_indexes_come_off_and_back_on(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0003_exact_keys")
    assert schema_state(engine).current == "0003_exact_keys"
    assert not {"users_search", "products_search"} & _tables(engine)
    assert upgrade(engine).status == "current"
    assert _differences(engine) == []
