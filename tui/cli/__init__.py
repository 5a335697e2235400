"""The command line: the data core without a screen, and the console's entry point.

The package is split by job: `parsing` (the grammar), `records`, `transfer` and `admin` (the
commands), `entities` (what differs between users and products), `output` (what it says),
`database` (which database, and opening it), `console` (the console, in a terminal or a
browser), `completion` (shell completion scripts), `ownership` (that tui, data and models
are AccessGuard's own) and `process` (`main`: exit codes, signals, crash output).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

EXIT_NOT_OURS = 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line, once its packages are known to be AccessGuard's own.

    Garbage collection is held from here, before anything loads, for the console's start
    (`tui.collector`); `tui.cli.process` gives it back as soon as the words name a command.
    """
    from tui.collector import hold_during_start, resume_after_start

    hold_during_start()
    try:
        from tui.cli.ownership import foreign_package

        # Before anything imports data or models: a stranger's would fail, or worse, run.
        problem = foreign_package()
        if problem is not None:
            sys.stderr.write(problem + "\n")
            return EXIT_NOT_OURS
        from tui.cli.process import main as run

        return run(argv)
    finally:
        resume_after_start()  # the console never opened its database, or has closed


__all__ = ["main"]
