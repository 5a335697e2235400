"""What a figure hands back, and how the run prints and saves all of them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEADINGS = ("figure", "backend", "small", "large", "ratio", "target", "verdict")


@dataclass(frozen=True)
class Outcome:
    """One row of the table: a figure on one backend, both sizes, judged against its target.

    ``passed`` is None for rows that are information only (a baseline, a full scan).
    ``raw`` holds every number behind the row for the results file; ``notes`` are printed
    under the table (the worst cases, why a figure could not be measured).
    """

    family: str
    figure: str
    backend: str
    small: str
    large: str
    ratio: str
    target: str
    passed: bool | None
    raw: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        """PASS, FAIL or ``info``."""
        if self.passed is None:
            return "info"
        return "PASS" if self.passed else "FAIL"

    def as_json(self) -> dict[str, Any]:
        """The row and its raw numbers."""
        return {
            "family": self.family,
            "figure": self.figure,
            "backend": self.backend,
            "small": self.small,
            "large": self.large,
            "ratio": self.ratio,
            "target": self.target,
            "verdict": self.verdict,
            "notes": list(self.notes),
            "raw": self.raw,
        }


def failed(family: str, figure: str, backend: str, target: str, reason: str) -> Outcome:
    """A figure that could not be measured: a FAIL row that says why."""
    return Outcome(
        family=family,
        figure=figure,
        backend=backend,
        small="-",
        large="-",
        ratio="-",
        target=target,
        passed=False,
        raw={"error": reason},
        notes=(f"{figure} ({backend}) was not measured: {reason}",),
    )


def table(outcomes: Sequence[Outcome], *, small_rows: int, large_rows: int) -> str:
    """The results as a plain-text table, then the notes of every row that has some."""
    headings = list(HEADINGS)
    headings[2] = f"small ({small_rows:,})"
    headings[3] = f"large ({large_rows:,})"
    rows = [[o.figure, o.backend, o.small, o.large, o.ratio, o.target, o.verdict] for o in outcomes]
    widths = [max(len(row[i]) for row in [headings, *rows]) for i in range(len(headings))]

    def line(cells: Sequence[str]) -> str:
        padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        return "  ".join(padded).rstrip()

    lines = [line(headings), line(["-" * width for width in widths])]
    lines.extend(line(row) for row in rows)
    notes = [note for outcome in outcomes for note in outcome.notes]
    if notes:
        lines.append("")
        lines.append("notes:")
        lines.extend(f"  - {note}" for note in notes)
    return "\n".join(lines)


def save(path: Path, document: dict[str, Any]) -> None:
    """Write the results file (creating its directory), atomically enough for one writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    partial.replace(path)


@dataclass
class Elapsed:
    """How long a `step` took, filled in when it ends."""

    seconds: float = 0.0


@contextmanager
def step(label: str) -> Iterator[Elapsed]:
    """Print ``label…`` now and how long the block took when it ends, on the same line.

    Nothing inside the block should print, or the line breaks in two.
    """
    print(f"{label}…", end=" ", flush=True)
    elapsed = Elapsed()
    start = time.perf_counter()
    try:
        yield elapsed
    except BaseException:
        elapsed.seconds = time.perf_counter() - start
        print(f"failed after {elapsed.seconds:,.1f} s", flush=True)
        raise
    elapsed.seconds = time.perf_counter() - start
    print(f"{elapsed.seconds:,.1f} s", flush=True)


def say(text: str) -> None:
    """One progress line, flushed so it shows while the run goes on."""
    print(text, flush=True)
