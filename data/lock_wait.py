"""Saying that a write waits for another writer, the moment it starts to wait.

SQLite has one write lock for the whole file: a save that finds a colleague's write in
progress waits in BEGIN IMMEDIATE (up to the busy timeout) with no sign. When anyone
listens (the console does; the command line does not), the write first asks for the lock
without waiting; refused, it tells its listeners (True), then waits as before, and tells
them again (False) once it has the lock or gave up.

Servers lock rows, not the database: there, `lock_row` does the same for the row a write
locks (FOR UPDATE): first NOWAIT, in a savepoint so a refusal leaves the transaction whole;
refused, it tells the listeners and waits as before (up to the server's lock timeout).
`lock_rows` does it for the many rows of one statement (an undo's batch).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar, TypeVarTuple

if TYPE_CHECKING:  # the console listens before its first frame, long before SQLAlchemy loads
    from sqlalchemy import Row, Select
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

Listener = Callable[[bool], None]
RowT = TypeVar("RowT")
RowsT = TypeVarTuple("RowsT")
TakenT = TypeVar("TakenT")

_listeners: list[Listener] = []
_lock = threading.Lock()


def listen(listener: Listener) -> Callable[[], None]:
    """Call ``listener(True)`` when a write starts to wait for the lock and
    ``listener(False)`` when it stops waiting; in the writing thread. Returns the way to stop."""
    with _lock:
        _listeners.append(listener)

    def stop() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return stop


def begin_immediate(connection: Connection, busy_timeout_ms: int) -> None:
    """BEGIN IMMEDIATE on a SQLite connection, telling the listeners if it has to wait."""
    with _lock:
        listeners = list(_listeners)
    if listeners and _began_without_waiting(connection, busy_timeout_ms):
        return
    if listeners:
        _tell(listeners, waiting=True)
    try:
        # Through SQLAlchemy, so a lock never got is the error it always was (Busy).
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        if listeners:
            _tell(listeners, waiting=False)


def lock_row(session: Session, model: type[RowT], record_id: int) -> RowT | None:
    """``session.get(model, record_id, with_for_update=True)``, telling the listeners while
    it waits for another writer's lock on the row (PostgreSQL, MariaDB; on SQLite the
    transaction already holds the file's write lock, see `begin_immediate`)."""
    return _locking(
        session, lambda nowait: session.get(model, record_id, with_for_update={"nowait": nowait})
    )


def lock_rows(session: Session, statement: Select[*RowsT]) -> Sequence[Row[*RowsT]]:
    """The rows of ``statement`` locked FOR UPDATE, telling the listeners while the lock on
    any of them is another writer's (as `lock_row`, for a batch: undo takes back many)."""
    return _locking(
        session,
        lambda nowait: session.execute(statement.with_for_update(nowait=nowait)).all(),
    )


def _locking(session: Session, take: Callable[[bool], TakenT]) -> TakenT:
    """``take(nowait=False)``; where someone listens on a server, ``take(nowait=True)`` first,
    in a savepoint, and a refusal told to the listeners around the wait that follows."""
    with _lock:
        listeners = list(_listeners)
    if not listeners or session.get_bind().dialect.name == "sqlite":
        return take(False)
    from sqlalchemy.exc import OperationalError

    try:
        with session.begin_nested():
            return take(True)
    except OperationalError as refused:
        if not _lock_not_available(refused):
            raise
    _tell(listeners, waiting=True)
    try:
        return take(False)
    finally:
        _tell(listeners, waiting=False)


def _lock_not_available(error: Exception) -> bool:
    """Whether a NOWAIT lock was refused: PostgreSQL's SQLSTATE 55P03, MariaDB's 1205 (its
    NOWAIT is a zero lock wait timeout) or MySQL's 3572."""
    cause = getattr(error, "orig", None)
    if getattr(cause, "sqlstate", None) == "55P03":
        return True
    code = getattr(cause, "args", (None,))[0] if cause is not None else None
    return code in (1205, 3572)


def _began_without_waiting(connection: Connection, busy_timeout_ms: int) -> bool:
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        raw.execute("BEGIN IMMEDIATE")
        return True
    except sqlite3.OperationalError as refused:
        if "locked" not in str(refused) and "busy" not in str(refused):
            raise
        return False
    finally:
        raw.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")


def _tell(listeners: list[Listener], *, waiting: bool) -> None:
    for listener in listeners:
        listener(waiting)


__all__ = ["begin_immediate", "listen", "lock_row", "lock_rows"]
