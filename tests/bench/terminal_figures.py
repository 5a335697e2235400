"""Start-up on a real terminal, side by side with VisiData: spawn to text on the screen.

The headless figure (`process_figures.startup`) times frames inside the process. VisiData
cannot be timed that way, so here every program runs on a pseudo-terminal of 120x40 and
the parent reads what it draws until a known text appears: the bare app's Static, and the
first user's name (the lowest id: both the console and VisiData show users by id) for the
console and for VisiData (``vd -N FILE +0:users::``, the users table of the same file).
The console is started as an admin starts it (``python -m tui --db URL``); each program is
sent SIGTERM as soon as its text has appeared. Programs run interleaved, after one
untimed run each; medians.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from tests.bench.databases import BenchDatabase
from tests.bench.report import Outcome, failed, step
from tests.bench.spawn import REPOSITORY, compile_project
from tests.bench.stats import median, ms

RUNS = 7
COLUMNS, LINES = 120, 40
RUN_TIMEOUT_S = 120.0
READ_CHUNK = 65_536
TAIL = 600
BARE_TEXT = "AccessGuard"  # the bare app's Static (tests.bench.child)


class NeverShown(RuntimeError):
    """A program exited or ran out of time before drawing the text."""


@dataclass(frozen=True)
class Program:
    """A command to start on the terminal and the text that means it has drawn its rows."""

    label: str
    command: tuple[str, ...]
    shows: str


def startup_on_a_terminal(small: BenchDatabase, large: BenchDatabase) -> list[Outcome]:
    """Spawn to text on a pty: bare app, console and VisiData (if installed), both sizes."""
    family = "startup-terminal"
    if small.path is None or large.path is None:
        return [failed(family, "start-up on a terminal", large.backend, "-", "SQLite only")]
    bare_app = (sys.executable, "-m", "tests.bench.child", "startup-bare", "--stay")
    programs = [Program("bare", bare_app, BARE_TEXT)]
    files = {"small": (small.path, small.url_text), "large": (large.path, large.url_text)}
    for size, (path, url) in files.items():
        console = (sys.executable, "-m", "tui", "--db", url)  # as an admin starts it
        programs.append(Program(f"console {size}", console, _first_name(path)))
    has_visidata = importlib.util.find_spec("visidata") is not None
    if has_visidata:
        for size, (path, _url) in files.items():
            vd = (sys.executable, "-m", "visidata", "-N", str(path), "+0:users::")
            programs.append(Program(f"visidata {size}", vd, _first_name(path)))
    compile_project()
    samples: dict[str, list[float]] = {program.label: [] for program in programs}
    with (
        tempfile.TemporaryDirectory(prefix="ag-bench-pty-") as scratch,
        step(f"start-up on a terminal: {RUNS} runs each of {len(programs)} programs"),
    ):
        for program in programs:  # untimed: warm file cache and bytecode
            _time_to_text(program, Path(scratch))
        for _ in range(RUNS):
            for program in programs:
                samples[program.label].append(_time_to_text(program, Path(scratch)))
    medians = {label: median(values) for label, values in samples.items()}
    bare = medians["bare"]
    outcomes = [
        Outcome(
            family=family,
            figure="start-up on a terminal (pty): bare app, text shown",
            backend="-",
            small=ms(bare),
            large="-",
            ratio="-",
            target="baseline (median)",
            passed=None,
            raw={"ms": samples["bare"]},
        ),
        _row(family, "console: first rows shown", "console", medians, samples, bare),
    ]
    if has_visidata:
        outcomes.append(
            _row(
                family,
                f"VisiData {version('visidata')}: first rows shown",
                "visidata",
                medians,
                samples,
                bare,
            )
        )
        ratio = medians["console large"] / medians["visidata large"]
        outcomes.append(
            Outcome(
                family=family,
                figure="start-up on a terminal: console / VisiData, first rows",
                backend="sqlite",
                small=f"{medians['console small'] / medians['visidata small']:.2f}x",
                large=f"{ratio:.2f}x",
                ratio=f"{ratio:.2f}x",
                target="info (issue: VisiData in about half our time)",
                passed=None,
            )
        )
    else:
        outcomes.append(
            failed(family, "start-up on a terminal: VisiData", "sqlite", "info", "not installed")
        )
    return outcomes


def _row(
    family: str,
    figure: str,
    prefix: str,
    medians: dict[str, float],
    samples: dict[str, list[float]],
    bare: float,
) -> Outcome:
    small, large = medians[f"{prefix} small"], medians[f"{prefix} large"]
    return Outcome(
        family=family,
        figure=f"start-up on a terminal: {figure} (median of {RUNS})",
        backend="sqlite",
        small=f"{ms(small)} ({small / bare:.2f}x)",
        large=f"{ms(large)} ({large / bare:.2f}x)",
        ratio=f"{large / small:.2f} large/small",
        target="info (vs bare app's text)",
        passed=None,
        raw={size: samples[f"{prefix} {size}"] for size in ("small", "large")},
    )


def _first_name(path: Path) -> str:
    """The name of the user with the lowest id: the first row both programs show."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        row = connection.execute("SELECT name FROM users ORDER BY id LIMIT 1").fetchone()
    if row is None:
        raise NeverShown(f"{path} holds no users")
    return str(row[0])


def _time_to_text(program: Program, scratch: Path) -> float:
    """Milliseconds from spawn until ``program.shows`` appears on its terminal."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("TEXTUAL_DRIVER", "COLUMNS", "LINES")
    }
    environment["TERM"] = "xterm-256color"
    if program.label.startswith("visidata"):
        environment["HOME"] = str(scratch)  # VisiData writes its command log under HOME
    # The start-up children take their spawn time from here, as in the headless figure.
    spawned_ns = time.time_ns()
    environment["AG_BENCH_SPAWNED_NS"] = str(spawned_ns)
    command = list(program.command)
    if command[1:3] == ["-m", "tests.bench.child"]:
        command[4:4] = ["--out", str(scratch / "result.json")]
    process = subprocess.Popen(
        command,
        cwd=REPOSITORY,
        env=environment,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        start_new_session=True,
    )
    os.close(follower)
    try:
        return _read_until(leader, process, program.shows.encode(), spawned_ns, program.label) / 1e6
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        _drain(leader, process)
        os.close(leader)


def _read_until(
    leader: int, process: subprocess.Popen[Any], text: bytes, spawned_ns: int, label: str
) -> int:
    """Nanoseconds from spawn to the read that completed ``text`` in the output."""
    seen = b""
    said = b""  # the last of the output, for the error
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            chunk = os.read(leader, READ_CHUNK)
        except OSError:  # the program closed the terminal
            break
        now = time.time_ns()
        # Keep a tail as long as the text, so a text split over two reads is still found.
        seen = seen[-len(text) :] + chunk
        said = (said + chunk)[-TAIL:]
        if text in seen:
            return now - spawned_ns
    try:
        status = process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        status = None
    tail = said.decode("utf-8", "replace")
    raise NeverShown(f"{label} never showed {text!r} (exit status {status}); it wrote: {tail!r}")


def _drain(leader: int, process: subprocess.Popen[Any]) -> None:
    """Read until the program has exited, so it never blocks writing to a full terminal."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while process.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                os.read(leader, READ_CHUNK)
            except OSError:
                break
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
