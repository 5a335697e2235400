"""Driving the real console headless: keys in, frames out, the time in between.

Runs inside the benchmark's child processes (`tests.bench.child`), so each console figure
gets a fresh interpreter as a real console does, away from the benchmark's own memory.

What a timed key press includes: from just before the key event is handed to the driver
(`Driver.send_message`, the hop a terminal's input thread makes) to the first frame
(`tests.bench.frames`) in which the table shows the expected row with its record: key
dispatch, binding, action, any page read in a worker thread and its message back,
layout, rendering the changed lines and encoding them. Not included: the terminal reading
the key, and writing the frame out. Between timed presses the harness waits, untimed, for
workers and messages to finish and then one frame period (1/MAX_FPS), as a person's next
key comes after the screen has answered. Textual paints at most MAX_FPS times a second,
so a key arriving sooner after the last frame (a held-down key) also waits for the next
frame slot: the stall figure presses keys that way; the latency figures do not.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import unicodedata
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from textual import constants, events
from textual.app import App
from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key
from textual.pilot import Pilot
from textual.widgets import Input
from textual.worker import WorkerCancelled, WorkerFailed

from data.actor import Actor
from data.config import normalise_url
from data.database import Database
from data.records import PageRequest
from data.transfer import import_records, write_records
from tests.bench.frames import stamp_frames
from tests.console_support import wait_until
from tui.app import AccessGuardApp
from tui.live import LIVE_GROUP
from tui.screens.form import RecordForm
from tui.widgets.record_table import RecordTable

SIZE = (120, 40)
FRAME_PERIOD_S = 1 / constants.MAX_FPS
FRAME_TIMEOUT_S = 60.0
BENCH_ACTOR = Actor(os_user="accessguard-bench", source="console:bench")
WARM_SWITCHES = 20
# A held-down key repeats about 30 times a second; typing is slower.
AUTOREPEAT_S = 0.033
TYPING_S = 0.08
QUIET_ROUNDS = 20
STALL_TIMER_S = 0.010
STALL_SEARCH = "ana"
STALL_BURST = 10
STALL_EXPORT_ROWS = 100_000

Condition = Callable[[], bool]


def key_event(key: str) -> events.Key:
    """The event a terminal driver posts for ``key``, built as Textual's own pilot does."""
    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    original = REPLACED_KEYS.get(key, key)
    character: str | None
    try:
        character = unicodedata.lookup(_get_unicode_name_from_key(original))
    except KeyError:
        character = key if len(key) == 1 else None
    return events.Key(key, character)


