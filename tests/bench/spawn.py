"""Starting a child process (`tests.bench.child`) and reading what it measured.

A child reports its own peak memory (VmHWM from /proc/self/status). The parent's view,
``ru_maxrss`` from ``wait4`` or ``RUSAGE_CHILDREN``, is no use here: Linux counts in it the
pages a forked child shared with its parent before it exec'd, so every child would look
at least as big as the benchmark process itself.
"""

from __future__ import annotations

import compileall
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.bench.child import HEADLESS_DRIVER, SPAWNED_ENV

REPOSITORY = Path(__file__).resolve().parents[2]
STDERR_TAIL = 2_000
# What every child sees: the headless driver and a 120x40 "terminal".
CHILD_ENV = {"TEXTUAL_DRIVER": HEADLESS_DRIVER, "COLUMNS": "120", "LINES": "40"}


def compile_project() -> None:
    """Write the bytecode of tui, data and models, as installing a wheel does.

    Start-up figures time a whole process. With PYTHONDONTWRITEBYTECODE set (as on the
    development machines), a checkout's modules would be compiled from source on every
    start, a cost no installed console pays (and the bare app, all in site-packages, never
    pays), so the figures compile them first.
    """
    for package in ("tui", "data", "models"):
        compileall.compile_dir(REPOSITORY / package, quiet=1)


class ChildFailed(RuntimeError):
    """A child exited with an error or ran out of time; the message ends with its stderr."""


@dataclass(frozen=True)
class ChildRun:
    """What a child reported, how long it ran (spawn to exit) and what it wrote to stderr."""

    result: dict[str, Any]
    seconds: float
    stderr: str


def run_child(kind: str, *options: str, timeout_s: float) -> ChildRun:
    """Run ``python -m tests.bench.child KIND ...`` from the repository root.

    Its spawn time (``time.time_ns()`` just before it starts) is in its environment as
    ``AG_BENCH_SPAWNED_NS``. Raises `ChildFailed` unless it exits 0 in ``timeout_s``.
    """
    with (
        tempfile.TemporaryDirectory(prefix="ag-bench-") as directory,
        tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as stderr,
    ):
        out = Path(directory) / "result.json"
        command = [sys.executable, "-m", "tests.bench.child", kind, "--out", str(out), *options]
        environment = {**os.environ, **CHILD_ENV, SPAWNED_ENV: str(time.time_ns())}
        begin = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=REPOSITORY,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            status = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise ChildFailed(f"the {kind} child was killed after {timeout_s:g} s") from None
        seconds = time.perf_counter() - begin
        stderr.seek(0)
        errors = stderr.read()
        if status != 0:
            tail = errors.strip()[-STDERR_TAIL:]
            raise ChildFailed(f"the {kind} child exited with status {status}: {tail}")
        result = json.loads(out.read_text(encoding="utf-8"))
    return ChildRun(result, seconds, errors)
