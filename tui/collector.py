"""Full garbage collections wait for the admin to pause.

A full collection stops every thread for as long as it takes to walk every tracked object:
25-60 ms in the console (the benchmark's figures). Left to CPython's own thresholds, it lands
in the middle of key presses, searches and exports, and it made the worst key presses and the
longest event-loop stall. While the console is in use only the young generations are collected
automatically (they hold few objects and take a millisecond or two); the full collection runs
once the keyboard and mouse have been quiet for a moment. A long unbroken burst of activity
still gets one, later than CPython would start it, so memory stays bounded.

Python 3.14's collector is incremental: it does the old generation a slice at a time with
each young collection, and ignores the third threshold this module moves. There are no long
full pauses left to move, so on 3.14 and later the collector steps aside (`TAKES_OVER`).
On 3.11-3.13 a full collection in a console with 2,000 users and products took a median
17-22 ms (up to 70 ms on a loaded machine); a young one well under a millisecond.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable

TAKES_OVER = sys.version_info < (3, 14)
"""Whether full collections are moved to pauses (not with 3.14's incremental collector)."""

QUIET_S = 1.0
"""Input must have been quiet this long before a full collection may run."""

CHECK_EVERY_S = 0.5
"""How often the app asks whether it is time."""

DUE_AFTER = 10
"""Young (generation 1) collections since the last full one before a full one is worth
running: CPython's own default threshold, so a quiet console collects as often as before."""

FORCED_AFTER = 1_000
"""Generation 1 collections after which CPython runs a full collection even mid-burst:
about seven million allocations, several minutes of holding a key down."""


def hold_during_start() -> None:
    """No automatic collection while the console starts, until `resume_after_start`.

    Start-up allocates mostly what lives as long as the console (modules, classes, the
    screens, SQLAlchemy's mappers), so the young collections CPython runs meanwhile find
    little: 250 young and 23 middle ones, 40-50 ms of the time to the first rows.
    """
    gc.disable()


def resume_after_start() -> None:
    """Collect automatically again (what exists now should be frozen first: `gc.freeze`)."""
    gc.enable()


class IdleCollector:
    """Moves full collections from CPython's allocation counts to the admin's pauses."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_input = clock()
        self._saved_thresholds: tuple[int, int, int] | None = None
        # Start-up's objects were frozen unsorted: their garbage goes at the first pause.
        self._sort_frozen = False

    def start(self) -> None:
        """Take full collections over (CPython's thresholds are restored by `stop`)."""
        if TAKES_OVER and self._saved_thresholds is None:
            self._saved_thresholds = gc.get_threshold()
            young, middle, _old = self._saved_thresholds
            gc.set_threshold(young, middle, FORCED_AFTER)

    def stop(self) -> None:
        """Give full collections back to CPython."""
        if self._saved_thresholds is not None:
            gc.set_threshold(*self._saved_thresholds)
            self._saved_thresholds = None

    def settle_after_start(self) -> None:
        """The console has started (its database is open): freeze what exists, and collect
        automatically again if start-up held it (`hold_during_start`).

        What exists now (Textual, SQLAlchemy, the models, the screens) lives as long as the
        console: frozen, it is out of every full collection's way (the benchmark saw keys
        wait up to 166 ms for one that walked it all). If start-up held collection, its
        garbage is frozen with it, unsorted; the first quiet moment collects it once
        (`collect_if_idle`).
        """
        gc.freeze()
        self._sort_frozen = not gc.isenabled()
        resume_after_start()

    def noticed_input(self) -> None:
        """The admin pressed a key or moved the mouse."""
        self._last_input = self._clock()

    def collect_if_idle(self) -> bool:
        """Run a full collection if one is due and input has been quiet; say whether it ran."""
        due = TAKES_OVER and gc.get_count()[2] >= DUE_AFTER
        quiet = self._clock() - self._last_input >= QUIET_S
        if quiet and self._sort_frozen:
            # Start-up's garbage, frozen unseen (~20,000 objects, 2 MB): collected once.
            self._sort_frozen = False
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            return True
        if due and quiet:
            gc.collect()
            return True
        return False
