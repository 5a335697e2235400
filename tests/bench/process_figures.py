"""Figures that need fresh processes: memory, start-up, export.

Memory and start-up are about a whole process (what it imported, what it still holds), so
each measurement is a new child (`tests.bench.child`); export runs the real command line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from data.config import normalise_url
from data.database import Database
from data.schema import upgrade
from tests.bench.data_figures import write_users_csv
from tests.bench.databases import BenchDatabase
from tests.bench.report import Outcome, failed, step
from tests.bench.spawn import ChildRun, compile_project, run_child
from tests.bench.stats import median, ms

MEMORY_RATIO = 1.2
MEMORY_MAX_MB = 100.0
# 20, not 10: on a machine whose speed comes and goes in bursts, ten runs each moved the
# ratio by up to 0.2 from one run of the benchmark to the next.
STARTUP_RUNS = 20
PAINT_RATIO = 1.2
# First rows: within 1.2x the bare app's first paint, and the same at 1M as at 1k.
DATA_RATIO = 1.2
DATA_LARGE_SMALL = 1.2
# What the console's child stamps between spawn and its first rows, in order.
PHASES = ("textual_ms", "paint_ms", "data_ms", "imported_ms", "opened_ms", "core_rows_ms")
EXPORT_RATIO = 1.2
IMPORT_MAX_MB = 300.0
CHILD_TIMEOUT_S = 600.0
STARTUP_TIMEOUT_S = 120.0
KIB_PER_MB = 1024


def memory(small: BenchDatabase, large: BenchDatabase) -> list[Outcome]:
    """Peak RSS of a console that browsed the large table vs one that browsed the small."""
    target = f"large/small <= {MEMORY_RATIO:g}x; <= {MEMORY_MAX_MB:g} MB"
    runs: dict[str, ChildRun] = {}
    for size, database in (("small", small), ("large", large)):
        with step(f"memory of a console browsing {database.backend} {database.rows:,}"):
            runs[size] = run_child("memory", "--url", database.url_text, timeout_s=CHILD_TIMEOUT_S)
    peak = {size: run.result["peak_kib"] / KIB_PER_MB for size, run in runs.items()}
    now = {size: run.result["current_kib"] / KIB_PER_MB for size, run in runs.items()}
    ratio = peak["large"] / peak["small"]
    return [
        Outcome(
            family="memory",
            figure="memory: peak RSS browsing",
            backend=large.backend,
            small=f"{peak['small']:.0f} MB (now {now['small']:.0f})",
            large=f"{peak['large']:.0f} MB (now {now['large']:.0f})",
            ratio=f"{ratio:.2f}",
            target=target,
            passed=ratio <= MEMORY_RATIO and peak["large"] <= MEMORY_MAX_MB,
            raw={size: run.result for size, run in runs.items()},
        )
    ]


def startup(small: BenchDatabase, large: BenchDatabase) -> list[Outcome]:
    """Spawn to first paint and to first rows, vs a bare Textual app in the same run."""
    family = "startup"
    kinds = {
        "bare": ("startup-bare",),
        "small": ("startup-console", "--url", small.url_text),
        "large": ("startup-console", "--url", large.url_text),
    }
    samples: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    compile_project()
    with step(f"start-up: {STARTUP_RUNS} runs each of a bare app and the console at both sizes"):
        # One untimed run of each first: compiled bytecode and the OS file cache are then
        # as warm as they are for an admin who has started the console before.
        for options in kinds.values():
            run_child(*options, timeout_s=STARTUP_TIMEOUT_S)
        # Interleaved, so a burst of load on the machine hits all three alike.
        for _ in range(STARTUP_RUNS):
            for kind, options in kinds.items():
                samples[kind].append(run_child(*options, timeout_s=STARTUP_TIMEOUT_S).result)
    drivers = {run["driver"] for runs in samples.values() for run in runs}
    if drivers != {"HeadlessDriver"}:
        reason = f"children ran with {sorted(drivers)}, not the headless driver"
        return [failed(family, "start-up", large.backend, "-", reason)]
    bare = median([run["paint_ms"] for run in samples["bare"]])
    outcomes = [
        Outcome(
            family=family,
            figure="start-up: bare Textual app, 1st paint",
            backend="-",
            small=ms(bare),
            large="-",
            ratio="-",
            target="baseline (median)",
            passed=None,
            raw={"paint_ms": [run["paint_ms"] for run in samples["bare"]]},
        )
    ]
    for label, name, limit in (
        ("first paint", "paint_ms", PAINT_RATIO),
        ("first data", "data_ms", DATA_RATIO),
    ):
        values = {size: median([run[name] for run in samples[size]]) for size in ("small", "large")}
        worst = max(values.values()) / bare
        large_small = values["large"] / values["small"]
        judged_sizes = name == "data_ms"
        outcomes.append(
            Outcome(
                family=family,
                figure=f"start-up: {label} (median of {STARTUP_RUNS})",
                backend=large.backend,
                small=f"{ms(values['small'])} ({values['small'] / bare:.2f}x)",
                large=f"{ms(values['large'])} ({values['large'] / bare:.2f}x)",
                ratio=f"{worst:.2f}x bare"
                + (f"; large/small {large_small:.2f}" if judged_sizes else ""),
                target=f"<= {limit:g}x bare"
                + (f"; large/small <= {DATA_LARGE_SMALL:g}" if judged_sizes else ""),
                passed=worst <= limit and (not judged_sizes or large_small <= DATA_LARGE_SMALL),
                raw={size: [run[name] for run in samples[size]] for size in ("small", "large")},
            )
        )
    outcomes.append(_run_by_run(samples))
    outcomes.append(_phases(samples, bare))
    return outcomes


def _run_by_run(samples: dict[str, list[dict[str, Any]]]) -> Outcome:
    """The first rows over the bare app's paint of the same round, round by round.

    A burst of load slows a whole round alike (the three run one after another), so these
    ratios move less than the medians' do: information beside the verdict, not the verdict.
    """
    ratios = {
        size: [
            console["data_ms"] / bare["paint_ms"]
            for console, bare in zip(samples[size], samples["bare"], strict=True)
        ]
        for size in ("small", "large")
    }
    return Outcome(
        family="startup",
        figure=f"start-up: first rows / the same round's bare paint (median of {STARTUP_RUNS})",
        backend="sqlite",
        small=f"{median(ratios['small']):.2f}x",
        large=f"{median(ratios['large']):.2f}x",
        ratio="-",
        target="info",
        passed=None,
        raw=ratios,
    )


def _phases(samples: dict[str, list[dict[str, Any]]], bare: float) -> Outcome:
    """Where the console's start-up goes: the median moment of each step, from spawn."""

    def steps(size: str) -> str:
        moments = [median([run[phase] for run in samples[size]]) for phase in PHASES]
        return " / ".join(f"{moment:.0f}" for moment in moments)

    return Outcome(
        family="startup",
        figure="start-up, ms from spawn: Textual+tui.app / paint / rows / data core / open / rows",
        backend="sqlite",
        small=steps("small"),
        large=steps("large"),
        ratio="-",
        target=f"info (bare app paints at {bare:.0f})",
        passed=None,
        raw={
            size: {phase: [run[phase] for run in samples[size]] for phase in PHASES}
            for size in ("small", "large")
        },
    )


