"""Export and import: records to and from CSV or JSON files, and the import's report."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from data.actor import Actor
from data.entities import counted
from data.errors import Invalid
from data.records import ImportReport, ImportRow, PageRequest
from tui.cli.console import CLOSING_SIGNALS
from tui.cli.entities import EntityCommands, entity_of
from tui.cli.output import EXIT_OK, EXIT_REFUSED, PROG, say, warn, warn_malformed
from tui.signalled import Signalled, signals_raise
from tui.text import for_terminal

if TYPE_CHECKING:
    from data.database import Database
    from data.transfer import Format


def cmd_export(args: argparse.Namespace, db: Database) -> int:
    """Write the records (those matching ``--search``, in ``--sort`` order) as CSV or JSON
    to stdout, or atomically to ``-o FILE``."""
    from data.stored import MalformedTally
    from data.transfer import export_file, export_records

    entity = entity_of(args)
    if args.sort not in entity.names.sort_fields:
        fields = ", ".join(entity.names.sort_fields)
        raise Invalid({"sort": f"{entity.name} sort by {fields}; not {args.sort!r}"})
    request = PageRequest(search=args.search, sort=args.sort, descending=args.desc)
    tally = MalformedTally()
    if args.output in (None, "-"):
        count = export_records(
            db,
            entity.name,
            for_terminal(sys.stdout),
            fmt=args.format or "csv",
            request=request,
            tally=tally,
        )
        sys.stdout.flush()
        warn(f"exported {entity.counted(count)}")
    else:
        path = Path(args.output)
        fmt: Format = args.format or _format_of(path)
        # A signal unwinds the export, which removes its temporary file, instead of killing it.
        try:
            with signals_raise(CLOSING_SIGNALS):
                count = export_file(db, entity.name, path, fmt=fmt, request=request, tally=tally)
        except Signalled as stopped:
            name = signal.Signals(stopped.signum).name
            warn(f"{PROG}: export stopped by {name}; {path} was not written")
            raise
        warn(f"exported {entity.counted(count)} to {path}")
    warn_malformed(entity, tally, marked=False)
    return EXIT_OK


def _format_of(path: Path) -> Format:
    """The format ``path``'s name asks for (.csv or .json); CSV, the default, for any other."""
    from data.transfer import detect_format

    try:
        return detect_format(str(path))
    except Invalid:
        return "csv"


def cmd_import(args: argparse.Namespace, db: Database) -> int:
    """Import a CSV or JSON file: every row is checked first, and one refused row stops all."""
    from data.transfer import detect_format, import_records

    entity = entity_of(args)
    actor = Actor.from_environment(source="cli")
    # A file of another name is refused (Invalid) rather than guessed at: --format says it.
    fmt: Format = args.format or ("csv" if args.file == "-" else detect_format(args.file))
    # The report's line is the CSV line a row starts on, or the JSON array's object number.
    unit = "line" if fmt == "csv" else "object"

    def refused(row: ImportRow) -> None:
        for field, reason in row.errors.items():
            warn(f"{unit} {row.line}: {field}: {reason}")

    with _open_source(args.file) as source:
        report = import_records(
            db,
            entity.name,
            source,
            fmt=fmt,
            actor=actor,
            dry_run=args.dry_run,
            valid_only=args.valid_only,
            on_refused=refused,
        )
    return _print_report(entity, report, dry_run=args.dry_run)


def _open_source(name: str) -> BinaryIO:
    """The file to import, ``-`` meaning stdin, as bytes: the import decodes them, so a
    byte that is not UTF-8 is reported with its line."""
    if name == "-":
        return open(sys.stdin.fileno(), "rb", closefd=False)
    return open(name, "rb")


def _print_report(entity: EntityCommands, report: ImportReport, *, dry_run: bool) -> int:
    """Counts on stdout; the verdict on stderr (each refused row was said as it was found).
    Exit 1 if any row was refused."""
    # Past tense only for what was really written; a dry run or a refused file says "to add".
    labels = (
        {"add": "added", "update": "updated"}
        if report.applied
        else {"add": "to add", "update": "to update"}
    )
    outcomes = ("add", "update", "unchanged", "refused")
    counts = ", ".join(f"{report.count(o)} {labels.get(o, o)}" for o in outcomes)
    say(f"{entity.name}: {counts}")
    refused = report.count("refused")
    if refused:
        rows = counted(refused, "row")
        if report.applied:
            warn(f"{PROG}: imported the valid rows only: {rows} refused")
        else:
            warn(f"{PROG}: nothing imported: {rows} refused")
        return EXIT_REFUSED
    if dry_run:
        say("dry run: nothing written")
    return EXIT_OK
