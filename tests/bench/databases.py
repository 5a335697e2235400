"""The benchmark's databases: built once with the real data core, cached, reused.

A database is keyed by (alembic head revision, rows, seed): a new migration or another size
builds a new one, anything else reuses what is there. SQLite files live in the cache
directory and are only ever read in place; a figure that writes works on a copy.
PostgreSQL databases are called ``ag_bench_<rows>_<revision>_s<seed>``; each is built
under a temporary name and renamed (and marked with a comment) only once it is complete,
so an interrupted build is never mistaken for a finished one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import SQLAlchemyError

from data.actor import Actor
from data.config import normalise_url
from data.database import Database
from data.schema import head_revision, upgrade
from data.seed import seed_demo
from tests.bench.report import step

Backend = Literal["sqlite", "postgresql"]

SEED = 42
BUILDER = Actor(os_user="accessguard-bench", source="bench")
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_CONNECT_TIMEOUT_S = 3
POSTGRES_NAME_MAX = 63  # NAMEDATALEN - 1
COMPLETE_MARK = "accessguard-bench complete"


@dataclass(frozen=True)
class BenchDatabase:
    """A database at schema head holding ``rows`` users and ``rows`` products."""

    backend: Backend
    rows: int
    url: URL
    path: Path | None  # the SQLite file (read it in place, copy it to write)
    built_s: float | None  # seconds the build took, None when it came from the cache

    @property
    def url_text(self) -> str:
        """The URL with its password, for handing to a child process (local, trust auth)."""
        return self.url.render_as_string(hide_password=False)

    def connect(self) -> Database:
        """A `Database` over it, as the console and the CLI build one."""
        return Database.connect(self.url)


def default_cache_dir() -> Path:
    """``~/.cache/accessguard-bench``, or where this platform keeps caches."""
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "accessguard-bench"


def describe(rows: int) -> str:
    """``1,000,000 users + 1,000,000 products``."""
    return f"{rows:,} users + {rows:,} products"


# SQLite


def sqlite_database(cache: Path, rows: int) -> BenchDatabase:
    """The cached SQLite file for ``rows``, built first if missing or incomplete."""
    revision = head_revision()
    final = cache / f"sqlite-{revision}-rows{rows}-seed{SEED}.db"
    url = normalise_url(f"sqlite:///{final}")
    if final.exists() and _sqlite_complete(final, rows=rows, revision=revision):
        print(f"SQLite {describe(rows)}: cached in {final}", flush=True)
        return BenchDatabase("sqlite", rows, url, final, built_s=None)
    cache.mkdir(parents=True, exist_ok=True)
    _remove_sqlite(final)
    # Built under a name of its own and renamed at the end: a build that dies half way
    # leaves a file nobody will take for a finished database.
    building = final.with_name(f"{final.stem}.building-{os.getpid()}.db")
    _remove_sqlite(building)
    with step(f"building SQLite {describe(rows)}") as took:
        db = Database.connect(normalise_url(f"sqlite:///{building}"))
        try:
            upgrade(db.engine)
            seed_demo(db, users=rows, products=rows, seed=SEED, actor=BUILDER)
            with db.engine.connect() as connection:
                # Everything into the main file, so a plain file copy is the whole database.
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.dispose()
    _remove_sqlite(building, keep_main=True)
    building.replace(final)
    return BenchDatabase("sqlite", rows, url, final, built_s=took.seconds)


def writable_copy(database: BenchDatabase, directory: Path, name: str) -> BenchDatabase:
    """A copy of a cached SQLite database that a figure may write to."""
    if database.path is None:
        raise ValueError("only SQLite databases are copied")
    target = directory / f"{name}.db"
    shutil.copyfile(database.path, target)
    url = normalise_url(f"sqlite:///{target}")
    return BenchDatabase("sqlite", database.rows, url, target, built_s=None)


def _sqlite_complete(path: Path, *, rows: int, revision: str) -> bool:
    """Whether the file is at ``revision`` and holds exactly ``rows`` users and products."""
    try:
        connection = sqlite3.connect(path)
        try:
            version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            users = connection.execute("SELECT count(*) FROM users").fetchone()[0]
            products = connection.execute("SELECT count(*) FROM products").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error:
        return False
    return bool(version == (revision,) and users == rows and products == rows)


def _remove_sqlite(path: Path, *, keep_main: bool = False) -> None:
    """Remove a SQLite file and its WAL and shared-memory companions."""
    names = [f"{path.name}-wal", f"{path.name}-shm"]
    if not keep_main:
        names.append(path.name)
    for name in names:
        (path.parent / name).unlink(missing_ok=True)


# PostgreSQL


def postgres_admin() -> tuple[Engine | None, str]:
    """An autocommit engine on the server's ``postgres`` database, or None and why not."""
    engine = create_engine(
        normalise_url(POSTGRES_ADMIN_URL),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
    )
    try:
        with engine.connect() as connection:
            version = str(connection.execute(text("SHOW server_version")).scalar_one())
    except SQLAlchemyError as error:
        engine.dispose()
        reason = str(error.orig if hasattr(error, "orig") else error).strip().splitlines()[0]
        return None, f"PostgreSQL at 127.0.0.1:5432 is not reachable ({reason})"
    return engine, version


