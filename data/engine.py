"""Building the one engine a process uses, and the session factory bound to it.

Nothing here runs at import time: the app or the CLI calls `create_database_engine` once it
knows the URL, and tests hand in their own.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from data.casefold import FOLD_FUNCTION, fold_case
from data.config import BadDatabaseURL
from data.errors import Unavailable
from data.lock_wait import begin_immediate
from data.sqlite_file import FileIdentity, check_options, file_uri, sqlite_path

SQLITE_BUSY_TIMEOUT_MS = 5_000
MAX_SQLITE_BUSY_TIMEOUT_S = 3_600
SERVER_POOL_RECYCLE_S = 1_800
SERVER_LOCK_TIMEOUT_S = 5
# How long connecting to a server may take, unless the URL says (``?connect_timeout=3``).
SERVER_CONNECT_TIMEOUT_S = 10
WAL_RETRY_S = 0.02
# Execution option a write unit of work sets on its connection; SQLite then opens the
# transaction with BEGIN IMMEDIATE so two writers queue instead of failing at COMMIT.
WRITE_OPTION = "accessguard_write"


def create_database_engine(url: URL, *, read_only: bool = False, echo: bool = False) -> Engine:
    """Create the process's engine for ``url``.

    SQLite: WAL, foreign keys on every connection, a busy timeout, BEGIN IMMEDIATE for
    writes, new files created 0600, exactly the named file opened (``mode=ro`` when
    read-only), and writes refused once that file was deleted, moved or replaced.
    Servers: pre-ping, recycle, a lock timeout, and a READ ONLY session when read-only.
    """
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, read_only=read_only, echo=echo)
    return _server_engine(url, read_only=read_only, echo=echo)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """The seeds' ``SessionLocal``: no autoflush, objects stay readable after commit."""
    return sessionmaker(bind=engine, autoflush=False, expire_on_commit=False)


def _sqlite_engine(url: URL, *, read_only: bool, echo: bool) -> Engine:
    check_options(url)
    path = sqlite_path(url)
    if read_only and not path.exists():
        raise Unavailable(
            f"The database file {path} does not exist, and a read-only connection cannot "
            "create it. Check the path in the URL."
        )
    if not read_only:
        _create_private_file(path)
    busy_timeout_ms = sqlite_busy_timeout_ms(url)
    engine = create_engine(
        url, echo=echo, hide_parameters=True, connect_args={"check_same_thread": False}
    )
    identity = None if read_only else FileIdentity(path)
    # Exactly the named file, through a URI quoted byte by byte (`data.sqlite_file`): with
    # mode=ro the database itself refuses writes (SQLITE_OPEN_READONLY). The engine's own
    # URL stays the admin's, for anyone who opens the same database again.
    uri = file_uri(path, read_only=read_only)

    @event.listens_for(engine, "do_connect")
    def _open_exactly(
        _dialect: Any, _record: ConnectionPoolEntry, cargs: list[Any], cparams: dict[str, Any]
    ) -> None:
        if identity is not None:
            # Not even a new connection to a stranger at that path (its check after opening,
            # in _on_connect, closes the gap between this look and the open).
            identity.check()
        cargs[:] = [uri]
        cparams["uri"] = True

    # Many rows go in as multi-row INSERT statements rather than one statement per row: the
    # FTS5 search index behind its triggers flushes at every statement, which made inserting
    # 100,000 users 4.8x slower (6.9 s against 1.45 s in batches of 500).
    engine.dialect.use_insertmanyvalues_wo_returning = True

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        if identity is not None:
            identity.check_connection(dbapi_connection)
        # Let SQLAlchemy's "begin" event below emit BEGIN, not pysqlite's own guesswork.
        dbapi_connection.isolation_level = None
        # Search folds case as the servers' lower() does (SQLite's folds ASCII only).
        dbapi_connection.create_function(FOLD_FUNCTION, 1, fold_case, deterministic=True)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not read_only:
                _use_wal(cursor, busy_timeout_ms)
                cursor.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error:
            cursor.close()
            # The file deleted or replaced while this connection waited for another's lock
            # to set itself up: SQLite says "disk I/O error"; the admin is told what happened.
            if identity is not None:
                identity.check_connection(dbapi_connection)
            raise
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writing = connection.get_execution_options().get(WRITE_OPTION, False)
        if writing:
            # Says so when it has to wait for another writer (the console shows it).
            begin_immediate(connection, busy_timeout_ms)
        else:
            connection.exec_driver_sql("BEGIN")
        if writing and identity is not None:
            # Holding the write lock: no other AccessGuard is half way through a write.
            identity.check_write(
                connection.connection.driver_connection, busy_timeout_ms=busy_timeout_ms
            )

    return engine


