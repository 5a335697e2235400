"""Schema management: where a database's schema stands, and bringing it to head with Alembic.

The migrations live in ``data/migrations`` and ship inside the package; Alembic is
configured here, in code, so there is no alembic.ini to find. Every migration runs on a
connection this module opens, in one transaction, under a lock that serialises concurrent
upgrades (two consoles started at once on an empty database both succeed):

- PostgreSQL and SQLite have transactional DDL, so a failed upgrade leaves no trace.
- MySQL/MariaDB commit implicitly around every DDL statement. A failure half way through a
  migration can leave it half done; 0002 therefore checks the legacy data before its first
  DDL statement, and the admin is told to back up before converting a legacy database.

To write the next migration, change the models, then autogenerate against a database at
head, e.g.::

    from alembic import command
    with engine.begin() as connection:
        command.revision(alembic_config(connection), "what changed",
                         autogenerate=True, rev_id="0003_what_changed")

and read the result: autogenerate does not see CHECK constraints or data conversions, nor
write the expression indexes and SQLite search tables of `models.base.sortable` and
`searchable`, which `data.migration_helpers` does in a call each.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Column, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import True_

from data.engine import SERVER_LOCK_TIMEOUT_S, WRITE_OPTION
from data.errors import Busy, SchemaMismatch, Unavailable
from data.revision import HEAD as HEAD  # re-exported: tests and tools ask data.schema
from data.revision import MIGRATIONS, VERSION_TABLE
from data.specs import SPECS
from data.translate import translate_errors

if TYPE_CHECKING:
    # Alembic is imported where it is used: a console opening a database already at head
    # never needs it, and loading it cost ~100 ms of the first rows' time.
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

SEEDS_REVISION = "0001_seeds"
# The tables the original seeds script created, with the columns it gave them. A database
# holding only (a subset of) these, and no version table, is "legacy": it can be converted.
SEEDS_SHAPE: dict[str, frozenset[str]] = {
    "users": frozenset({"id", "name", "email"}),
    "products": frozenset({"id", "name", "price"}),
}
# Key of the PostgreSQL advisory lock and name of the MySQL named lock held while migrating.
LOCK_KEY = 0x4147_5343  # "AGSC"
LOCK_NAME = "accessguard_schema"
MYSQL_LOCK_NAME_MAX = 64
MYSQL = ("mysql", "mariadb")
# Alembic installs its `op` and `context` proxies module-wide: two threads of one process
# must not run migrations at the same time, even on different databases.
_ALEMBIC_LOCK = threading.Lock()

Status = Literal["empty", "legacy", "current", "behind", "ahead", "unknown"]


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands relative to this AccessGuard's migrations.

    ``current`` is the revision recorded in the database (None when it has no version
    table), ``head`` the newest revision this AccessGuard knows.
    """

    current: str | None
    head: str
    status: Status

    @property
    def message(self) -> str:
        """One line for `accessguard db status` and error messages."""
        upgrade = "run `accessguard db upgrade`"
        if self.status == "empty":
            return f"empty database, head {self.head}: {upgrade} to create the schema"
        if self.status == "legacy":
            return (
                f"unversioned tables from the original seeds, head {self.head}: back up the "
                f"database, then {upgrade} to convert them"
            )
        if self.status == "current":
            return f"schema {self.current} is up to date (head {self.head})"
        if self.status == "behind":
            return f"schema {self.current}, head {self.head}: {upgrade}"
        if self.status == "ahead":
            return (
                f"schema {self.current} is unknown to this AccessGuard (head {self.head}): it "
                "was created by a newer AccessGuard; upgrade AccessGuard"
            )
        if self.current is not None:
            return f"schema {self.current} has several heads, head {self.head}: not touching it"
        return (
            f"unversioned tables that AccessGuard did not create, head {self.head}: not "
            "touching them; use an empty database or one AccessGuard created"
        )


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for AccessGuard's migrations, bound to ``connection``.

    For tooling (autogenerating the next revision); the app and the CLI call `upgrade`.
    """
    from alembic.config import Config

    config = Config()
    # ConfigParser interpolation would read a '%' in the install path as a placeholder.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    # Revision ids already say what they do ("0003_sku_history"): name the file after them.
    config.set_main_option("file_template", "%%(rev)s")
    # A new revision comes out in house style (ruff is a test dependency, as is writing one).
    config.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
    for hook, options in (("ruff_fix", "check --fix"), ("ruff_format", "format")):
        config.set_section_option("post_write_hooks", f"{hook}.type", "module")
        config.set_section_option("post_write_hooks", f"{hook}.module", "ruff")
        config.set_section_option(
            "post_write_hooks", f"{hook}.options", f"{options} REVISION_SCRIPT_FILENAME"
        )
    config.attributes["connection"] = connection
    return config


@cache
def _script() -> ScriptDirectory:
    # The revision files do not change while the process runs: read them once.
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this AccessGuard's migrations reach, e.g. ``0002_accessguard``."""
    head = _script().get_current_head()
    if head is None:  # only if the migrations directory shipped empty or branched
        raise SchemaMismatch(f"AccessGuard's migrations in {MIGRATIONS} have no single head.")
    return head