class Console:
    """The real app, run headless, with every frame it puts out timestamped."""

    def __init__(self, app: AccessGuardApp, pilot: Pilot[None]) -> None:
        self.app = app
        self.pilot = pilot
        self.frames = 0
        self._waiting: list[tuple[Condition, asyncio.Future[int]]] = []
        stamp_frames(app, self._on_frame)
        # Full collections (generation 2), as (start, end): a pause of the whole process
        # that lands inside some presses. Recorded so the results can say how many.
        self.full_collections: list[tuple[int, int]] = []
        self._collecting_since = 0
        gc.callbacks.append(self._on_collection)
        self.last_press = (0, 0)

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        now = time.perf_counter_ns()
        if phase == "start":
            self._collecting_since = now
        else:
            self.full_collections.append((self._collecting_since, now))

    def collected_during_last_press(self) -> float:
        """Milliseconds of full garbage collection inside the last timed press (0 if none)."""
        begin, end = self.last_press
        return sum(
            (min(end, stop) - max(begin, start)) / 1e6
            for start, stop in self.full_collections
            if start < end and stop > begin
        )

    def _on_frame(self, _app: App[Any], perf_ns: int, _wall_ns: int) -> None:
        self.frames += 1
        waiting = []
        for condition, future in self._waiting:
            if future.done():
                continue
            if condition():
                future.set_result(perf_ns)
            else:
                waiting.append((condition, future))
        self._waiting = waiting

    def send(self, key: str) -> None:
        """Hand ``key`` to the driver, as the terminal's input thread would, and return."""
        driver = self.app._driver
        assert driver is not None, "the app is not running"
        driver.send_message(key_event(key))

    async def press(self, key: str, shows: Condition, what: str) -> int:
        """Press ``key``; nanoseconds until the first frame after which ``shows()`` holds."""
        frame: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((shows, frame))
        begin = time.perf_counter_ns()
        self.send(key)
        try:
            end = await asyncio.wait_for(frame, FRAME_TIMEOUT_S)
        except TimeoutError:
            raise RuntimeError(f"{key}: no frame showed {what} in {FRAME_TIMEOUT_S:g} s") from None
        self.last_press = (begin, end)
        return end - begin

    async def quiet(self) -> None:
        """Untimed: workers done, their messages handled, and one frame period gone by.

        Lighter than `tests.console_support.settle`, whose ``pilot.pause()`` waits for the
        whole process to look idle: on a busy machine that takes a second a press.
        """
        for _ in range(QUIET_ROUNDS):
            # A failed worker shows up in the figure as a frame that never comes; a cancelled
            # one was replaced by a newer read (a burst of keys), as the table intends.
            # The live views' watcher runs as long as the console: never waited for.
            workers = [w for w in self.app.workers if w.group != LIVE_GROUP]
            with suppress(WorkerFailed, WorkerCancelled):
                if workers:
                    await self.app.workers.wait_for_complete(workers)
            await self.pilot._wait_for_screen()
            if all(worker.is_finished for worker in workers):
                break
        await asyncio.sleep(FRAME_PERIOD_S)

    def table(self) -> RecordTable | None:
        """The record table of the screen in front, if it has one."""
        for table in self.app.screen.query(RecordTable):
            return table
        return None

    def loaded_table(self) -> RecordTable:
        """The table in front, which must be showing records."""
        table = self.table()
        if table is None or table.cursor_record is None:
            raise RuntimeError("the console shows no records")
        return table


def showing(console: Console, mode: str) -> Condition:
    """True once the ``mode`` screen is in front with records in its table."""

    def shown() -> bool:
        table = console.table()
        return (
            console.app.current_mode == mode
            and table is not None
            and table.loaded_once
            and table.cursor_record is not None
        )

    return shown


def at_row(table: RecordTable, row: int) -> Condition:
    """True once the cursor is on absolute ``row`` and that row's record is loaded."""
    return lambda: table.cursor_row == row and table.cursor_record is not None


def on_record(table: RecordTable, record_id: int) -> Condition:
    """True once the cursor is on the record with ``record_id``."""
    return lambda: getattr(table.cursor_record, "id", None) == record_id


def record_id(table: RecordTable) -> int:
    """The id of the record under the cursor, which must be loaded."""
    record = table.cursor_record
    if record is None:
        raise RuntimeError("no record under the cursor")
    return int(record.id)


def body_height(table: RecordTable) -> int:
    """Rows one PgDn moves (the table's height less its header, as action_page_down does)."""
    return max(1, table.scrollable_content_region.height - 1)


async def started(app: AccessGuardApp, pilot: Pilot[None]) -> Console:
    """The console once its first screen shows records and every worker has finished."""
    console = Console(app, pilot)
    await wait_until(pilot, showing(console, "users"), seconds=FRAME_TIMEOUT_S)
    await console.quiet()
    return console


def new_app(url: str) -> tuple[AccessGuardApp, Database]:
    """The real console over ``url``, acting as the benchmark's admin."""
    db = Database.connect(normalise_url(url))
    return AccessGuardApp(db, actor=BENCH_ACTOR), db


# Open a view, key to repaint