def sqlite_busy_timeout_ms(url: URL) -> int:
    """How long a SQLite statement waits for another connection's lock, in milliseconds.

    The URL's own ``timeout`` (seconds, the pysqlite option: ``sqlite:///a.db?timeout=20``)
    if it has one, else 5 s. The PRAGMA set on every connection would otherwise override it.
    """
    raw = url.query.get("timeout")
    if raw is None:
        return SQLITE_BUSY_TIMEOUT_MS
    text = raw[-1] if isinstance(raw, tuple) else raw
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_SQLITE_BUSY_TIMEOUT_S:
        raise BadDatabaseURL(
            f"the SQLite URL's timeout must be a number of seconds from 0 to "
            f"{MAX_SQLITE_BUSY_TIMEOUT_S}, e.g. ?timeout=20"
        )
    return round(seconds * 1000)


def _use_wal(cursor: Any, busy_timeout_ms: int) -> None:
    """Put the database in WAL mode, waiting out a concurrent first start.

    WAL is persistent, so only the first connection to a new file switches it. Switching
    takes an exclusive lock, and SQLite answers "database is locked" at once rather than
    calling the busy handler, so two consoles creating one file would race: retry for as
    long as the busy timeout allows.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(WAL_RETRY_S)


def _create_private_file(path: Path) -> None:
    """Create a new database file readable by its owner only.

    SQLite gives the -wal and -shm files the permissions of the database file, so they
    are private too. An existing file is left as it is.
    """
    if path.exists():
        return
    if path.parent and not path.parent.exists():
        return  # sqlite3 will report "unable to open database file" with its own words
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def exposed_file_warnings(url: URL) -> list[str]:
    """What to tell the admin when other users of the machine can open the SQLite file.

    The file holds every record and the password hashes, and SQLite gives its -wal and -shm
    the file's own mode. New files are made 0600; an existing one is the admin's to fix, so
    this warns (saying how) rather than refusing to open it.
    """
    if url.get_backend_name() != "sqlite" or not url.database:
        return []
    path = Path(url.database)
    exposed: dict[Path, int] = {}
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = stat.S_IMODE(candidate.stat().st_mode)
        except OSError:
            continue
        if mode & _OTHERS:
            exposed[candidate] = mode
    if not exposed:
        return []
    first, mode = next(iter(exposed.items()))
    access = {stat.S_IROTH: "readable", stat.S_IWOTH: "writable"}.get(
        mode & _OTHERS, "readable and writable"
    )
    return [
        f"The database file {first} is {access} by every user of this machine "
        f"(mode {mode:04o}); it holds every record and the password hashes. "
        f"Fix: chmod 600 {' '.join(map(str, exposed))}"
    ]


_OTHERS = stat.S_IROTH | stat.S_IWOTH


def _server_engine(url: URL, *, read_only: bool, echo: bool) -> Engine:
    backend = url.get_backend_name()
    # A connect_timeout in the URL's query wins (connect_args would override it).
    connect_args: dict[str, Any] = (
        {} if "connect_timeout" in url.query else {"connect_timeout": SERVER_CONNECT_TIMEOUT_S}
    )
    engine = create_engine(
        url,
        echo=echo,
        # Bound values (a password hash, a customer's data) never appear in error text.
        hide_parameters=True,
        pool_pre_ping=True,
        pool_recycle=SERVER_POOL_RECYCLE_S,
        connect_args=connect_args,
    )

    if backend == "mysql":
        _bound_the_mysql_greeting(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if backend == "postgresql":
                cursor.execute(f"SET lock_timeout = '{SERVER_LOCK_TIMEOUT_S}s'")
                if read_only:
                    cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            else:
                cursor.execute(f"SET SESSION innodb_lock_wait_timeout = {SERVER_LOCK_TIMEOUT_S}")
                cursor.execute("SET SESSION sql_mode = 'TRADITIONAL,NO_AUTO_VALUE_ON_ZERO'")
                if read_only:
                    cursor.execute("SET SESSION TRANSACTION READ ONLY")
        finally:
            cursor.close()
        if backend == "postgresql":
            # psycopg opened a transaction for the SETs; end it so the pool hands out a clean one.
            dbapi_connection.commit()

    return engine


def _bound_the_mysql_greeting(engine: Engine) -> None:
    """Make PyMySQL's connect_timeout cover the server's greeting and the login too.

    PyMySQL applies connect_timeout to the TCP connect only, then reads the greeting with
    its read timeout, which is none: a port that accepts but never answers (a hung server,
    a half-open tunnel) hung `accessguard` for ever. So connect with the read timeout set to
    the connect timeout, then lift it: a long query is not a failure.
    """

    @event.listens_for(engine, "do_connect")
    def _connect(
        dialect: Any, _record: ConnectionPoolEntry, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> Any:
        if "read_timeout" in cparams:
            return None  # the URL chose a read timeout: connect the usual way
        timeout = cparams.get("connect_timeout", SERVER_CONNECT_TIMEOUT_S)
        connection = dialect.loaded_dbapi.connect(*cargs, **{**cparams, "read_timeout": timeout})
        # PyMySQL has no public setter; it re-applies this before every read.
        connection._read_timeout = None
        return connection
