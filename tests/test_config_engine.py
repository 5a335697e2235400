"""URL resolution, the password never shown, and the SQLite engine's promises."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

import data.engine
from data.actor import Actor
from data.config import BadDatabaseURL, display_url, normalise_url, resolve_url
from data.database import Database
from data.engine import create_database_engine
from data.errors import Busy, FileReplaced, ReadOnly, Unavailable
from data.schema import upgrade


def test_url_precedence_cli_over_environment_over_default() -> None:
    env = {"DATABASE_URL": "sqlite:///from-env.db"}
    assert resolve_url("sqlite:///from-cli.db", env).database == "from-cli.db"
    assert resolve_url(None, env).database == "from-env.db"
    assert str(resolve_url(None, {})) == "sqlite:///./accessguard.db"


def test_server_schemes_map_to_the_shipped_drivers() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    mysql = normalise_url("mysql://u@h/db")
    assert mysql.drivername == "mysql+pymysql"
    assert mysql.query["charset"] == "utf8mb4"


def test_the_password_is_hidden_in_str_repr_and_display() -> None:
    url = normalise_url("postgresql://admin:s3cr3t-pw@db.internal:5432/prod")
    for shown in (str(url), repr(url), display_url(url), repr(create_database_engine(url))):
        assert "s3cr3t-pw" not in shown
    assert "***" in display_url(url)


def test_a_bad_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(BadDatabaseURL) as refused:
        normalise_url("not a url :// with s3cr3t")
    assert "s3cr3t" not in str(refused.value)
    with pytest.raises(BadDatabaseURL, match="in-memory"):
        normalise_url("sqlite://")
    with pytest.raises(BadDatabaseURL, match="unsupported"):
        normalise_url("oracle://u:p@h/db")


def test_new_sqlite_files_are_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    db = Database.connect(normalise_url(f"sqlite:///{path}"))
    upgrade(db.engine)
    db.users.create({"name": "A", "email": "a@example.com"}, actor=Actor("t"))
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    for suffix in ("", "-wal", "-shm"):
        mode = stat.S_IMODE(os.stat(f"{path}{suffix}").st_mode)
        assert mode == 0o600, (suffix, oct(mode))
    db.dispose()


def test_read_only_sqlite_is_refused_by_the_database(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    writer = Database.connect(normalise_url(f"sqlite:///{path}"))
    upgrade(writer.engine)
    writer.dispose()
    reader = Database.connect(normalise_url(f"sqlite:///{path}"), read_only=True)
    with pytest.raises(ReadOnly):
        reader.users.create({"name": "A", "email": "a@example.com"}, actor=Actor("t"))
    assert reader.users.count() == 0
    reader.dispose()


def test_writer_waiting_on_a_held_lock_reports_busy_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import data.engine

    monkeypatch.setattr(data.engine, "SQLITE_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "busy.db"
    db = Database.connect(normalise_url(f"sqlite:///{path}"))
    upgrade(db.engine)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Busy):
            db.users.create({"name": "A", "email": "a@example.com"}, actor=Actor("t"))
        # Readers are not blocked by a writer in WAL mode.
        assert db.users.count() == 0
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    db.users.create({"name": "A", "email": "a@example.com"}, actor=Actor("t"))
    assert db.users.count() == 1
    db.dispose()


def test_writes_queue_with_begin_immediate(tmp_path: Path) -> None:
    """Two writers at once: the second waits for the first instead of failing at COMMIT."""
    db = Database.connect(normalise_url(f"sqlite:///{tmp_path / 'queue.db'}"))
    upgrade(db.engine)
    statements: list[str] = []
    lock = threading.Lock()

    from sqlalchemy import event

    @event.listens_for(db.engine, "before_cursor_execute")
    def _record(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        with lock:
            statements.append(statement)

    db.users.create({"name": "A", "email": "a@example.com"}, actor=Actor("t"))
    db.users.count()
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE", "BEGIN"]
    db.dispose()


def test_an_unreachable_server_is_unavailable_and_the_password_stays_hidden() -> None:
    url = normalise_url("postgresql://postgres:hunter2-secret@127.0.0.1:1/nope")
    db = Database.connect(url)
    with pytest.raises(Unavailable) as failure:
        db.users.count()
    assert "hunter2-secret" not in str(failure.value)
    db.dispose()


def test_importing_data_or_models_never_imports_textual() -> None:
    # Every module of both packages, so a new one cannot slip an import in unnoticed.
    code = (
        "import importlib, pkgutil, sys, data, models\n"
        "for package in (data, models):\n"
        "    for info in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
        "        if '.migrations' not in info.name:\n"
        "            importlib.import_module(info.name)\n"
        "leaked = [m for m in sys.modules if m.split('.')[0] in ('textual', 'tui')]\n"
        "assert not leaked, leaked\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_read_only_on_a_missing_file_says_so_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    with pytest.raises(Unavailable, match="does not exist"):
        Database.connect(normalise_url(f"sqlite:///{missing}"), read_only=True)
    assert not missing.exists()


def test_a_file_deleted_while_a_connection_sets_itself_up_is_said_to_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new connection waits in its set-up for a lock another program holds; meanwhile the
    # file is deleted. SQLite's own words would be "disk I/O error" (the CLI then blamed a
    # "database server"); the admin must hear that the file went.
    path = tmp_path / "gone.db"
    db = Database.connect(normalise_url(f"sqlite:///{path}"))
    upgrade(db.engine)
    db.engine.dispose()
    real_use_wal = data.engine._use_wal

    def deleted_meanwhile(cursor: Any, busy_timeout_ms: int) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        real_use_wal(cursor, busy_timeout_ms)

    monkeypatch.setattr(data.engine, "_use_wal", deleted_meanwhile)
    with pytest.raises(FileReplaced, match="was deleted or moved since it was opened"):
        db.users.count()
    db.dispose()
    assert not path.exists()