async def open_view(console: Console) -> dict[str, Any]:
    """Users -> Products: the first switch (the screen is built) and warm switches back."""
    cold = await console.press("2", showing(console, "products"), "Products rows")
    await console.quiet()
    warm = []
    for _ in range(WARM_SWITCHES):
        await console.press("1", showing(console, "users"), "Users rows")
        await console.quiet()
        warm.append(await console.press("2", showing(console, "products"), "Products rows"))
        await console.quiet()
    await console.press("1", showing(console, "users"), "Users rows")
    await console.quiet()
    return {"cold_ns": cold, "warm_ns": warm}


async def key_repaint(console: Console, db: Database, presses: int) -> dict[str, Any]:
    """``presses`` timed presses each of down, PgDn, G and g on the Users table.

    Next to each list of durations, ``<name>_gc_ms`` holds how much of each press was a
    full garbage collection: the pauses are the app's own, but worth telling apart.
    """
    table = console.loaded_table()
    # Off the event loop, like every read of the console's own.
    first_page = await asyncio.to_thread(db.users.page, PageRequest(limit=1))
    last_page = await asyncio.to_thread(db.users.page, PageRequest(from_end=True, limit=1))
    first, last = first_page.records[0].id, last_page.records[-1].id
    result: dict[str, Any] = {}

    async def timed(name: str, key: str, shows: Condition, what: str) -> None:
        elapsed = await console.press(key, shows, what)
        result.setdefault(f"{name}_ns", []).append(elapsed)
        result.setdefault(f"{name}_gc_ms", []).append(console.collected_during_last_press())
        await console.quiet()

    await _to_top(console, table, first)
    for _ in range(presses):
        row = table.cursor_row + 1
        await timed("down", "down", at_row(table, row), f"row {row}")

    await _to_top(console, table, first)
    wraps = 0
    for _ in range(presses):
        row, wrapped = await _page_down_target(console, table, first)
        wraps += wrapped
        await timed("pagedown", "pagedown", at_row(table, row), f"row {row}")

    await _to_top(console, table, first)
    for _ in range(presses):
        await timed("end", "G", on_record(table, last), f"record {last}")
        await timed("top", "g", on_record(table, first), f"record {first}")
    return result | {
        "pagedown_wraps": wraps,
        "body_height": body_height(table),
        "total": table.total,
    }


async def _page_down_target(console: Console, table: RecordTable, first: int) -> tuple[int, bool]:
    """The row one PgDn lands on; at the end of a small table, back to the top first (untimed)."""
    row = table.cursor_row + body_height(table)
    if table.total is None or row <= table.total - 1:
        return row, False
    await _to_top(console, table, first)
    return table.cursor_row + body_height(table), True


async def _to_top(console: Console, table: RecordTable, first: int) -> None:
    if table.cursor_row != 0 or getattr(table.cursor_record, "id", None) != first:
        await console.press("g", on_record(table, first), "the first record")
    await console.quiet()


# Memory


async def browse(console: Console) -> None:
    """What the memory figure does before reading RSS: PgDn x50, G, g, a search."""
    table = console.loaded_table()
    first = record_id(table)
    for _ in range(50):
        row, _wrapped = await _page_down_target(console, table, first)
        await console.press("pagedown", at_row(table, row), f"row {row}")
        await console.quiet()
    for key in ("G", "g"):
        console.send(key)
        await console.quiet()
    await _search(console, STALL_SEARCH)
    await console.quiet()


# Event-loop stall


