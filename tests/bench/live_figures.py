"""Live views: how soon a change committed elsewhere is on a watching console's screen, and
what a console costs while it watches and nothing happens.

The console runs as the admin runs it, on a pseudo-terminal; the writer is the data core in
this process (another console or the CLI writes the same audit entries). Latency runs from
just before the writer's commit to the moment the new value is among the bytes the console
wrote to its terminal. The idle cost is the console's CPU time over ten quiet seconds.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

from data.actor import Actor
from data.config import normalise_url
from data.database import Database
from tests.bench.databases import BenchDatabase
from tests.bench.report import Outcome, say, step
from tests.bench.stats import Summary
from tests.reliability.support_input import Terminal

CHANGES = 30
IDLE_S = 10.0
TARGET_S = 2.0
IDLE_TARGET_PERCENT = 1.0
WRITER = Actor(os_user="bench-writer", source="bench")


def live(small: BenchDatabase, large: BenchDatabase, scratch: Path) -> list[Outcome]:
    """Change-to-screen latency p50 / p99 and idle CPU, at both sizes (SQLite copies)."""
    measured = {}
    for label, database in (("small", small), ("large", large)):
        with step(f"live views on {database.rows:,} rows"):
            measured[label] = _measure(database, scratch)
    latency = {label: Summary.of(m[0]) for label, m in measured.items()}
    idle = {label: m[1] for label, m in measured.items()}
    worst = max(summary.p99_ms for summary in latency.values())
    return [
        Outcome(
            family="live",
            figure="change to screen p50 / p99",
            backend="sqlite",
            small=latency["small"].text(),
            large=latency["large"].text(),
            ratio=f"{latency['large'].median_ms / max(latency['small'].median_ms, 0.001):.2f}x",
            target=f"p99 < {TARGET_S:.0f} s",
            passed=worst < TARGET_S * 1000,
            raw={label: summary.as_json() for label, summary in latency.items()},
        ),
        Outcome(
            family="live",
            figure="idle CPU while watching",
            backend="sqlite",
            small=f"{idle['small']:.2f}%",
            large=f"{idle['large']:.2f}%",
            ratio="-",
            target=f"< {IDLE_TARGET_PERCENT:.0f}% of a core",
            passed=max(idle.values()) < IDLE_TARGET_PERCENT,
            raw={"percent_of_one_core": idle, "seconds": IDLE_S},
        ),
    ]


def _measure(database: BenchDatabase, scratch: Path) -> tuple[list[float], float]:
    """(latencies in ns, idle CPU percent) for one console on a copy of ``database``."""
    assert database.path is not None, "the live figure runs on SQLite copies"
    path = scratch / f"live-{database.rows}.db"
    shutil.copyfile(database.path, path)
    url = f"sqlite:///{path}"
    writer = Database.connect(normalise_url(url))
    # A fresh interpreter, as an admin starts it: its idle CPU and latency are the figure.
    terminal = Terminal(url, fresh=True)
    try:
        terminal.wait_for(b" of ")
        _drain(terminal, 2.0)  # the first count and frames
        idle = _idle_percent(terminal)
        first = writer.users.get(1)
        version = first.version
        samples: list[float] = []
        for number in range(CHANGES):
            time.sleep(random.uniform(0.1, 1.0))  # never in step with the watcher's second
            name = f"Live{number:04d}z"
            since = len(terminal.output)
            started = time.perf_counter_ns()
            version = writer.users.update(
                1, {"name": name}, expected_version=version, actor=WRITER
            ).version
            terminal.wait_for(name.encode(), since=since)
            samples.append(time.perf_counter_ns() - started)
        terminal.quit()
        return samples, idle
    finally:
        terminal.close()
        writer.dispose()
        path.unlink(missing_ok=True)


def _drain(terminal: Terminal, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        terminal.read(0.05)


def _idle_percent(terminal: Terminal) -> float:
    """The console's CPU (user + system) over `IDLE_S` quiet seconds, in % of one core."""
    before = _cpu_s(terminal.pid)
    _drain(terminal, IDLE_S)
    used = _cpu_s(terminal.pid) - before
    say(f"  idle: {used:.3f} s of CPU in {IDLE_S:.0f} s")
    return 100 * used / IDLE_S


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")
