"""Keys that arrive together are handled as if typed one at a time.

Textual 8.2.8 forwards each key to the widget focused *when the app reads the key*. A key
that opens an input (``/`` the search, ``e`` a form, ``u`` a confirm) only moves the focus
once its action has run in the focused widget's own message queue and the new focus is
set through the app's queue; the keys that came in the same read (type-ahead on a slow
link, a paste, a script) were forwarded long before, to the old focus: ``/guo`` ran ``g``,
``u`` and ``o`` on the table instead of searching for "guo".

`KeysInOrder` holds each key (and paste) back until the one before it has settled: every
message queue of the app and of the screen on top is empty, and the workers the key
started (a dialog that reads first, like undo's plan) have ended or had `WORKER_WAIT_S`.
A key typed alone meets an idle console and passes at once; only a backlog waits.

Upstream, the same belongs in `App.on_event`: forward an unforwarded key only once the
previous key's target has processed it and the focus it asked for is set (Textual has the
pieces: `Pilot._wait_for_screen` waits the same way for tests).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from textual import events
from textual.app import App
from textual.message_pump import MessagePump
from textual.worker import Worker, WorkerState

# How long a held key waits for the workers the key before it started (a plan to read,
# a record to load); past it, the key goes on to whatever has the focus then.
WORKER_WAIT_S = 2.0
# How often a held key looks again while something is still settling.
LOOK_AGAIN_S = 0.01
# A key is let through after this long whatever is still busy (a timer that never
# stops posting, say): late is better than lost.
HOLD_AT_MOST_S = 5.0

_RUNNING = (WorkerState.PENDING, WorkerState.RUNNING)


class KeysInOrder(App[None]):
    """An app whose keys, however fast they come, each land where the one before left the focus."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held_keys: deque[events.Key | events.Paste] = deque()
        self._key_settling = False

    @property
    def keys_waiting(self) -> bool:
        """Whether keys are held back until an earlier key has settled (tests wait for it)."""
        return self._key_settling or bool(self._held_keys)

    async def on_event(self, event: events.Event) -> None:
        """Hold a key or paste while an earlier one settles; hand on everything else."""
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:
            if self._key_settling:
                self._held_keys.append(event)
                return
            await self._handle_in_turn(event)
            return
        await super().on_event(event)

    async def _handle_in_turn(self, event: events.Key | events.Paste) -> None:
        self._key_settling = True
        before = set(self.workers)
        await super().on_event(event)
        started = time.monotonic()
        # Behind the key in the app's queue: the key has reached its target by then.
        self.call_later(self._let_next_through, before, started)

    def _let_next_through(self, before: set[Worker[Any]], started: float) -> None:
        waited = time.monotonic() - started
        busy = not self._key_settled(before, waited)
        if busy and waited < HOLD_AT_MOST_S:
            self.set_timer(LOOK_AGAIN_S, lambda: self._let_next_through(before, started))
            return
        self._key_settling = False
        if self._held_keys:
            held = self._held_keys.popleft()
            self._key_settling = True  # keys arriving meanwhile queue behind the held ones
            self.call_later(self._handle_held, held)

    async def _handle_held(self, event: events.Key | events.Paste) -> None:
        await self._handle_in_turn(event)

    def _key_settled(self, before: set[Worker[Any]], waited: float) -> bool:
        """Whether the last key's effects are all in: queues empty, its workers done."""
        if not all(node._message_queue.empty() for node in self._key_nodes()):
            return False
        if waited >= WORKER_WAIT_S:
            return True
        return not any(w.state in _RUNNING for w in self.workers if w not in before)

    def _key_nodes(self) -> Iterable[MessagePump]:
        yield self
        yield from self.screen.walk_children(with_self=True)


__all__ = ["KeysInOrder"]
