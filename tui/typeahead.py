"""Keys that arrive together are handled as if typed one at a time.

Textual 8.2.8 forwards each key to the widget focused *when the app reads the key*. A key
that opens an input (``/`` the search, ``e`` a form, ``u`` a confirm) only moves the focus
once its action has run in the focused widget's own message queue and the new focus is
set through the app's queue; the keys that came in the same read (type-ahead on a slow
link, a paste, a script) were forwarded long before, to the old focus: ``/guo`` ran ``g``,
``u`` and ``o`` on the table instead of searching for "guo".

`KeysInOrder` holds each key (and paste) back until the one before it has settled: every
message queue of the app and of the screen on top is empty, and the workers the key
started (a dialog that reads first, like undo's plan) have ended or had `WORKER_WAIT_S`;
writes excepted, which may wait on a lock while the keys must answer.
A key typed alone meets an idle console and passes at once; only a backlog waits.

Upstream, the same belongs in `App.on_event`: forward an unforwarded key only once the
previous key's target has processed it and the focus it asked for is set (Textual has the
pieces: `Pilot._wait_for_screen` waits the same way for tests).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from textual import events
from textual.app import App
from textual.message_pump import MessagePump
from textual.worker import Worker, WorkerState

# How long a held key waits for the workers the key before it started (a plan to read,
# a record to load); past it, the key goes on to whatever has the focus then.
WORKER_WAIT_S = 2.0
# How often a held key looks again at those workers.
LOOK_AGAIN_S = 0.01
# Rounds of "let every queue work through what it holds" before a key is let through
# whatever is still busy (a timer that keeps posting, say): late is better than lost.
ROUNDS_AT_MOST = 20
ROUND_AT_MOST_S = 5.0

_RUNNING = (WorkerState.PENDING, WorkerState.RUNNING)
# Writes are not waited for: one may wait seconds for another writer's lock, and the keys
# typed meanwhile must answer at once (moving in the form, Escape), as they do when typed
# one at a time. What a key opens is read by the other workers (a plan, a record).
WRITE_GROUPS = frozenset({"write", "form-write"})


class KeysInOrder(App[None]):
    """An app whose keys, however fast they come, each land where the one before left the focus."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held_keys: deque[events.Key | events.Paste] = deque()
        self._key_settling = False
        self._key_waiter: asyncio.Task[None] | None = None

    @property
    def keys_waiting(self) -> bool:
        """Whether keys are held back until an earlier key has settled (tests wait for it)."""
        if self._closing or self._closed:
            return False
        return self._key_settling or bool(self._held_keys)

    async def keys_handed_on(self) -> None:
        """Return once no key is held back any more, or the app has failed and will hand
        none on (tests settle on it)."""
        while self.keys_waiting and self._exception is None:
            waiter = self._key_waiter
            if waiter is not None and not waiter.done():
                await asyncio.wait({waiter})
            else:  # the next key is let through by a callback in the app's own queue
                await asyncio.sleep(0)

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
        # Waits in a task of its own: what it waits for runs in the app's queue, too.
        self._key_waiter = asyncio.create_task(self._settle_then_let_through(before))

    async def _settle_then_let_through(self, before: set[Worker[Any]]) -> None:
        deadline = time.monotonic() + WORKER_WAIT_S
        for _ in range(ROUNDS_AT_MOST):
            if self._closing or self._closed:
                # Quitting: the held keys have nowhere to go.
                self._held_keys.clear()
                self._key_settling = False
                return
            started = [
                worker
                for worker in self.workers
                if worker not in before
                and worker.state in _RUNNING
                and worker.group not in WRITE_GROUPS
            ]
            if started and time.monotonic() < deadline:
                await asyncio.sleep(LOOK_AGAIN_S)
                continue
            if await self._queues_worked_through():
                break
        self.call_later(self._let_next_through)

    async def _queues_worked_through(self) -> bool:
        """Let the app and every node of the screen on top handle what they hold now;
        True if they held nothing (the last key's effects are all in)."""
        # What worker threads posted (through call_soon_threadsafe) lands in the queues first.
        await asyncio.sleep(0)
        nodes: list[MessagePump] = [self, *self.screen.walk_children(with_self=True)]
        quiet = all(node._message_queue.empty() for node in nodes)
        await handled_what_they_hold(nodes, within_s=ROUND_AT_MOST_S)
        return quiet

    async def _let_next_through(self) -> None:
        self._key_waiter = None
        if not self._held_keys:
            self._key_settling = False
            return
        await self._handle_in_turn(self._held_keys.popleft())


async def handled_what_they_hold(
    nodes: list[MessagePump], *, within_s: float, idle_too: bool = False
) -> bool:
    """Wait until each of ``nodes`` has handled what was posted to it before this call;
    False if some had not within ``within_s``.

    A node whose loop waits for its next message has handled everything already and is
    passed over (unless ``idle_too``: then each handles a marker, and goes through the
    idle round that follows one); each of the others is posted a marker and waited for.
    (Nearly all nodes are idle: a marker for each cost two dispatches a node, ~12% of a
    console test's CPU.) The marker is a Python function, not a builtin such as a future's
    ``set_result``: Textual reads a callback's signature at every call, and a builtin's is
    parsed from text (~0.1 ms a node, on every key).
    """
    all_handled = asyncio.Event()
    waiting = 0

    def handled() -> None:
        nonlocal waiting
        waiting -= 1
        if not waiting:
            all_handled.set()

    for node in nodes:
        if (idle_too or not _waits_for_a_message(node)) and node.call_later(handled):
            waiting += 1
    if not waiting:
        return True
    try:
        await asyncio.wait_for(all_handled.wait(), within_s)
    except TimeoutError:
        return False
    return True


def _waits_for_a_message(node: MessagePump) -> bool:
    """Whether ``node``'s message loop is parked in its queue's ``get``: nothing queued and
    nothing being handled (the loop leaves the wait before it takes a message)."""
    # Textual 8.2.8's queue: `values` (a deque) and `ready_event`, which the loop waits on
    # when `values` is empty; an asyncio.Event lists its waiters until they wake.
    ready: asyncio.Event = node._message_queue.ready_event
    return not node._message_queue.values and bool(ready._waiters)


__all__ = ["KeysInOrder", "handled_what_they_hold"]
