"""Fixtures: a throwaway database on each of the three real backends.

SQLite is a file under tmp_path; PostgreSQL and MariaDB get a fresh database created for
the test and dropped after it. A missing server fails the test: it is never skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from data.actor import Actor
from data.config import normalise_url
from data.database import Database
from data.schema import upgrade

BACKENDS = ("sqlite", "postgresql", "mysql")
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
MARIADB_ADMIN = "mysql://root@127.0.0.1:3306/"


def _server_admin_url(backend: str) -> URL:
    return normalise_url(POSTGRES_ADMIN if backend == "postgresql" else MARIADB_ADMIN)


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[URL]:
    """The URL of an empty database on the backend named by ``request.param``."""
    backend: str = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("db") / "accessguard.db"
        yield normalise_url(f"sqlite:///{path}")
        return
    name = f"ag_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_server_admin_url(backend), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            if backend == "postgresql":
                connection.execute(
                    text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
                )
            else:
                connection.execute(
                    text(
                        f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                    )
                )
        yield _server_admin_url(backend).set(database=name)
    finally:
        with admin.connect() as connection:
            if backend == "postgresql":
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


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
