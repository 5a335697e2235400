"""Live views: one long-running thread that waits for others' changes and tells the app.

The waiting is the data core's (`data.feed`): per backend, the cheapest way to hear that
something was committed (SQLite's data version, PostgreSQL's NOTIFY, MariaDB's newest audit
id), at most one tiny query a second. When it hears something, it reads the audit entries
after its cursor and posts them as one `RecordsChanged`; an empty one means too many to
list (an import): every table reloads.

A server that goes away, a file locked for a while, any data error, is retried quietly
(1 s, doubling to 10 s): the views catch up when it is back. Nothing here runs SQL on the
screen's thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.dom import DOMNode
from textual.message import Message
from textual.worker import get_current_worker

from data.errors import AccessGuardError

if TYPE_CHECKING:
    from data.changes import Change
    from data.database import Database
    from data.feed import FeedCursor, Watcher

# The worker group of the watcher: it runs as long as the console (tests wait for every
# other worker, never for this one).
LIVE_GROUP = "live"
# After a failure, wait this long before trying again, growing to the most.
RETRY_FIRST_S = 1.0
RETRY_MOST_S = 10.0

Post = Callable[[tuple["Change", ...]], None]


class LiveWatch:
    """Waits for changes on ``db`` in the thread that calls `run`, until `stop`."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._stopped = threading.Event()
        # Set once `run` has closed its connection (or never ran).
        self._closed = threading.Event()
        self._closed.set()
        # Set once the watcher knows where the trail ends: what is committed later shows.
        self.watching = threading.Event()
        # Built here (it opens no connection) so that `stop` can wake it from any thread.
        self._watcher: Watcher = db.changes.watcher()

    def start(self, node: DOMNode, message: Callable[[tuple[Change, ...]], Message]) -> None:
        """Run `run` in a thread worker of ``node``, posting each batch to it as ``message``."""

        def watch() -> None:
            worker = get_current_worker()
            self.run(lambda changes: _post(node, message(changes)), lambda: worker.is_cancelled)

        node.run_worker(
            watch,
            thread=True,
            group=LIVE_GROUP,
            exit_on_error=False,
            description="watch for others' changes",
        )

    def stop(self, *, wait_s: float = 0.0) -> None:
        """End `run` soon, from any thread: the waiting wakes at once. With ``wait_s``, wait
        that long for its connection to close (a console closing leaves no file open: on
        SQLite an open connection keeps the -shm, with its permissions, for the next one)."""
        self._stopped.set()
        self._watcher.stop()
        if wait_s:
            self._closed.wait(wait_s)

    @property
    def stopped(self) -> bool:
        """Whether `stop` was called."""
        return self._stopped.is_set()

    def run(self, post: Post, cancelled: Callable[[], bool]) -> None:
        """Post every batch of changes until stopped or ``cancelled``; closes its connection.

        Data errors (Unavailable, Busy...) are waited out, quietly, with a growing pause;
        anything else is a bug and ends the worker (the console reports it).
        """
        self._closed.clear()
        feed = self._db.changes
        cursor: FeedCursor | None = None
        retry = RETRY_FIRST_S
        try:
            while not self.stopped and not cancelled():
                try:
                    if cursor is None:
                        # Looking first, then reading where the trail ends: nothing
                        # committed in between goes unnoticed.
                        self._watcher.prime()
                        cursor = feed.newest()
                        self.watching.set()
                    if not self._watcher.wait() or self.stopped or cancelled():
                        continue
                    found = feed.since(cursor)
                except AccessGuardError:
                    # Unavailable, Busy, a replaced file...: the admin's own next action
                    # says so; the watcher waits it out quietly and catches up after.
                    self._stopped.wait(retry)
                    retry = min(retry * 2, RETRY_MOST_S)
                    continue
                retry = RETRY_FIRST_S
                cursor = found.cursor
                if found.overflow:
                    post(())
                elif found.changes:
                    post(found.changes)
        finally:
            self._watcher.close()
            self._closed.set()


def _post(node: DOMNode, message: Message) -> None:
    node.post_message(message)


__all__ = ["LIVE_GROUP", "LiveWatch"]