def schema_state(engine: Engine) -> SchemaState:
    """Inspect the database (reading only) and say where its schema stands."""
    with translate_errors(), engine.connect() as connection:
        state, _tables = _inspect(connection)
        return state


def upgrade(engine: Engine) -> SchemaState:
    """Bring the database to head and return its new state.

    An empty database is created by running the whole chain; a legacy one (the seeds'
    tables, no version table) is stamped ``0001_seeds`` and converted; one that is behind is
    upgraded; a current one is left alone. A database from a newer AccessGuard, or one
    holding tables AccessGuard did not create, raises `SchemaMismatch` untouched.
    """
    return _migrate(engine, allowed=frozenset({"empty", "legacy", "behind"}))


def ensure_current(engine: Engine, *, create_if_empty: bool = True) -> SchemaState:
    """Check at start-up that the schema is at head; create it if the database is empty.

    Anything else that needs a migration (legacy, behind) is the admin's decision, taken
    with `accessguard db upgrade` after a backup, so it raises `SchemaMismatch`; so does a
    database from a newer AccessGuard or one holding tables AccessGuard did not create.
    """
    if _stamped_at_head(engine):
        return SchemaState(HEAD, HEAD, "current")
    with translate_errors(), engine.connect() as connection:
        state, tables = _inspect(connection)
    if state.status == "current":
        return state
    # Only ever "empty": if someone turned the database into something else meanwhile, the
    # migration refuses instead of converting it behind the admin's back. On MySQL, DDL is
    # visible before the migration ends, so what we saw may be another process's half-done
    # creation: decide under the schema lock there (GET_LOCK works in a read-only session).
    if (state.status == "empty" and create_if_empty) or engine.dialect.name in MYSQL:
        allowed: frozenset[Status] = frozenset({"empty"}) if create_if_empty else frozenset()
        return _migrate(engine, allowed=allowed)
    raise _mismatch(state, tables)


def _stamped_at_head(engine: Engine) -> bool:
    """Whether the version table says HEAD: the usual start, answered without Alembic."""
    with translate_errors(), engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return False
        stamped = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
        return list(stamped.scalars()) == [HEAD]


