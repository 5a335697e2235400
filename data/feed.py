"""The change feed: what the audit trail gained since a console last looked, and a cheap
way to wait until it may have gained something.

Every committed change writes its audit entries in its own transaction, so reading the
entries after a cursor is reading what others committed. Waiting is per backend, chosen
so an idle console costs next to nothing whatever the size of its tables:

- SQLite: ``PRAGMA data_version`` on one long-lived connection, once a second. It changes
  when any other connection commits to the file, and reads no table page at all.
- PostgreSQL: ``LISTEN accessguard_changes`` on one long-lived connection; `data.trail`
  sends the NOTIFY inside the audit entry's own transaction, so it arrives on commit and
  never on rollback. A lost connection falls back to polling once a second.
- MariaDB: the entries after the cursor, once a second: a primary-key range read that
  finds nothing while nothing changed.

On the servers ids are handed out before commit, so a transaction that took id 10 may
commit after the one that took 11. The cursor remembers such holes for a while and reads
them again, so a slow commit is not skipped.
"""

from __future__ import annotations

import os
import select as io_select
import threading
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from data.changes import Change
from data.trail import NOTIFY_CHANNEL
from data.translate import translate_errors
from data.unit import reading
from models import AuditEntry

POLL_S = 1.0
# How long a hole in the ids (an entry numbered but not yet committed) is looked at again.
HOLE_WAIT_S = 30.0
MAX_HOLES = 1_000
DEFAULT_LIMIT = 200


@dataclass(frozen=True, slots=True)
class FeedCursor:
    """Where a reader of the feed is: the newest entry it has seen, and the holes below it
    (ids not committed yet when it looked), each with the monotonic time it stops waiting."""

    last: int
    holes: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True, slots=True)
class ChangesSince:
    """What `ChangeFeed.since` found: the changes, oldest first, and the cursor after them.

    ``overflow``: more arrived than the limit allowed (an import, say); ``changes`` then
    holds none, and the cursor moved to the newest entry: a reader simply reloads.
    """

    changes: tuple[Change, ...]
    cursor: FeedCursor
    overflow: bool = False


class ChangeFeed:
    """The audit trail read as a feed of `Change`; each read is one unit of work."""

    def __init__(self, engine: Engine, sessions: sessionmaker[Session]) -> None:
        self._engine = engine
        self._sessions = sessions

    def newest(self) -> FeedCursor:
        """A cursor at the newest entry now (what a reader starts from)."""
        with reading(self._sessions) as session:
            return FeedCursor(last=_newest_id(session))

    def since(self, cursor: FeedCursor, limit: int = DEFAULT_LIMIT) -> ChangesSince:
        """The entries committed after ``cursor`` (holes included), at most ``limit``.

        Index lookups only: a primary-key range after the cursor, and the holes by id.
        """
        now = time.monotonic()
        holes = {entry_id: until for entry_id, until in cursor.holes if until > now}
        where = AuditEntry.id > cursor.last
        if holes:
            where = or_(where, AuditEntry.id.in_(sorted(holes)))
        with reading(self._sessions) as session:
            entries = list(
                session.scalars(
                    select(AuditEntry).where(where).order_by(AuditEntry.id).limit(limit + 1)
                )
            )
            if len(entries) > limit:
                return ChangesSince((), FeedCursor(last=_newest_id(session)), overflow=True)
            changes = tuple(_change(entry) for entry in entries)
        seen = [change.entry_id for change in changes]
        for entry_id in seen:
            holes.pop(entry_id, None)
        last = max([cursor.last, *seen])
        previous = cursor.last
        for entry_id in sorted(i for i in seen if i > cursor.last):
            for missing in range(previous + 1, entry_id):
                if len(holes) < MAX_HOLES:
                    holes[missing] = now + HOLE_WAIT_S
            previous = entry_id
        return ChangesSince(changes, FeedCursor(last, tuple(sorted(holes.items()))))

    def watcher(self, *, poll_s: float = POLL_S) -> Watcher:
        """What waits for a change on this backend (close it when done)."""
        backend = self._engine.url.get_backend_name()
        if backend == "sqlite":
            return DataVersionWatcher(self._engine, poll_s=poll_s)
        if backend == "postgresql":
            return NotifyWatcher(self._engine, poll_s=poll_s)
        return PollWatcher(poll_s=poll_s)


class Watcher(Protocol):
    """Blocks until the trail may have changed. Thread-safe `stop` wakes it at once.

    A reader calls `prime` first, then reads where the feed ends (`ChangeFeed.newest`):
    whatever commits after `prime` makes a later `wait` say so.
    """

    def prime(self) -> None:
        """Start looking (read the data version, LISTEN) before the reader's first read."""
        ...

    def wait(self) -> bool:
        """Block at most about a second; True if something may have changed since the
        last call (read the feed), False if surely not, or if stopped."""
        ...

    def stop(self) -> None:
        """Wake `wait` now and make every later call return False (from any thread)."""
        ...

    def close(self) -> None:
        """Release the connection (from the waiting thread, once it is done)."""
        ...


class PollWatcher:
    """No way to hear a change: say "maybe" once every ``poll_s`` (MariaDB; the fallback)."""

    def __init__(self, *, poll_s: float = POLL_S) -> None:
        self.poll_s = poll_s
        self._stopped = threading.Event()

    def prime(self) -> None:
        """Nothing to start: every interval is a "maybe"."""

    def wait(self) -> bool:
        """Sleep one poll interval (woken early by `stop`)."""
        return not self._stopped.wait(self.poll_s)

    def stop(self) -> None:
        """Wake the sleeper."""
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        """Whether `stop` was called."""
        return self._stopped.is_set()

    def close(self) -> None:
        """Nothing to release."""


