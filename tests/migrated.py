"""Databases at head, made once per test process and handed to each test as new.

Migrating a new server database costs 2 to 5 s (CREATE DATABASE, then every migration's DDL),
and some 500 tests want one: most of the suite's time went there. Instead each test process
keeps one migrated database per server and empties it before each test that asks for a
database at head (``TRUNCATE``, ids restarting at 1: what a new one would hold). A SQLite test
gets a copy of a migrated file.

A test that changed the schema itself (its own tables, a downgrade) leaves a database that is
no longer as migrated: the check before each reuse sees it, and that database is dropped and
made again. So is one whose emptying fails (a lock a test left behind).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import NullPool

from data.config import normalise_url
from data.database import Database
from data.schema import HEAD, upgrade
from tests.needs import server_admin_url

VERSION_TABLE = "alembic_version"
# A lock left by a test's straggling connection must not hang the next test: after this the
# database is made again instead.
LOCK_WAIT_S = 10


@dataclass
class _Kept:
    """One migrated server database of this process, and the tables migrating it made."""

    url: URL
    tables: frozenset[str]


class MigratedDatabases:
    """This process's migrated databases: one per server, and SQLite files copied."""

    def __init__(self) -> None:
        self._servers: dict[str, _Kept] = {}

    def fresh(self, backend: str, directory: Path) -> URL:
        """The URL of a database at head holding no rows, for one test.

        SQLite: a copy of the migrated file, placed in ``directory``. A server: this
        process's database there, emptied now (made again if a test changed its schema)."""
        if backend == "sqlite":
            target = directory / "accessguard.db"
            copy_sqlite_at_head(target)
            return normalise_url(f"sqlite:///{target}")
        kept = self._servers.get(backend)
        if kept is not None and not _emptied(kept):
            _drop(backend, kept.url)
            kept = None
        if kept is None:
            kept = self._servers[backend] = _migrated(backend)
        return kept.url

    def drop_all(self) -> None:
        """Drop this process's server databases (at the end of the session)."""
        for backend, kept in self._servers.items():
            _drop(backend, kept.url)
        self._servers.clear()


_sqlite_template: Path | None = None


def copy_sqlite_at_head(target: Path) -> None:
    """Write a SQLite database at head, holding no rows, to ``target``: a copy of one this
    process migrated once."""
    global _sqlite_template
    if _sqlite_template is None:
        directory = Path(tempfile.mkdtemp(prefix="ag_migrated_"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        template = directory / "template.db"
        database = Database.connect(normalise_url(f"sqlite:///{template}"))
        try:
            upgrade(database.engine)
            with database.engine.connect() as connection:
                # The whole schema in the main file: a copy needs no write-ahead log.
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            database.dispose()
        _sqlite_template = template
    shutil.copyfile(_sqlite_template, target)
    # As private as a file AccessGuard makes itself (a copy would take the umask's 0644, and
    # the console warns about a database others can read).
    target.chmod(0o600)


def _migrated(backend: str) -> _Kept:
    """A new server database, migrated to head."""
    name = f"ag_migrated_{uuid.uuid4().hex[:12]}"
    with _admin(backend) as connection:
        if backend == "postgresql":
            connection.execute(
                text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
            )
        else:
            connection.execute(
                text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            )
    url = server_admin_url(backend).set(database=name)
    database = Database.connect(url)
    try:
        upgrade(database.engine)
        tables = frozenset(inspect(database.engine).get_table_names())
    finally:
        database.dispose()
    return _Kept(url, tables)


def _emptied(kept: _Kept) -> bool:
    """Empty ``kept`` as a new database would be; False if it is no longer as migrated
    (other tables, another version) or could not be emptied."""
    engine = create_engine(kept.url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            if not _as_migrated(connection, kept.tables):
                return False
            _truncate(connection, sorted(kept.tables - {VERSION_TABLE}))
        return True
    except Exception:  # any failure: the database is made again, which is always right
        return False
    finally:
        engine.dispose()


def _as_migrated(connection: Connection, tables: frozenset[str]) -> bool:
    if frozenset(inspect(connection).get_table_names()) != tables:
        return False
    version = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
    return list(version) == [HEAD]


def _truncate(connection: Connection, tables: list[str]) -> None:
    """Remove every row, ids restarting at 1."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_S}s'"))
        quoted = ", ".join(f'"{table}"' for table in tables)
        connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        return
    connection.execute(text(f"SET SESSION lock_wait_timeout = {LOCK_WAIT_S}"))
    connection.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
    for table in tables:
        connection.execute(text(f"TRUNCATE TABLE `{table}`"))
    connection.execute(text("SET FOREIGN_KEY_CHECKS = 1"))


def _drop(backend: str, url: URL) -> None:
    force = " WITH (FORCE)" if backend == "postgresql" else ""
    quoted = f'"{url.database}"' if backend == "postgresql" else f"`{url.database}`"
    with _admin(backend) as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {quoted}{force}"))


@contextmanager
def _admin(backend: str) -> Iterator[Connection]:
    """An AUTOCOMMIT connection to the server's maintenance database."""
    engine = create_engine(
        server_admin_url(backend), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()
