"""Export and import: records to and from CSV or JSON files, and the import's report."""

from __future__ import annotations

import argparse
import csv
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from data.actor import Actor
from data.entities import counted
from data.errors import Invalid
from data.import_report import ImportReport, ImportRow
from data.records import PageRequest
from tui.cli.console import CLOSING_SIGNALS
from tui.cli.entities import EntityCommands, entity_of
from tui.cli.output import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    PROG,
    print_json,
    say,
    warn,
    warn_malformed,
)
from tui.import_diffs import change_records, detail_lines, heading
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
    if args.report is not None and not args.dry_run:
        warn(f"{PROG}: --report lists what a dry run would change; add --dry-run")
        return EXIT_USAGE
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
    if not args.dry_run:
        return _print_report(entity, report, dry_run=False)
    listing = args.report or "table"
    _print_changes(entity, report, listing=listing, unit=unit)
    return _print_report(entity, report, dry_run=True, counts_aside=listing != "table")


def _print_changes(
    entity: EntityCommands, report: ImportReport, *, listing: str, unit: str
) -> None:
    """A dry run's rows to change, each with its field diffs: as text (``table``), a CSV
    row per field, or one JSON object with the counts and the refused rows too."""
    more = report.changed_left_out
    if listing == "json":
        print_json(
            {
                "entity": entity.name,
                "counts": {o: report.count(o) for o in OUTCOMES},
                "changes": [
                    {
                        unit: row.line,
                        "outcome": row.outcome,
                        "id": row.record_id,
                        "key": row.key,
                        "changes": change_records(row),
                    }
                    for row in report.changed
                ],
                "changes_not_listed": more,
                "refused": [
                    {unit: row.line, "key": row.key, "errors": row.errors} for row in report.refused
                ],
                "refused_not_listed": report.refused_left_out,
            }
        )
        return
    if listing == "csv":
        writer = csv.writer(for_terminal(sys.stdout))
        writer.writerow([unit, "outcome", "id", "key", "field", "old", "new"])
        for row in report.changed:
            for change in change_records(row):
                record_id = "" if row.record_id is None else row.record_id
                old, new = (_csv_value(change[name]) for name in ("old", "new"))
                key = _csv_value(row.key)
                writer.writerow([row.line, row.outcome, record_id, key, change["field"], old, new])
    else:
        for row in report.changed:
            say(heading(row, unit=unit, entity=entity.names.entity))
            for detail in detail_lines(row):
                say(f"    {detail}")
    if more:
        rows = counted(more, "more row")
        warn(f"{PROG}: … and {rows} to change, not listed (the first {len(report.changed):,} are)")


def _csv_value(value: object) -> str:
    """A value as export writes it, a would-be formula defused for spreadsheets."""
    from data.import_files import neutralise

    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return neutralise(str(value))


def _open_source(name: str) -> BinaryIO:
    """The file to import, ``-`` meaning stdin, as bytes: the import decodes them, so a
    byte that is not UTF-8 is reported with its line."""
    if name == "-":
        return open(sys.stdin.fileno(), "rb", closefd=False)
    return open(name, "rb")


OUTCOMES = ("add", "update", "unchanged", "refused")


def _print_report(
    entity: EntityCommands, report: ImportReport, *, dry_run: bool, counts_aside: bool = False
) -> int:
    """Counts on stdout (on stderr with ``counts_aside``: stdout holds a CSV or JSON
    listing); the verdict on stderr (each refused row was said as it was found).
    Exit 1 if any row was refused."""
    # Past tense only for what was really written; a dry run or a refused file says "to add".
    labels = (
        {"add": "added", "update": "updated"}
        if report.applied
        else {"add": "to add", "update": "to update"}
    )
    counts = ", ".join(f"{report.count(o)} {labels.get(o, o)}" for o in OUTCOMES)
    (warn if counts_aside else say)(f"{entity.name}: {counts}")
    refused = report.count("refused")
    if refused:
        rows = counted(refused, "row")
        if report.applied:
            warn(f"{PROG}: imported the valid rows only: {rows} refused")
        else:
            warn(f"{PROG}: nothing imported: {rows} refused")
        return EXIT_REFUSED
    if dry_run:
        (warn if counts_aside else say)("dry run: nothing written")
    return EXIT_OK
