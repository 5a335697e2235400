"""Fixtures: a throwaway database on each of the three real backends.

SQLite is a file under tmp_path; PostgreSQL and MariaDB get a fresh database created for
the test and dropped after it. A missing server fails the test: it is never skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine

from data.actor import Actor
from data.config import normalise_url
from data.database import Database
from data.engine import create_database_engine
from data.schema import upgrade

BACKENDS = ("sqlite", "postgresql", "mysql")
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
MARIADB_ADMIN = "mysql://root@127.0.0.1:3306/"


def server_admin_url(backend: str) -> URL:
    """The administrator's URL of the ``backend`` server (its maintenance database)."""
    return normalise_url(POSTGRES_ADMIN if backend == "postgresql" else MARIADB_ADMIN)


@contextmanager
def empty_database(backend: str, directory: Path, *, prefix: str = "ag_test") -> Iterator[URL]:
    """The URL of a new, empty database on ``backend``, dropped (or left in ``directory``,
    for a SQLite file) afterwards. Server databases are named ``prefix`` + a random suffix."""
    if backend == "sqlite":
        yield normalise_url(f"sqlite:///{directory / 'accessguard.db'}")
        return
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    quoted = f'"{name}"' if backend == "postgresql" else f"`{name}`"
    admin = create_engine(server_admin_url(backend), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            if backend == "postgresql":
                connection.execute(
                    text(f"CREATE DATABASE {quoted} ENCODING 'UTF8' TEMPLATE template0")
                )
            else:
                connection.execute(
                    text(
                        f"CREATE DATABASE {quoted} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                    )
                )
        yield server_admin_url(backend).set(database=name)
    finally:
        with admin.connect() as connection:
            force = " WITH (FORCE)" if backend == "postgresql" else ""
            connection.execute(text(f"DROP DATABASE IF EXISTS {quoted}{force}"))
        admin.dispose()


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[URL]:
    """The URL of an empty database on the backend named by ``request.param``."""
    backend: str = getattr(request, "param", "sqlite")
    with empty_database(backend, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def engine(database_url: URL) -> Iterator[Engine]:
    """The application's own engine on an empty database (so its SQLite quirks are in play)."""
    engine = create_database_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that asks for a database runs once per backend."""
    chosen = any(
        mark.args and mark.args[0] == "database_url"
        for mark in metafunc.definition.iter_markers("parametrize")
    )
    if "database_url" in metafunc.fixturenames and not chosen:
        metafunc.parametrize("database_url", BACKENDS, indirect=True)


@pytest.fixture
def db(database_url: URL) -> Iterator[Database]:
    """A `Database` whose schema is at head, disposed after the test."""
    database = Database.connect(database_url)
    upgrade(database.engine)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def actor() -> Actor:
    """The admin making changes in a test."""
    return Actor(os_user="alice", sudo_user=None, client_addr="10.0.0.7", source="test")


@pytest.fixture
def other_actor() -> Actor:
    """A colleague working on the same database from another console."""
    return Actor(os_user="bob", sudo_user=None, client_addr="10.0.0.8", source="test-2")


@pytest.fixture(autouse=True)
def private_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Config, state and log directories of the test's own (platformdirs reads XDG_*), so no
    test reads the developer's config file or remembers a theme in their state."""
    home = tmp_path_factory.mktemp("xdg")
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))
    return home
