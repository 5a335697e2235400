"""What the command line says: its lines on stdout and stderr, tables, questions, and the
exit statuses its commands return."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from data.characters import JSON_ESCAPES
from data.redact import redact
from tui.malformed import MARK
from tui.text import fit, for_terminal, visible

if TYPE_CHECKING:
    from data.stored import MalformedTally
    from tui.cli.entities import Column, EntityCommands

PROG = "accessguard"
EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


def say(text: str) -> None:
    """Print a line of output to stdout, made visible first."""
    print(visible(text), file=sys.stdout)


def warn(text: str) -> None:
    """Print a line to stderr, made visible and with any URL password masked."""
    print(visible(redact(text)), file=sys.stderr)


def print_json(value: Any) -> None:
    """Print ``value`` as one line of JSON: every character kept, as export writes it, and
    shown rather than obeyed on a terminal."""
    import json

    text = json.dumps(value, ensure_ascii=False).translate(JSON_ESCAPES)
    for_terminal(sys.stdout).write(text + "\n")


def warn_malformed(entity: EntityCommands, tally: MalformedTally, *, marked: bool) -> None:
    """Say on stderr how many records hold values another tool stored past validation."""
    warning = tally.warning(entity.names.plural, entity.names.entity)
    if warning is not None:
        where = f", marked {MARK}" if marked else ""
        warn(f"{PROG}: warning: {warning}{where}; fix them in the console")


def print_table(columns: Sequence[Column], records: Iterable[Any]) -> int:
    """Print a header, a rule and a row per record; return how many rows were printed."""
    gap = "  "
    out = sys.stdout
    out.write(gap.join(fit(c.title, c.width, right=c.right) for c in columns).rstrip() + "\n")
    out.write(gap.join("-" * c.width for c in columns) + "\n")
    count = 0
    for record in records:
        out.write(gap.join(column.cell(record) for column in columns).rstrip() + "\n")
        count += 1
    return count


def confirm(question: str, *, verb: str = "delete", done: str = "deleted") -> int | None:
    """None when the admin answers yes at a terminal, else the exit code to stop with.

    ``verb`` and ``done`` name what is asked: ``refusing to delete``, ``not deleted``.
    """
    if not sys.stdin.isatty():
        warn(f"{PROG}: refusing to {verb} without --yes when not interactive")
        return EXIT_USAGE
    sys.stderr.write(visible(question) + " [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer in ("y", "yes"):
        return None
    warn(f"{PROG}: not {done}")
    return EXIT_REFUSED


def flush_or_silence() -> None:
    """Flush stdout and stderr now; one that cannot be written (its terminal hung up) is
    pointed at /dev/null. Otherwise the interpreter's own flush at exit fails on it and
    turns the exit status (128 + the signal) into 120, whenever output is buffered."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            silence(stream)


def silence(stream: TextIO) -> None:
    """Point ``stream``'s file at /dev/null so the interpreter's final flush cannot fail
    again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (e.g. captured in tests)
        pass
