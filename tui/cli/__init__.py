"""The command line: the data core without a screen, and the console's entry point.

The package is split by job: `parsing` (the grammar), `records`, `transfer` and `admin` (the
commands), `entities` (what differs between users and products), `output` (what it says),
`database` (which database, and opening it), `console` (the console, in a terminal or a
browser) and `process` (`main`: exit codes, signals, crash output).
"""

from tui.cli.process import main

__all__ = ["main"]
