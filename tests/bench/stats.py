"""Summaries of timing samples: median and p99 by nearest rank, nothing interpolated."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

NS_PER_MS = 1_000_000


def nearest_rank(samples: Sequence[float], fraction: float) -> float:
    """The smallest sample with at least ``fraction`` of all samples at or below it.

    Nearest rank rather than interpolation: the answer is always a time that really
    happened, and p99 of 100 samples is the 99th smallest, not a blend of two.
    """
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(samples: Sequence[float]) -> float:
    """The middle sample (the lower one of the two middles for an even count)."""
    return nearest_rank(samples, 0.5)


def p99(samples: Sequence[float]) -> float:
    """The 99th percentile by nearest rank."""
    return nearest_rank(samples, 0.99)


@dataclass(frozen=True)
class Summary:
    """A distribution of durations in nanoseconds, reduced to what the table shows."""

    count: int
    median_ns: float
    p99_ns: float
    max_ns: float

    @classmethod
    def of(cls, samples_ns: Sequence[float]) -> Summary:
        """Summarise ``samples_ns`` (at least one sample)."""
        return cls(
            count=len(samples_ns),
            median_ns=median(samples_ns),
            p99_ns=p99(samples_ns),
            max_ns=max(samples_ns),
        )

    @property
    def median_ms(self) -> float:
        """The median in milliseconds."""
        return self.median_ns / NS_PER_MS

    @property
    def p99_ms(self) -> float:
        """The p99 in milliseconds."""
        return self.p99_ns / NS_PER_MS

    def text(self) -> str:
        """``p99 4.21 ms (med 3.10, n=200)`` for the table."""
        return f"p99 {ms(self.p99_ms)} (med {self.median_ms:.2f}, n={self.count})"

    def as_json(self) -> dict[str, float]:
        """The summary in milliseconds, for the results file."""
        return {
            "count": self.count,
            "median_ms": self.median_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ns / NS_PER_MS,
        }


def ms(value: float) -> str:
    """A duration in milliseconds with a sensible number of digits."""
    if value >= 100:
        return f"{value:,.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"