def postgres_database(admin: Engine, rows: int) -> BenchDatabase:
    """``ag_bench_<rows>_<revision>_s<seed>`` on the server, built first if missing."""
    revision = head_revision()
    name = _postgres_name(f"ag_bench_{rows}_{revision}_s{SEED}")
    url = admin.url.set(database=name)
    mark = f"{COMPLETE_MARK} rows={rows} revision={revision} seed={SEED}"
    if _postgres_complete(admin, name, url, mark=mark, rows=rows):
        print(f"PostgreSQL {describe(rows)}: reusing database {name}", flush=True)
        return BenchDatabase("postgresql", rows, url, None, built_s=None)
    building = _postgres_name(f"{name}_building")
    with admin.connect() as connection:
        for stale in (name, building):
            connection.execute(text(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)'))
        connection.execute(
            text(f"CREATE DATABASE \"{building}\" ENCODING 'UTF8' TEMPLATE template0")
        )
    with step(f"building PostgreSQL {describe(rows)} (seed_demo)") as took:
        db = Database.connect(url.set(database=building))
        try:
            upgrade(db.engine)
            seed_demo(db, users=rows, products=rows, seed=SEED, actor=BUILDER)
            # Autovacuum would analyse the new tables a little later anyway; doing it now
            # means every run plans its queries on the same statistics.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE"))
        finally:
            db.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{name}"'))
        connection.execute(text(f"COMMENT ON DATABASE \"{name}\" IS '{mark}'"))
    return BenchDatabase("postgresql", rows, url, None, built_s=took.seconds)


def _postgres_name(wanted: str) -> str:
    """A safe database name: lower-case letters, digits and _, cut to fit with a hash."""
    clean = re.sub(r"[^a-z0-9_]", "_", wanted.lower())
    if len(clean) <= POSTGRES_NAME_MAX:
        return clean
    digest = hashlib.sha1(clean.encode()).hexdigest()[:8]
    return f"{clean[: POSTGRES_NAME_MAX - 9]}_{digest}"


def _postgres_complete(admin: Engine, name: str, url: URL, *, mark: str, rows: int) -> bool:
    """Whether ``name`` exists with our completion mark and the right number of rows."""
    with admin.connect() as connection:
        comment = connection.execute(
            text(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n"
            ),
            {"n": name},
        ).first()
    if comment is None or comment[0] != mark:
        return False
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            users = connection.execute(text("SELECT count(*) FROM users")).scalar_one()
            products = connection.execute(text("SELECT count(*) FROM products")).scalar_one()
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    return bool(users == rows and products == rows)
