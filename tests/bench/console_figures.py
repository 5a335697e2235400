"""Figures of the console: open a view, key to repaint, event-loop stall.

Each runs the real `AccessGuardApp` headless at 120x40 in a child process
(`tests.bench.child`, driven by `tests.bench.driving`); this module only starts the
children and judges what they measured.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any

from tests.bench.data_figures import write_users_csv
from tests.bench.databases import BenchDatabase, writable_copy
from tests.bench.report import Outcome, step
from tests.bench.spawn import ChildRun, run_child
from tests.bench.stats import NS_PER_MS, Summary, ms, nearest_rank

OPEN_MS = 50.0
SIZE_RATIO = 1.2
# Key -> (the key's name in the results, p99 target in ms).
KEY_TARGETS = {
    "down": ("down_ns", 5.0),
    "PgDn": ("pagedown_ns", 10.0),
    "G (end)": ("end_ns", 10.0),
    "g (top)": ("top_ns", 10.0),
}
STALL_MAX_MS = 50.0
STALL_IMPORT_ROWS = 10_000
CONSOLE_TIMEOUT_S = 900.0


def open_and_keys(
    small: BenchDatabase, large: BenchDatabase, *, presses: int, families: set[str]
) -> list[Outcome]:
    """Open a view (cold and warm) and key to repaint, both sizes, one child per size."""
    runs: dict[str, ChildRun] = {}
    for size, database in (("small", small), ("large", large)):
        with step(f"console on {database.backend} {database.rows:,} ({presses} presses a key)"):
            runs[size] = run_child(
                "console",
                "--url",
                database.url_text,
                "--presses",
                str(presses),
                timeout_s=CONSOLE_TIMEOUT_S,
            )
    backend = large.backend
    outcomes = []
    if "open-view" in families:
        outcomes.extend(_open_view(runs, backend))
    if "key-repaint" in families:
        outcomes.extend(_key_repaint(runs, backend))
    return outcomes


def _open_view(runs: dict[str, ChildRun], backend: str) -> list[Outcome]:
    target = f"<= {OPEN_MS:g} ms; large/small <= {SIZE_RATIO:g}"
    cold = {size: run.result["open"]["cold_ns"] / NS_PER_MS for size, run in runs.items()}
    warm = {size: Summary.of(run.result["open"]["warm_ns"]) for size, run in runs.items()}
    cold_ratio = cold["large"] / cold["small"]
    warm_ratio = warm["large"].p99_ns / warm["small"].p99_ns
    raw = {size: run.result["open"] for size, run in runs.items()}
    return [
        Outcome(
            family="open-view",
            figure="open a view: 1st switch (cold)",
            backend=backend,
            small=ms(cold["small"]),
            large=ms(cold["large"]),
            ratio=f"{cold_ratio:.2f}",
            target=target,
            passed=max(cold.values()) <= OPEN_MS and cold_ratio <= SIZE_RATIO,
            raw={size: value["cold_ns"] / NS_PER_MS for size, value in raw.items()},
        ),
        Outcome(
            family="open-view",
            figure="open a view: warm switches",
            backend=backend,
            small=warm["small"].text(),
            large=warm["large"].text(),
            ratio=f"{warm_ratio:.2f}",
            target=target,
            passed=max(s.p99_ms for s in warm.values()) <= OPEN_MS and warm_ratio <= SIZE_RATIO,
            raw={
                size: [sample / NS_PER_MS for sample in value["warm_ns"]]
                for size, value in raw.items()
            },
        ),
    ]


def _key_repaint(runs: dict[str, ChildRun], backend: str) -> list[Outcome]:
    outcomes = []
    for key, (name, target_ms) in KEY_TARGETS.items():
        summaries = {size: Summary.of(run.result["keys"][name]) for size, run in runs.items()}
        ratio = summaries["large"].p99_ns / summaries["small"].p99_ns
        passed = (
            max(summary.p99_ms for summary in summaries.values()) <= target_ms
            and ratio <= SIZE_RATIO
        )
        notes = _collection_note(key, backend, runs, name)
        outcomes.append(
            Outcome(
                family="key-repaint",
                figure=f"key to repaint: {key}",
                backend=backend,
                small=summaries["small"].text(),
                large=summaries["large"].text(),
                ratio=f"{ratio:.2f}",
                target=f"p99 <= {target_ms:g} ms; large/small <= {SIZE_RATIO:g}",
                passed=passed,
                raw={
                    size: {
                        "ms": [sample / NS_PER_MS for sample in run.result["keys"][name]],
                        "full_gc_ms": run.result["keys"][name.replace("_ns", "_gc_ms")],
                    }
                    for size, run in runs.items()
                },
                notes=notes,
            )
        )
    wraps = runs["small"].result["keys"]["pagedown_wraps"]
    if wraps:
        first = outcomes[1]
        note = (
            f"key to repaint ({backend}): the small table ends after a few pages, so PgDn went "
            f"back to the top (untimed) {wraps} times"
        )
        outcomes[1] = replace(first, notes=(*first.notes, note))
    return outcomes


def _collection_note(
    key: str, backend: str, runs: dict[str, ChildRun], name: str
) -> tuple[str, ...]:
    """How many presses a full garbage collection landed in, and what p99 is without them.

    Information only: the collections are the console's own pauses and stay in the figure.
    """
    parts = []
    for size, run in runs.items():
        samples = run.result["keys"][name]
        collected = run.result["keys"][name.replace("_ns", "_gc_ms")]
        hit = [paused for paused in collected if paused > 0]
        if not hit:
            continue
        clean = [sample for sample, paused in zip(samples, collected, strict=True) if not paused]
        without = f", p99 of the other presses {ms(nearest_rank(clean, 0.99) / NS_PER_MS)}"
        parts.append(
            f"{size}: {len(hit)} of {len(samples)} presses held a full GC "
            f"(up to {ms(max(hit))}){without if clean else ''}"
        )
    if not parts:
        return ()
    return (f"key to repaint: {key} ({backend}): " + "; ".join(parts),)


def stall(large: BenchDatabase, scratch: Path) -> list[Outcome]:
    """The 10 ms timer's longest gap while keys, searches, a save, export and import run."""
    target = f"max gap <= {STALL_MAX_MS:g} ms"
    import_csv = scratch / "stall-import.csv"
    write_users_csv(import_csv, STALL_IMPORT_ROWS, tag="stall")
    copy = writable_copy(large, scratch, "stall")
    try:
        with step(f"event-loop stall on {large.backend} {large.rows:,} (export, then import)"):
            run = run_child(
                "stall",
                "--url",
                copy.url_text,
                "--scratch",
                str(scratch),
                "--import-csv",
                str(import_csv),
                timeout_s=CONSOLE_TIMEOUT_S,
            )
    finally:
        if copy.path is not None:
            copy.path.unlink(missing_ok=True)
    result = run.result
    ticks: list[int] = result["ticks_ns"]
    gaps = [(later - earlier, later) for earlier, later in pairwise(ticks)]
    gap_ms = [gap / NS_PER_MS for gap, _ in gaps]
    worst = max(gap_ms)
    by_phase = _worst_gap_by_phase(gaps, result["phases_ns"])
    collections: list[float] = result["full_gc_ms"]
    phases = ", ".join(f"{phase} {ms(value)}" for phase, value in by_phase.items())
    return [
        Outcome(
            family="stall",
            figure="event-loop stall (10 ms timer)",
            backend=large.backend,
            small="-",
            large=f"max {ms(worst)} (p99 {ms(nearest_rank(gap_ms, 0.99))}, n={len(gap_ms)})",
            ratio="-",
            target=target,
            passed=worst <= STALL_MAX_MS,
            raw={
                "gaps_ms": gap_ms,
                "worst_by_phase_ms": by_phase,
                "passes": result["passes"],
                "frames": result["frames"],
            },
            notes=(
                f"stall: {len(collections)} full GCs during the run, the longest "
                f"{ms(max(collections, default=0.0))}",
                f"stall: worst gap by phase: {phases}; admin rounds during export/import: "
                f"{result['passes']['export']}/{result['passes']['import']} "
                f"(PgDn bursts, G, g, a search, and an edit saved during the export; "
                f"{STALL_IMPORT_ROWS:,}-row import)",
            ),
        )
    ]


def _worst_gap_by_phase(gaps: list[tuple[int, int]], phases: dict[str, Any]) -> dict[str, float]:
    """The longest gap that ended inside each background phase, and outside all of them."""
    worst: dict[str, float] = {}
    for gap, ended in gaps:
        phase = next(
            (name for name, (begin, end) in phases.items() if begin <= ended <= end),
            "no background work",
        )
        worst[phase] = max(worst.get(phase, 0.0), gap / NS_PER_MS)
    return worst