def export(ten_thousand: BenchDatabase, large: BenchDatabase, scratch: Path) -> list[Outcome]:
    """``python -m tui export users -o FILE`` at 10k and at full size: peak RSS and time."""
    family, figure = "export", "export users to CSV: peak RSS"
    target = f"large/10k <= {EXPORT_RATIO:g}x (streamed)"
    runs: dict[str, ChildRun] = {}
    for size, database in (("10k", ten_thousand), ("large", large)):
        out = scratch / f"export-{database.rows}.csv"
        cli = ["--db", database.url_text, "export", "users", "-o", str(out)]
        with step(f"exporting {database.rows:,} users with the command line"):
            runs[size] = run_child("cli", "--", *cli, timeout_s=CHILD_TIMEOUT_S)
        out.unlink(missing_ok=True)
        exported = re.search(r"exported ([\d,]+) users", runs[size].stderr)
        count = int(exported.group(1).replace(",", "")) if exported else None
        if runs[size].result["exit_status"] != 0 or count != database.rows:
            reason = f"the export of {database.rows:,} users reported {count}"
            return [failed(family, figure, large.backend, target, reason)]
    peak = {size: run.result["peak_kib"] / KIB_PER_MB for size, run in runs.items()}
    ratio = peak["large"] / peak["10k"]
    return [
        Outcome(
            family=family,
            figure=figure,
            backend=large.backend,
            small=f"10,000 rows: {peak['10k']:.0f} MB, {runs['10k'].seconds:.1f} s",
            large=f"{peak['large']:.0f} MB, {runs['large'].seconds:.1f} s",
            ratio=f"{ratio:.2f}",
            target=target,
            passed=ratio <= EXPORT_RATIO,
            raw={
                size: {"peak_mb": peak[size], "seconds": run.seconds} for size, run in runs.items()
            },
        )
    ]


