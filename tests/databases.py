"""Throwaway databases for tests: empty ones, and ones at schema head copied from a template.

Running the whole Alembic chain costs about half a second on SQLite, one on PostgreSQL and
three to four on MariaDB, and the ``db`` fixture wants a fresh database at head for every
test. So each test process migrates one template per backend, the first time it needs one,
and copies it for each test:

- SQLite: the template file, copied with its mode (0600, as the engine creates it);
- PostgreSQL: ``CREATE DATABASE copy TEMPLATE template``;
- MariaDB (no template databases): the template's own ``SHOW CREATE TABLE`` statements,
  then its rows (the version table's).

The first copy on each server is compared with the models as ``tests/test_schema.py``
compares a migrated database, so a copy that lost anything fails loudly, not subtly.

Creating and dropping a server database costs up to a second of the server's time (mostly
waiting for its disk), which a test need not wait for: background threads drop each
database after its test and make the next one while the test runs.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, Engine

from data.config import normalise_url
from data.database import Database
from data.schema import compare_server_default, compared_objects, upgrade
from models import Base
from tests.needs import server_admin_url

SQLITE_FILE = "accessguard.db"


def _quoted(backend: str, name: str) -> str:
    return f'"{name}"' if backend == "postgresql" else f"`{name}`"


def _create_server_database(backend: str, name: str, *, template: str | None = None) -> None:
    """Create the empty database ``name`` (a copy of ``template``, on PostgreSQL)."""
    if backend == "postgresql":
        source = _quoted(backend, template) if template else "template0 ENCODING 'UTF8'"
        statement = f"CREATE DATABASE {_quoted(backend, name)} TEMPLATE {source}"
    else:
        statement = (
            f"CREATE DATABASE {_quoted(backend, name)} "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    _administer(backend, statement)


def _drop_server_database(backend: str, name: str) -> None:
    """Drop the database ``name``, whoever is still connected to it."""
    force = " WITH (FORCE)" if backend == "postgresql" else ""
    _administer(backend, f"DROP DATABASE IF EXISTS {_quoted(backend, name)}{force}")


def _administer(backend: str, statement: str) -> None:
    admin = create_engine(server_admin_url(backend), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def schema_differences(engine: Engine) -> list[object]:
    """How the database behind ``engine`` differs from the models (empty: not at all)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": compare_server_default,
                "include_object": compared_objects(connection.dialect.name),
            },
        )
        return list(compare_metadata(context, Base.metadata))


@dataclass
class _Template:
    """One backend's migrated template: where it is, and what a MariaDB copy replays."""

    url: URL
    tables: list[str] = field(default_factory=list)
    create_statements: list[str] = field(default_factory=list)
    checked: bool = False


# What a server database is made as: (backend, name prefix, at schema head?).
_Kind = tuple[str, str, bool]


