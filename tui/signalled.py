"""Closing signals as an exception, for command-line work that must clean up after itself.

Left to their defaults, SIGTERM and SIGHUP end the process on the spot: an export's private
temporary file would stay behind beside its target. Inside `signals_raise` they (and
SIGINT) raise `Signalled` instead, which unwinds through the ``finally`` and ``except
BaseException`` blocks that remove it; the command line then exits 128 + the signal.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any


class Signalled(BaseException):
    """A closing signal arrived; like KeyboardInterrupt, no ``except Exception`` stops it."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum

    @property
    def exit_status(self) -> int:
        """The shell's convention for a process ended by a signal."""
        return 128 + self.signum


@contextmanager
def signals_raise(signals: Sequence[int]) -> Iterator[None]:
    """While inside, each of ``signals`` raises `Signalled` in the main thread.

    Elsewhere than the main thread (tests calling the command line from a worker) signals
    cannot be handled, and the defaults stay.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_it(signum: int, _frame: FrameType | None) -> None:
        raise Signalled(signum)

    previous: dict[int, Any] = {}
    try:
        for signum in signals:
            previous[signum] = signal.signal(signum, raise_it)
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


__all__ = ["Signalled", "signals_raise"]