class DataVersionWatcher(PollWatcher):
    """SQLite: ``PRAGMA data_version`` on one connection of its own, once a second.

    The number changes when another connection commits to the file (the console's own
    saves go through other connections, so they count too), and reading it reads no page.
    """

    def __init__(self, engine: Engine, *, poll_s: float = POLL_S) -> None:
        super().__init__(poll_s=poll_s)
        self._engine = engine
        self._raw: Any = None
        self._version: int | None = None

    def prime(self) -> None:
        """Note the data version now: a commit after this changes it."""
        self._version = self._data_version()

    def wait(self) -> bool:
        """Sleep a poll interval, then compare the file's data version with the last one.

        A new connection's number says nothing about the old one's: after a failure the
        first look on the next connection says "maybe"."""
        if not super().wait():
            return False
        version = self._data_version()
        changed = self._version is None or version != self._version
        self._version = version
        return changed

    def _data_version(self) -> int:
        with translate_errors():
            try:
                if self._raw is None:
                    self._raw = _raw_connection(self._engine)
                return int(self._raw.driver_connection.execute("PRAGMA data_version").fetchone()[0])
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        """Hand the connection back to the pool."""
        self._version = None
        raw, self._raw = self._raw, None
        if raw is not None:
            with suppress(Exception):
                raw.close()


class NotifyWatcher(PollWatcher):
    """PostgreSQL: LISTEN on one connection of its own (out of the pool, autocommit).

    Quiet while nothing is sent: no query at all. Without the connection (the server went
    away) it says "maybe" once every ``poll_s``, and tries to listen again next time.
    """

    def __init__(self, engine: Engine, *, poll_s: float = POLL_S) -> None:
        super().__init__(poll_s=poll_s)
        self._engine = engine
        self._connection: Any = None
        # Woken by stop(): select() waits on this pipe as well as on the server's socket.
        self._wake_read, self._wake_write = _pipe()

    def prime(self) -> None:
        """LISTEN now (if the server answers; else `wait` polls and tries again)."""
        with suppress(Exception):
            self._listen()

    def wait(self) -> bool:
        """Until a NOTIFY arrives (True) or a poll interval passes (False)."""
        if self.stopped:
            return False
        if self._connection is None:
            try:
                self._listen()
            except Exception:
                # No listening now: poll, and try again next time.
                return super().wait()
            # Anything committed while not listening was not heard: read the feed once.
            return True
        connection = self._connection
        try:
            ready, _, _ = io_select.select(
                [connection.fileno(), self._wake_read], [], [], self.poll_s
            )
            if self.stopped:
                return False
            if not ready:
                return False
            heard = False
            # Reads whatever arrived; several NOTIFYs in a row are one "something changed".
            for _ in connection.notifies(timeout=0, stop_after=1_000):
                heard = True
            return heard
        except Exception:
            self.close()
            return True

    def _listen(self) -> None:
        raw = self._engine.raw_connection()
        connection: Any = raw.driver_connection
        # Out of the pool for good: its session settings (autocommit, LISTEN) are its own.
        raw.detach()
        try:
            connection.autocommit = True
            connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def stop(self) -> None:
        """Wake the select() now."""
        super().stop()
        with suppress(OSError):
            os.write(self._wake_write, b"x")

    def close(self) -> None:
        """Close the listening connection and the wake-up pipe."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(Exception):
                connection.close()

    def __del__(self) -> None:
        for fd in (self._wake_read, self._wake_write):
            with suppress(OSError):
                os.close(fd)


def _pipe() -> tuple[int, int]:
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    return read, write


def _newest_id(session: Session) -> int:
    return int(session.scalar(select(func.max(AuditEntry.id))) or 0)


def _change(entry: AuditEntry) -> Change:
    return Change(
        entry_id=entry.id,
        entity=entry.entity,
        record_id=entry.record_id if entry.record_id is not None else 0,
        action=entry.action,
        actor=entry.actor,
        source=entry.source,
        at=entry.at,
        fields=_fields(entry.old_values, entry.new_values),
    )


def _fields(old: dict[str, Any] | None, new: dict[str, Any] | None) -> tuple[str, ...]:
    names: dict[str, None] = {}
    for values in (old or {}, new or {}):
        for name in values:
            if name != "version":
                names[name] = None
    return tuple(names)


def changed_entities(changes: Sequence[Change]) -> frozenset[str]:
    """The entities ``changes`` touch."""
    return frozenset(change.entity for change in changes)


__all__ = [
    "NOTIFY_CHANNEL",
    "ChangeFeed",
    "ChangesSince",
    "DataVersionWatcher",
    "FeedCursor",
    "NotifyWatcher",
    "PollWatcher",
    "Watcher",
    "changed_entities",
]


def _raw_connection(engine: Engine) -> Any:
    """A pooled DBAPI connection; a driver error while opening it (SQLite's "unable to open
    database file" on a read-only file system, raised by the engine's connect hook) comes
    out wrapped as SQLAlchemy wraps it for a `Connection`, so `translate_errors` names it."""
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        return engine.raw_connection()
    except dbapi_error as error:
        raise sa_exc.DBAPIError.instance(None, None, error, dbapi_error) from error
