"""Full garbage collections wait for a pause in the admin's input (tui/collector.py)."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from data.database import Database
from tests.console_support import CONSOLE_ACTOR, console, demo_database, settle
from tui.app import AccessGuardApp, DatabaseOpener
from tui.cli import main
from tui.cli.database import open_database
from tui.collector import (
    DUE_AFTER,
    FORCED_AFTER,
    QUIET_S,
    TAKES_OVER,
    IdleCollector,
    hold_during_start,
    resume_after_start,
)

pytestmark = pytest.mark.skipif(
    not TAKES_OVER, reason="Python 3.14+: an incremental collector, which IdleCollector leaves be"
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def full_collections() -> Iterator[list[int]]:
    """Generation numbers of the collections that finish while the test runs, full ones only."""
    seen: list[int] = []

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == 2:
            seen.append(2)

    gc.callbacks.append(record)
    try:
        yield seen
    finally:
        gc.callbacks.remove(record)


def _make_full_collection_due() -> None:
    """Make cyclic garbage until enough young collections have run for a full one to be due.

    Cycles, because only objects that outlive their reference counts move CPython's
    counters on 3.13 (garbage freed at once never brings a collection there)."""
    for _ in range(10_000_000):
        cycle: list[object] = []
        cycle.append(cycle)
        if gc.get_count()[2] >= DUE_AFTER:
            return
    raise AssertionError("no young collections ran")


def test_a_full_collection_waits_for_quiet_input(full_collections: list[int]) -> None:
    clock = Clock()
    collector = IdleCollector(clock)
    collector.start()
    try:
        _make_full_collection_due()
        collector.noticed_input()
        clock.now += QUIET_S / 2
        assert not collector.collect_if_idle()
        clock.now += QUIET_S
        assert collector.collect_if_idle()
        assert full_collections == [2]
    finally:
        collector.stop()


def test_a_quiet_console_does_not_collect_without_a_reason(full_collections: list[int]) -> None:
    clock = Clock()
    collector = IdleCollector(clock)
    gc.collect()
    full_collections.clear()
    clock.now += 10 * QUIET_S
    assert not collector.collect_if_idle()
    assert full_collections == []


def test_cpython_keeps_full_collections_only_as_a_late_backstop() -> None:
    before = gc.get_threshold()
    collector = IdleCollector()
    collector.start()
    try:
        assert gc.get_threshold() == (before[0], before[1], FORCED_AFTER)
    finally:
        collector.stop()
    assert gc.get_threshold() == before


async def test_the_console_hands_collections_back_when_it_closes(tmp_path: Path) -> None:
    db = demo_database(tmp_path / "console.db")
    before = gc.get_threshold()
    app = console(db)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            assert gc.get_threshold()[2] == FORCED_AFTER
        assert gc.get_threshold() == before
    finally:
        db.dispose()


# Start-up: no automatic collection until the database is open


async def test_collection_held_while_the_console_starts_resumes_once_the_database_is_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "console.db"
    demo_database(path).dispose()
    go_ahead = threading.Event()

    def open_when_told(_progress: Any) -> Database:
        go_ahead.wait(timeout=30)
        return open_database(f"sqlite:///{path}", read_only=False)

    app = AccessGuardApp(
        DatabaseOpener(where="the test's file", open=open_when_told), actor=CONSOLE_ACTOR
    )
    hold_during_start()  # as the command line does before it loads Textual
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert not app.is_open
            assert not gc.isenabled()
            go_ahead.set()
            await settle(app, pilot)
            assert app.is_open
            assert gc.isenabled()
    finally:
        go_ahead.set()
        resume_after_start()
    app.db.dispose()


def test_a_console_that_does_not_start_leaves_collection_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    # Under pytest the console has no terminal, so it refuses to start (exit 2).
    assert main(["--db", f"sqlite:///{tmp_path / 'console.db'}"]) == 2
    assert "needs a terminal" in capsys.readouterr().err
    assert gc.isenabled()


class Node:
    """Something to make a reference cycle of."""

    def __init__(self) -> None:
        self.me: Node | None = None


def test_garbage_frozen_with_a_held_start_is_collected_at_the_first_pause() -> None:
    clock = Clock()
    collector = IdleCollector(clock)
    hold_during_start()
    try:
        cycle = Node()
        cycle.me = cycle
        left = weakref.ref(cycle)
        del cycle  # garbage only a collection finds, made while collection is held
        collector.settle_after_start()
        assert gc.isenabled()
        gc.collect()
        assert left() is not None  # frozen with what start-up made to last
        collector.noticed_input()
        clock.now += QUIET_S / 2
        assert not collector.collect_if_idle()
        clock.now += QUIET_S
        assert collector.collect_if_idle()
        assert left() is None
        assert not collector.collect_if_idle()  # once
    finally:
        resume_after_start()
        gc.unfreeze()


def test_a_command_collects_as_usual_while_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the console's start holds collection: a command (an import of a million rows)
    must not run with it off."""
    seen: list[bool] = []

    def config_path(_args: Any, _db: Any) -> int:
        seen.append(gc.isenabled())
        return 0

    monkeypatch.setattr("tui.cli.parsing.cmd_config_path", config_path)
    assert main(["config", "path"]) == 0
    assert seen == [True]
    assert gc.isenabled()


def test_the_console_starts_with_collection_held_from_the_command_line_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held from `tui.cli.main`'s first line, before the parser and Textual load, and given
    back when the console returns."""
    seen: list[bool] = []

    def run_console(_raw_url: str | None, **_options: object) -> int:
        seen.append(gc.isenabled())
        return 0

    monkeypatch.setattr("tui.cli.console.run_console", run_console)
    assert main(["--db", f"sqlite:///{tmp_path / 'console.db'}"]) == 0
    assert seen == [False]
    assert gc.isenabled()
