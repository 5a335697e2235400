"""Fixtures: a throwaway database on each of the three real backends.

SQLite is a file under tmp_path; PostgreSQL and MariaDB get a fresh database created for
the test and dropped after it. Tests on a server, or needing root, are marked (``servers``,
``root``) and skip with the reason when it is missing, unless CI requires it (tests/needs.py).
"""

from __future__ import annotations

import compileall
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine

from data.actor import Actor
from data.config import normalise_url
from data.database import Database
from data.engine import create_database_engine
from tests import shared_css
from tests.migrated import MigratedDatabases
from tests.needs import (
    argument_names,
    require_root,
    require_servers,
    server_admin_url,
    servers_of,
    stop_unless_servers_answer,
)

BACKENDS = ("sqlite", "postgresql", "mysql")
REPO = Path(__file__).resolve().parent.parent


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than the cores. Many tests wait on a child process, a
    server or a console's next frame; the extra worker fills those waits (docs/testing.md)."""
    return (os.cpu_count() or 1) + 1


def pytest_configure(config: pytest.Config) -> None:
    """Each test process parses Textual's CSS once for all its consoles (tests/shared_css.py)."""
    shared_css.install()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Where CI requires the servers, a missing one ends the run here, in one line. Then,
    once per run (not in each xdist worker), the project's bytecode is compiled."""
    stop_unless_servers_answer()
    if not hasattr(session.config, "workerinput"):
        compile_project_bytecode()


def compile_project_bytecode() -> None:
    """Compile ``tui``, ``data``, ``models`` and ``tests`` before any test starts a process.

    These machines set PYTHONDONTWRITEBYTECODE, so every console and command line a test
    started compiled the project from source again: ~0.25 s of CPU per start, hundreds of
    starts a run. An installed AccessGuard never does (the wheel's install compiles it).
    """
    for package in ("tui", "data", "models", "tests"):
        compileall.compile_dir(REPO / package, quiet=1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs on a server ``servers``, so ``-m "not servers"`` leaves it."""
    for item in items:
        needed = servers_of(item)
        if needed and not any(item.iter_markers("servers")):
            item.add_marker(pytest.mark.servers(*sorted(needed)))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture: skip (or, in CI, fail) a test whose server or privilege is missing."""
    require_servers(sorted(servers_of(item)))
    for mark in item.iter_markers("root"):
        require_root(*mark.args, why=str(mark.kwargs.get("why", "")))


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


@pytest.fixture(scope="session")
def migrated_databases() -> Iterator[MigratedDatabases]:
    """This test process's databases at head, reused (emptied) from test to test."""
    databases = MigratedDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    migrated_databases: MigratedDatabases,
) -> Iterator[URL]:
    """The URL of a database on the backend named by ``request.param``: empty, or, for a
    test that asks for ``db``, at head and holding no rows (see tests/migrated.py)."""
    backend: str = getattr(request, "param", "sqlite")
    directory = tmp_path_factory.mktemp("db")
    if "db" in request.fixturenames:
        yield migrated_databases.fresh(backend, directory)
        return
    with empty_database(backend, directory) as url:
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
        "database_url" in argument_names(mark.args[0])
        for mark in metafunc.definition.iter_markers("parametrize")
        if mark.args
    )
    if "database_url" in metafunc.fixturenames and not chosen:
        metafunc.parametrize("database_url", BACKENDS, indirect=True)


@pytest.fixture
def db(database_url: URL) -> Iterator[Database]:
    """A `Database` whose schema is at head, disposed after the test."""
    database = Database.connect(database_url)
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


@pytest.fixture(autouse=True)
def no_unexpected_errors(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, private_user_dirs: Path
) -> Iterator[None]:
    """A console test fails on an "Unexpected error" toast or a non-empty error log: a bug
    the console survived is still a bug. Tests that cause one on purpose are marked
    ``provokes_errors``."""
    if request.node.get_closest_marker("provokes_errors"):
        # The bug is the test's own: settle() lets the worker it breaks fail.
        monkeypatch.setattr("tests.console_support.BUGS_EXPECTED", True)
        yield
        return
    from tui.app import AccessGuardApp
    from tui.paths import error_log_path

    toasts: list[str] = []
    notify = AccessGuardApp.notify

    def noting(app: AccessGuardApp, message: str, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("title") == "Unexpected error":
            toasts.append(message)
        notify(app, message, *args, **kwargs)

    monkeypatch.setattr(AccessGuardApp, "notify", noting)
    yield
    log = error_log_path()
    logged = log.read_text(errors="replace") if log.exists() else ""
    assert not toasts, f"the console showed unexpected errors: {toasts}"
    assert not logged, f"the console logged unexpected errors to {log}:\n{logged[-2000:]}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop this test process's fork server, if a test started one (tests/preloaded.py)."""
    from tests import preloaded

    preloaded.stop_server()