@dataclass
class Background:
    """Export, then import, in a thread of the console's process; when each ran."""

    db: Database
    export_to: Path
    import_from: Path
    phases: dict[str, tuple[int, int]] = field(default_factory=dict)
    error: BaseException | None = None

    def export(self) -> None:
        self._timed("export", self._export)

    def import_(self) -> None:
        self._timed("import", self._import)

    def _export(self) -> None:
        # What export_records does, stopped after STALL_EXPORT_ROWS: the loop sees the same
        # page-by-page work whether the file ends up with 100,000 rows or a million.
        table = self.db.users
        rows = islice(table.stream(PageRequest()), STALL_EXPORT_ROWS)
        with self.export_to.open("w", newline="", encoding="utf-8") as out:
            write_records(table.spec, rows, out, fmt="csv")

    def _import(self) -> None:
        with self.import_from.open(newline="", encoding="utf-8") as source:
            report = import_records(
                self.db, "users", source, fmt="csv", actor=BENCH_ACTOR, dry_run=False
            )
        if not report.applied:
            raise RuntimeError(f"the stall figure's import was refused: {report.refused[:1]}")

    def _timed(self, name: str, work: Callable[[], None]) -> None:
        begin = time.perf_counter_ns()
        try:
            work()
        except BaseException as error:  # reported by the figure, never lost in the thread
            self.error = error
        self.phases[name] = (begin, time.perf_counter_ns())


async def stall(console: Console, background: Background) -> dict[str, Any]:
    """The longest gap of a 10 ms timer while the admin works and export/import run."""
    ticks: list[int] = []
    timer = console.app.set_interval(STALL_TIMER_S, lambda: ticks.append(time.perf_counter_ns()))
    begin = time.perf_counter_ns()
    passes = {"export": 0, "import": 0}
    for phase, work, saving in (
        ("export", background.export, True),
        ("import", background.import_, False),
    ):
        # Saving during the import would wait out the busy timeout behind its write
        # transaction and fail: the import holds the write lock until it commits.
        thread = threading.Thread(target=work, name=f"bench-{phase}", daemon=True)
        thread.start()
        while thread.is_alive() or passes[phase] == 0:
            await _work_like_an_admin(console, save=saving, number=sum(passes.values()))
            passes[phase] += 1
        thread.join()
    timer.stop()
    end = time.perf_counter_ns()
    if background.error is not None:
        raise background.error
    return {
        "ticks_ns": ticks,
        "begin_ns": begin,
        "end_ns": end,
        "phases_ns": background.phases,
        "passes": passes,
        "full_gc_ms": [
            (stop - start) / 1e6 for start, stop in console.full_collections if start >= begin
        ],
    }


async def _work_like_an_admin(console: Console, *, save: bool, number: int) -> None:
    """One round of what an admin does: page bursts, both ends, a search, an edit."""
    for _ in range(STALL_BURST):
        console.send("pagedown")
        await asyncio.sleep(AUTOREPEAT_S)
    await console.quiet()
    for key in ("G", "g"):
        console.send(key)
        await console.quiet()
    await _search(console, STALL_SEARCH)
    console.send("escape")
    await console.quiet()
    if save:
        await _edit_and_save(console, f"Stall Test {number}")


async def _search(console: Console, text: str) -> None:
    console.send("slash")
    await console.quiet()
    for character in text:
        console.send(character)
        await asyncio.sleep(TYPING_S)
    console.send("enter")
    await console.quiet()


async def _edit_and_save(console: Console, name: str) -> None:
    """Open the record under the cursor, retype its name, save, wait for the form to go."""
    app = console.app
    editing = record_id(console.loaded_table())
    console.send("e")
    await wait_until(console.pilot, lambda: isinstance(app.screen, RecordForm))
    await console.quiet()
    field = app.screen.query_one("#field-name", Input)
    field.focus()
    field.value = ""
    for character in name:
        console.send(character)
        await asyncio.sleep(TYPING_S)
    console.send("ctrl+s")
    await wait_until(console.pilot, lambda: not isinstance(app.screen, RecordForm))
    await console.quiet()
    # The form also closes when there is nothing to save: make sure this was a real write.
    stored = await asyncio.to_thread(app.db.users.get, editing)
    if stored.name != name:
        raise RuntimeError(f"the edit of user {editing} was not saved ({stored.name!r})")