def compare_server_default(
    context: MigrationContext,
    inspected_column: Column[Any],
    metadata_column: Column[Any],
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Alembic's ``compare_server_default`` hook: settle its two known false positives.

    Alembic renders a declared ``""`` default as an empty string, which its comparison takes
    for "no default", so the reflected ``''`` (SQLite: ``('')``) looks different. MariaDB
    stores BOOL as TINYINT(1) and reflects a declared ``true`` as ``1``. In both cases the
    database holds exactly the declared default. Anything else: None, Alembic decides.
    """
    declared = getattr(metadata_default, "arg", None)
    if declared == "" and inspected_default in ("''", "('')"):
        return False
    if context.dialect.name in MYSQL and isinstance(declared, True_) and inspected_default == "1":
        return False
    return None


def compared_objects(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's ``include_object`` hook for a ``dialect``: what schema comparison looks at.

    It skips indexes the models create only on other backends (Alembic ignores
    ``ddl_if``) and SQLite's FTS5 search tables with their shadow tables, which the
    migrations create (`data.migration_helpers`) and no model describes.
    """

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "index" and not reflected:
            return dialect in obj.info.get("dialects", (dialect,))
        if type_ == "table" and reflected and name is not None:
            searches = [spec.trigram_table for spec in SPECS.values()]
            return not any(name == search or name.startswith(f"{search}_") for search in searches)
        return True

    return include


def _migrate(engine: Engine, *, allowed: frozenset[Status]) -> SchemaState:
    from alembic import command
    from alembic.util import CommandError

    with _ALEMBIC_LOCK, _migration_connection(engine) as connection:
        # Re-read under the lock: another process may have migrated while we waited.
        state, tables = _inspect(connection)
        if state.status == "current":
            return state
        if state.status not in allowed:
            raise _mismatch(state, tables)
        config = alembic_config(connection)
        try:
            if state.status == "legacy":
                command.stamp(config, SEEDS_REVISION)
            command.upgrade(config, "head")
        except CommandError as error:
            raise SchemaMismatch(f"The schema could not be upgraded: {error}") from None
        new_state, _tables = _inspect(connection)
    return new_state


def _mismatch(state: SchemaState, tables: tuple[str, ...]) -> SchemaMismatch:
    """The error for a database that cannot be used (or upgraded) as it is."""
    status = "`accessguard db status`"
    if state.status == "empty":
        return SchemaMismatch(
            f"The database is empty ({state.message}). Run `accessguard db upgrade` to create "
            "AccessGuard's tables."
        )
    if state.status == "legacy":
        return SchemaMismatch(
            f"The database holds the original seeds' tables, not AccessGuard's schema "
            f"({state.message}). See {status}; back up the database, then run "
            "`accessguard db upgrade` to convert it."
        )
    if state.status == "behind":
        return SchemaMismatch(
            f"The database schema is out of date ({state.message}). See {status}, then run "
            "`accessguard db upgrade`."
        )
    if state.status == "ahead":
        return SchemaMismatch(
            f"The database was created by a newer AccessGuard (schema {state.current}; this "
            f"version knows up to {state.head}). Upgrade AccessGuard to use it; nothing was "
            "changed."
        )
    if state.current is not None:
        return SchemaMismatch(
            f"The database records several schema versions ({state.current}); AccessGuard's "
            "history has one line, so it will not touch this database."
        )
    listed = f" ({', '.join(tables)})" if tables else ""
    return SchemaMismatch(
        f"The database holds tables that AccessGuard did not create{listed} and no AccessGuard "
        f"schema version ({state.message}). AccessGuard will not touch them: point --db at an "
        "empty database or one AccessGuard created."
    )


def _inspect(connection: Connection) -> tuple[SchemaState, tuple[str, ...]]:
    """The schema state, and the database's tables other than Alembic's version table."""
    head = head_revision()
    inspector = inspect(connection)
    names = set(inspector.get_table_names())
    heads: tuple[str, ...] = ()
    if VERSION_TABLE in names:
        names.discard(VERSION_TABLE)
        from alembic.runtime.migration import MigrationContext

        heads = tuple(MigrationContext.configure(connection).get_current_heads())
    tables = tuple(sorted(names))
    if len(heads) > 1:
        return SchemaState(", ".join(heads), head, "unknown"), tables
    if heads:
        current = heads[0]
        if current == head:
            return SchemaState(current, head, "current"), tables
        known = {script.revision for script in _script().walk_revisions()}
        # The chain is linear, so every known revision that is not head is behind it.
        return SchemaState(current, head, "behind" if current in known else "ahead"), tables
    # No version table, or an empty one (MySQL keeps the table it created before a refused
    # conversion rolled back the stamp): judge by the tables alone.
    if not tables:
        return SchemaState(None, head, "empty"), tables
    if _is_seeds_shape(connection, tables):
        return SchemaState(None, head, "legacy"), tables
    return SchemaState(None, head, "unknown"), tables


def _is_seeds_shape(connection: Connection, tables: tuple[str, ...]) -> bool:
    """Whether every table is one of the seeds', with (a subset of) the seeds' columns."""
    inspector = inspect(connection)
    for table in tables:
        expected = SEEDS_SHAPE.get(table)
        if expected is None:
            return False
        columns = {column["name"] for column in inspector.get_columns(table)}
        # Without an id the rows could not keep their identity through the conversion.
        if "id" not in columns or not columns <= expected:
            return False
    return True


@contextmanager
def _migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction, holding the schema lock, for one migration run."""
    with translate_errors(), engine.connect() as connection:
        backend = connection.dialect.name
        if backend == "sqlite":
            # Batch migrations rebuild a table by copy, drop and rename. With foreign keys on,
            # dropping the old users table would run ON DELETE SET NULL over every product.
            # The pragma is ignored inside a transaction, so it goes straight to the DBAPI
            # connection before BEGIN (data.engine leaves pysqlite in autocommit mode, so it
            # does not open one on its own).
            _sqlite_foreign_keys(connection, enabled=False)
        try:
            # The write option makes data.engine begin with BEGIN IMMEDIATE on SQLite, which
            # also serves as the schema lock there.
            connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                _lock(connection)
                yield connection
                if backend == "sqlite":
                    _sqlite_check_foreign_keys(connection)
        finally:
            if backend in MYSQL:
                _mysql_unlock(connection)
            if backend == "sqlite":
                _sqlite_foreign_keys(connection, enabled=True)


def _lock(connection: Connection) -> None:
    backend = connection.dialect.name
    if backend == "postgresql":
        # Released by the COMMIT or ROLLBACK; waits at most the engine's lock_timeout.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    elif backend in MYSQL:
        # A session lock (MySQL's DDL commits would end a transaction-scoped one early).
        got = connection.scalar(
            text("SELECT GET_LOCK(:name, :timeout)"),
            {"name": _mysql_lock_name(connection), "timeout": SERVER_LOCK_TIMEOUT_S},
        )
        if got != 1:
            raise Busy(
                "Another AccessGuard is changing this database's schema; nothing was "
                "changed. Try again when it has finished."
            )


def _mysql_lock_name(connection: Connection) -> str:
    """The schema lock's name for this database.

    GET_LOCK names are server-wide, unlike PostgreSQL's advisory locks (per database): one
    name for all would make upgrades of unrelated databases on one server wait for each
    other, and give up after the lock timeout saying "another AccessGuard is changing this
    database's schema" when none is. MySQL allows 64 characters: long names are hashed.
    """
    name = f"{LOCK_NAME}:{connection.engine.url.database or ''}"
    if len(name) > MYSQL_LOCK_NAME_MAX:
        name = f"{LOCK_NAME}:{hashlib.sha256(name.encode()).hexdigest()[:40]}"
    return name


def _mysql_unlock(connection: Connection) -> None:
    if connection.invalidated or connection.closed:
        return
    try:
        # Outside the migration's transaction; releasing a lock we do not hold is harmless.
        with connection.begin():
            connection.execute(
                text("SELECT RELEASE_LOCK(:name)"), {"name": _mysql_lock_name(connection)}
            )
    except Exception:
        # Closing the session is what releases the lock for sure; never raise from here, or
        # this would hide the error that brought us here.
        connection.invalidate()


def _sqlite_foreign_keys(connection: Connection, *, enabled: bool) -> None:
    if connection.invalidated or connection.closed:
        return
    raw: Any = connection.connection.driver_connection
    try:
        raw.execute(f"PRAGMA foreign_keys = {'ON' if enabled else 'OFF'}")
    except Exception as error:
        if not enabled:
            # A raw sqlite3 error, which translate_errors would not recognise.
            raise Unavailable(
                f"The database could not be prepared for migrating ({error})."
            ) from None
        # Never hand a connection without foreign keys back to the pool; and never raise
        # from the cleanup, which would hide the error that brought us here.
        connection.invalidate()


def _sqlite_check_foreign_keys(connection: Connection) -> None:
    """Refuse to commit a migration that left dangling references (checks were off)."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise SchemaMismatch(
            f"The migration left rows pointing at missing records in {', '.join(tables)}; "
            "nothing was changed."
        )