def import_memory(rows: int, scratch: Path) -> list[Outcome]:
    """``python -m tui import users FILE`` of ``rows`` new users, dry run and applied, each
    in a child: its own peak RSS against `IMPORT_MAX_MB`."""
    family, figure = "import-memory", f"import {rows:,} users from CSV: peak RSS"
    target = f"<= {IMPORT_MAX_MB:g} MB each (was 1.5-2.2 GB at 1M)"
    source = scratch / "import-memory.csv"
    target_db = scratch / "import-memory.db"
    with step(f"writing a CSV of {rows:,} users and an empty database"):
        write_users_csv(source, rows, tag="memory")
        target_db.unlink(missing_ok=True)
        db = Database.connect(normalise_url(f"sqlite:///{target_db}"))
        try:
            upgrade(db.engine)
        finally:
            db.dispose()
    runs: dict[str, ChildRun] = {}
    for mode, extra in (("dry run", ["--dry-run"]), ("apply", [])):
        cli = ["--db", f"sqlite:///{target_db}", "import", "users", str(source), *extra]
        with step(f"importing {rows:,} users with the command line ({mode})"):
            runs[mode] = run_child("cli", "--", *cli, timeout_s=CHILD_TIMEOUT_S * 3)
        if runs[mode].result["exit_status"] != 0:
            reason = f"the {mode} exited {runs[mode].result['exit_status']}"
            return [failed(family, figure, "sqlite", target, reason)]
    db = Database.connect(normalise_url(f"sqlite:///{target_db}"))
    try:
        added = db.users.count()
    finally:
        db.dispose()
    source.unlink(missing_ok=True)
    target_db.unlink(missing_ok=True)
    if added != rows:
        return [failed(family, figure, "sqlite", target, f"the import added {added:,} users")]
    peak = {mode: run.result["peak_kib"] / KIB_PER_MB for mode, run in runs.items()}
    worst = max(peak.values())
    return [
        Outcome(
            family=family,
            figure=figure,
            backend="sqlite",
            small=f"dry run: {peak['dry run']:.0f} MB, {runs['dry run'].seconds:.0f} s",
            large=f"apply: {peak['apply']:.0f} MB, {runs['apply'].seconds:.0f} s",
            ratio=f"{worst / IMPORT_MAX_MB:.2f} of {IMPORT_MAX_MB:g} MB",
            target=target,
            passed=worst <= IMPORT_MAX_MB,
            raw={
                mode: {"peak_mb": peak[mode], "seconds": run.seconds, "rows": rows}
                for mode, run in runs.items()
            },
        )
    ]