class Databases:
    """The throwaway databases of one test process, with its templates and the thread that
    creates and drops server databases ahead of and behind the tests; `close` ends it."""

    def __init__(self) -> None:
        self._directory: Path | None = None
        self._templates: dict[str, _Template] = {}
        # Two creators, so that one server's slow moment does not hold up the other's spare.
        self._creating = ThreadPoolExecutor(max_workers=2, thread_name_prefix="creating")
        self._dropping = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dropping")
        self._spares: dict[str, tuple[_Kind, Future[str]]] = {}
        self._drops: list[Future[None]] = []
        # A child forked while a background thread is halfway through a driver call would
        # inherit whatever lock that thread held: the reliability tests fork, so wait first.
        os.register_at_fork(before=self.settle)

    def settle(self) -> None:
        """Wait until no database is being made or dropped in the background."""
        pending: list[Future[Any]] = [spare for _kind, spare in self._spares.values()]
        wait(pending + self._drops)

    @contextmanager
    def new(self, backend: str, directory: Path, *, prefix: str, migrated: bool) -> Iterator[URL]:
        """The URL of a new database on ``backend``, empty or at schema head, dropped
        afterwards (a SQLite file in ``directory``, left there); servers name it ``prefix``
        and a random suffix."""
        path = directory / SQLITE_FILE
        if backend == "sqlite" and not migrated:
            yield normalise_url(f"sqlite:///{path}")
            return
        template = self._template(backend) if migrated else None
        if backend == "sqlite" and template is not None:
            shutil.copy(str(template.url.database), path)
            url = template.url.set(database=str(path))
            self._check_once(template, url)
            yield url
            return
        name = self._take_spare((backend, prefix, migrated), template)
        try:
            url = server_admin_url(backend).set(database=name)
            if template is not None:
                self._check_once(template, url)
            yield url
        finally:
            self._drop_later(_drop_server_database, backend, name)

    def close(self) -> None:
        """Drop the spare databases and the templates, and wait until that is done."""
        # Every copy is made before its template goes.
        self._creating.shutdown(wait=True)
        for (backend, _prefix, _migrated), spare in self._spares.values():
            self._drop_later(_drop_spare, backend, spare)
        self._spares.clear()
        for backend, template in self._templates.items():
            if backend != "sqlite" and template.url.database:
                self._drop_later(_drop_server_database, backend, template.url.database)
        self._templates.clear()
        self._dropping.shutdown(wait=True)
        for drop in self._drops:
            if error := drop.exception():
                # Too late to fail a test; a leftover database is worth a line, not a crash.
                print(f"tests/databases.py: a database was not dropped: {error}", file=sys.stderr)
        self._drops.clear()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def _take_spare(self, kind: _Kind, template: _Template | None) -> str:
        """The name of a new server database of ``kind`` (made ahead if it was asked for
        last time), having the next one made in the background."""
        backend = kind[0]
        spare = self._spares.pop(backend, None)
        if spare is not None and spare[0] != kind:
            self._drop_later(_drop_spare, backend, spare[1])
            spare = None
        name = spare[1].result() if spare is not None else _create(kind, template)
        self._spares[backend] = (kind, self._creating.submit(_create, kind, template))
        return name

    def _drop_later(self, drop: Callable[[str, Any], None], backend: str, what: Any) -> None:
        """Drop a database on the background thread (``what`` as ``drop`` takes it)."""
        self._drops = [done for done in self._drops if not done.done() or done.exception()]
        self._drops.append(self._dropping.submit(drop, backend, what))

    def _template(self, backend: str) -> _Template:
        if backend not in self._templates:
            if self._directory is None:
                self._directory = Path(tempfile.mkdtemp(prefix="ag_templates_"))
            self._templates[backend] = _migrated_template(backend, self._directory)
        return self._templates[backend]

    @staticmethod
    def _check_once(template: _Template, url: URL) -> None:
        """Compare the first copy with the models: a faithful copy differs in nothing."""
        if template.checked:
            return
        engine = create_engine(url)
        try:
            differences = schema_differences(engine)
        finally:
            engine.dispose()
        assert not differences, f"the copy of the schema template differs: {differences}"
        template.checked = True


def _create(kind: _Kind, template: _Template | None) -> str:
    """Create a server database of ``kind``, a copy of ``template`` if given; its name."""
    backend, prefix, _migrated = kind
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    if backend == "postgresql" and template is not None:
        _create_server_database(backend, name, template=template.url.database)
        return name
    _create_server_database(backend, name)
    if template is not None:
        _replay_tables(template, server_admin_url(backend).set(database=name))
    return name


def _drop_spare(backend: str, spare: Future[str]) -> None:
    """Drop the database ``spare`` names once it is made (if it could be)."""
    if spare.exception() is None:
        _drop_server_database(backend, spare.result())


def _migrated_template(backend: str, directory: Path) -> _Template:
    """Create ``backend``'s template database and run every migration on it."""
    if backend == "sqlite":
        url = normalise_url(f"sqlite:///{directory / 'template.db'}")
    else:
        name = f"ag_template_{uuid.uuid4().hex[:12]}"
        _create_server_database(backend, name)
        url = server_admin_url(backend).set(database=name)
    template = _Template(url)
    db = Database.connect(url)
    try:
        upgrade(db.engine)
        if backend == "mysql":
            with db.engine.connect() as connection:
                template.tables = sorted(inspect(connection).get_table_names())
                template.create_statements = [
                    connection.execute(text(f"SHOW CREATE TABLE `{table}`")).one()[1]
                    for table in template.tables
                ]
    finally:
        # Disposing closes every connection: SQLite folds its WAL into the file, and
        # PostgreSQL copies only a database nobody is connected to.
        db.dispose()
    return template


def _replay_tables(template: _Template, url: URL) -> None:
    """Create the template's tables in the empty MariaDB database at ``url``, rows included."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            # The statements come in name order, not in the order their foreign keys need.
            connection.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
            for statement in template.create_statements:
                connection.execute(text(statement))
            for table in template.tables:
                connection.execute(
                    text(f"INSERT INTO `{table}` SELECT * FROM `{template.url.database}`.`{table}`")
                )
            connection.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
    finally:
        engine.dispose()


# One per test process (each xdist worker has its own); conftest closes it at the end.
DATABASES = Databases()


@contextmanager
def empty_database(backend: str, directory: Path, *, prefix: str = "ag_test") -> Iterator[URL]:
    """The URL of a new, empty database on ``backend`` (see `Databases.new`)."""
    with DATABASES.new(backend, directory, prefix=prefix, migrated=False) as url:
        yield url


@contextmanager
def migrated_database(backend: str, directory: Path, *, prefix: str = "ag_test") -> Iterator[URL]:
    """The URL of a new database at schema head on ``backend`` (see `Databases.new`)."""
    with DATABASES.new(backend, directory, prefix=prefix, migrated=True) as url:
        yield url
