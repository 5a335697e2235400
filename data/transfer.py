"""Export and import of users and products as CSV or JSON.

Export streams a table page by page into a file that appears only once complete, and only
ever replaces a regular file (`data.replace`). Import streams the file (`data.import_files`)
twice: first every row is checked without the database, then each batch of rows is matched
to the stored records and judged (add, update, unchanged or refused, with the line it came
from) and, unless a dry run, written. All of it is applied in one audited unit of work or,
if any row is refused, nothing at all: half an import is worse than none, because nobody
can tell which half. Memory stays flat at any size: a batch of rows, the counts, the first
rows to change (with their diffs, for review) and the first refused rows, and a small
digest per key (and per id) to find one given twice.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path, PurePath
from typing import Any, Literal, TextIO

from sqlalchemy.orm import Session

from data.actor import Actor
from data.bulk import roomy_sqlite_cache
from data.bulk_writes import insert_rows, update_rows
from data.characters import JSON_ESCAPES
from data.database import Database
from data.errors import Conflict, Invalid
from data.import_files import Columns, Source, Text, neutralise, read_csv, rewindable
from data.import_json import read_json
from data.import_judging import DuplicateKeys, Item, analyse, judged_rows, stored_names
from data.import_report import FieldChange, ImportProgress, ImportReport, ImportRow
from data.records import PageRequest
from data.replace import atomic_file
from data.specs import EntitySpec
from data.stored import Malformed, MalformedTally
from data.trail import PendingEntry, new_batch, write_entries, write_entry
from data.translate import StaleWrite
from data.unit import reading, writing
from models import utcnow

Format = Literal["csv", "json"]

_EVERYTHING = PageRequest()
# How often an export or import reports its progress, in rows: often enough for a smooth
# bar, rarely enough that a million rows post a thousand messages, not a million.
PROGRESS_EVERY = 1000
# Refused rows a report keeps with their reasons (the counts are exact, and `on_refused`
# hears of every one): what a review can show, at a bounded cost.
REFUSED_KEPT = 1000
# Rows to add or update a report keeps with their field diffs, for the same reason.
CHANGED_KEPT = 1000
# Rows judged and written together: one IN (...) lookup and a few executemany each.
WRITE_BATCH = 1000
OUTCOMES = ("add", "update", "unchanged", "refused")

Progress = Callable[[int], None]
"""Told the rows written so far; it may raise (a cancelled export) to stop the export."""
Refused = Callable[[ImportRow], None]
"""Told each refused row of an import as it is found."""


# Formats


def detect_format(path: str) -> Format:
    """The format a file name asks for: ``.csv`` or ``.json`` (any case), else `Invalid`."""
    suffix = PurePath(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".json":
        return "json"
    raise Invalid(
        {
            "format": f"cannot tell the format of {path!r} from its name; "
            "use a .csv or .json file name, or give the format"
        }
    )


def _check_format(fmt: str) -> None:
    if fmt not in ("csv", "json"):
        raise Invalid({"format": f"must be csv or json, not {fmt!r}"})


# Export


def write_records(
    spec: EntitySpec[Any, Any],
    records: Iterable[Any],
    out: TextIO,
    *,
    fmt: Format,
    progress: Progress | None = None,
) -> int:
    """Write ``records`` as CSV (with a header row) or as a JSON array; return how many.

    The columns are ``spec.export_columns``: never a password hash. CSV cells that a
    spreadsheet would run as a formula get a leading apostrophe, which import removes.
    Open ``out`` with ``newline=""`` so CSV line ends and quoted newlines stay as written.
    ``progress`` is told the count every `PROGRESS_EVERY` rows and at the end.
    """
    _check_format(fmt)
    columns = spec.export_columns
    if progress is not None:
        records = _reporting(records, progress)
    if fmt == "csv":
        count = _write_csv(columns, records, out)
    else:
        count = _write_json(columns, records, out)
    if progress is not None:
        progress(count)
    return count


def record_values(spec: EntitySpec[Any, Any], record: Any) -> dict[str, Any]:
    """One record as JSON-ready values: the export's columns, then its version."""
    return {
        column: _json_value(getattr(record, column)) for column in (*spec.export_columns, "version")
    }


def _reporting(records: Iterable[Any], progress: Progress) -> Iterator[Any]:
    for count, record in enumerate(records):
        if count and count % PROGRESS_EVERY == 0:
            progress(count)
        yield record


def export_records(
    db: Database,
    entity: str,
    out: TextIO,
    *,
    fmt: Format,
    request: PageRequest = _EVERYTHING,
    progress: Progress | None = None,
    tally: MalformedTally | None = None,
) -> int:
    """Export every ``entity`` record matching ``request`` (search, filters, order) to ``out``.

    Reads a page per unit of work, so a million rows take no more memory than a thousand.
    A malformed value is written as it was stored; ``tally`` counts the records with one.
    """
    _check_format(fmt)
    table = db.table(entity)
    records = table.stream(request)
    if tally is not None:
        records = tally.through(records)
    return write_records(table.spec, records, out, fmt=fmt, progress=progress)


def export_file(
    db: Database,
    entity: str,
    path: str | os.PathLike[str],
    *,
    fmt: Format,
    request: PageRequest = _EVERYTHING,
    progress: Progress | None = None,
    tally: MalformedTally | None = None,
) -> int:
    """`export_records` into the file ``path``, which appears only once complete.

    The rows go to a private (0600) temporary file beside ``path`` that replaces it at the
    end: a failed or cancelled export (``progress`` raising) leaves no partial file and
    keeps an older file of that name as it was.
    """
    with atomic_file(Path(path)) as out:
        return export_records(
            db, entity, out, fmt=fmt, request=request, progress=progress, tally=tally
        )


def _write_csv(columns: Sequence[str], records: Iterable[Any], out: TextIO) -> int:
    writer = csv.writer(out)
    writer.writerow(columns)
    count = 0
    for record in records:
        writer.writerow([_csv_cell(getattr(record, column)) for column in columns])
        count += 1
    return count


def _write_json(columns: Sequence[str], records: Iterable[Any], out: TextIO) -> int:
    # Written item by item rather than json.dump(list): the list would hold every record.
    out.write("[")
    count = 0
    for record in records:
        item = {column: _json_value(getattr(record, column)) for column in columns}
        out.write(",\n" if count else "\n")
        out.write(json.dumps(item, ensure_ascii=False).translate(JSON_ESCAPES))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def _csv_cell(value: Any) -> str:
    if isinstance(value, Malformed):  # as it was stored, so nothing is lost on the way
        return neutralise(value.raw)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return neutralise(value)
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, Malformed):
        return value.raw
    if isinstance(value, Decimal):
        return format(value, "f")  # text, so "12.50" stays exact: no float on the way
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# Import: counting the outcomes


class _Tally:
    """Counts by outcome, the first `CHANGED_KEPT` rows that change a record with their
    diffs, the first `REFUSED_KEPT` refused rows, and each refused row told to
    ``on_refused`` as it is found."""

    def __init__(
        self, spec: EntitySpec[Any, Any], columns: Columns, on_refused: Refused | None
    ) -> None:
        self.spec = spec
        self.columns = columns
        self.on_refused = on_refused
        self.counts = dict.fromkeys(OUTCOMES, 0)
        self.refused: list[ImportRow] = []
        self.changed: list[ImportRow] = []

    def add_batch(self, session: Session | None, items: list[Item]) -> None:
        """Count a judged batch; keep the first changes' diffs (``session`` names the
        records a changed relation pointed at) and the first refusals."""
        room = CHANGED_KEPT - len(self.changed)
        kept = [item for item in items if item.outcome in ("add", "update")][:room] if room else []
        old_names = self._old_names(session, kept)
        for item in items:
            self.add(item)
        self.changed.extend(self._changed_row(item, old_names) for item in kept)

    def add(self, item: Item) -> None:
        """Count one judged row; keep and tell it if refused."""
        self.counts[item.outcome] += 1
        if item.outcome != "refused":
            return
        errors = {self.columns.column(name): reason for name, reason in item.errors.items()}
        row = ImportRow(line=item.line, key=item.key, outcome="refused", errors=errors)
        if len(self.refused) < REFUSED_KEPT:
            self.refused.append(row)
        if self.on_refused is not None:
            self.on_refused(row)

    def _old_names(self, session: Session | None, items: list[Item]) -> dict[str, dict[int, str]]:
        """Relation -> stored id -> the key it names, for the relations these rows change."""
        names: dict[str, dict[int, str]] = {}
        for relation in self.spec.declared.relations:
            stored_as = relation.stored_as
            ids = {
                item.existing[stored_as]
                for item in items
                if relation.name in item.changes and item.existing[stored_as] is not None
            }
            if ids and session is not None:
                names[relation.name] = stored_names(session, self.spec, relation.name, ids)
        return names

    def _changed_row(self, item: Item, old_names: dict[str, dict[int, str]]) -> ImportRow:
        spec = self.spec
        fields = item.changes if item.outcome == "update" else item.clean
        changes = []
        for name, value in fields.items():
            new = item.named.get(name, value)
            old = None
            if item.existing is not None:
                old = item.existing[spec.field_attributes.get(name, name)]
                if name in old_names and old is not None:
                    old = old_names[name].get(old, old)
            column = self.columns.column(name)
            changes.append(FieldChange(column, _json_value(old), _json_value(new)))
        return ImportRow(
            line=item.line,
            key=item.key,
            outcome=item.outcome,
            record_id=None if item.existing is None else item.existing["id"],
            changes=tuple(changes),
        )

    def report(self, entity: str, *, applied: bool) -> ImportReport:
        """What the counted rows come to."""
        return ImportReport(
            entity=entity,
            counts=dict(self.counts),
            refused=tuple(self.refused),
            applied=applied,
            changed=tuple(self.changed),
        )


# Import: the passes over the file


def import_records(
    db: Database,
    entity: str,
    source: Source,
    *,
    fmt: Format,
    actor: Actor,
    dry_run: bool,
    valid_only: bool = False,
    progress: Callable[[ImportProgress], None] | None = None,
    on_refused: Refused | None = None,
) -> ImportReport:
    """Import ``entity`` records from ``source``: a row with an id updates that record
    (refused if there is none, or if its natural key belongs to another), one without
    is matched to a stored record by its natural key (email, SKU).

    ``source`` is text, or bytes decoded as UTF-8 here (so a bad byte is pinned to its
    line); it is streamed, never held whole, and read twice (copied first if it cannot be
    rewound). Every row is counted as add, update, unchanged or refused; the report keeps
    the first `CHANGED_KEPT` rows to add or update with their field diffs, and the
    first `REFUSED_KEPT` refused rows with their line and reasons, and ``on_refused``
    is told every one. A problem with the file itself (unknown or missing column, broken
    or hostile CSV or JSON) raises `Invalid` naming the line or object. With ``dry_run``
    nothing is written; otherwise all adds and updates are applied in one audited unit of
    work, or none if any row is refused (``applied`` is then False). With ``valid_only``
    (the admin said so) the refused rows are left out and the others applied, still in one
    unit of work; the import's own audit entry counts the refused rows. ``progress`` is
    told how far each pass has read; it may raise to stop the import (nothing written).
    """
    _check_format(fmt)
    spec = db.table(entity).spec
    columns = Columns.of(spec)
    with rewindable(source) as readable:
        return _import(
            db,
            spec,
            columns,
            readable,
            fmt=fmt,
            actor=actor,
            dry_run=dry_run,
            valid_only=valid_only,
            progress=progress,
            on_refused=on_refused,
        )


def _import(
    db: Database,
    spec: EntitySpec[Any, Any],
    columns: Columns,
    source: Source,
    *,
    fmt: Format,
    actor: Actor,
    dry_run: bool,
    valid_only: bool,
    progress: Callable[[ImportProgress], None] | None,
    on_refused: Refused | None,
) -> ImportReport:
    start = source.tell()
    keys = DuplicateKeys()

    def pass_over(step: str) -> Iterator[Item]:
        source.seek(start)
        text = Text(source)
        count = 0
        for count, item in enumerate(_judged(spec, columns, text, fmt, keys), start=1):
            yield item
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(ImportProgress(step, count, text.done_bytes, text.total_bytes))
        if progress is not None:
            progress(ImportProgress(step, count, text.done_bytes, text.total_bytes))

    # Every value is checked before the database is touched: a file whose rows are all
    # refused (a 10 MB cell, an escape sequence) costs no query at all, and one with any
    # refused row is only read, never holding the write lock it will not use.
    rows = refused = 0
    for item in pass_over("checking"):
        rows += 1
        refused += bool(item.errors)
    keys.second_pass()
    tally = _Tally(spec, columns, on_refused)
    if refused == rows:
        for item in pass_over("checking"):
            item.errors = item.errors or {"file": "changed while it was read; import it again"}
            tally.add(item)
        return tally.report(spec.plural, applied=False)
    if dry_run or (refused and not valid_only):
        with reading(db.sessions) as session:
            for batch in _batches(pass_over("matching")):
                analyse(session, spec, batch)
                tally.add_batch(session, batch)
        return tally.report(spec.plural, applied=False)
    try:
        with writing(db.sessions) as session, roomy_sqlite_cache(session):
            _write(session, spec, pass_over("writing"), tally, actor=actor, valid_only=valid_only)
            if tally.counts["refused"] and not valid_only:
                raise _NotApplied
    except _NotApplied:
        return tally.report(spec.plural, applied=False)
    except StaleWrite:
        raise Conflict(
            f"A {spec.entity} in the file was changed by someone else during the import; "
            "nothing was imported. Run the import again.",
            current=None,
        ) from None
    return tally.report(spec.plural, applied=True)


def _judged(
    spec: EntitySpec[Any, Any], columns: Columns, text: Text, fmt: Format, keys: DuplicateKeys
) -> Iterator[Item]:
    """Every row of the file, read as ``fmt`` and judged without the database."""
    rows = read_csv(columns, text) if fmt == "csv" else read_json(columns, text)
    return judged_rows(spec, rows, keys, unit="line" if fmt == "csv" else "object")


class _NotApplied(Exception):
    """A row was refused while writing (and not valid-only): roll everything back."""


def _batches(items: Iterable[Item]) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) == WRITE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _write(
    session: Session,
    spec: EntitySpec[Any, Any],
    items: Iterable[Item],
    tally: _Tally,
    *,
    actor: Actor,
    valid_only: bool,
) -> None:
    """Judge and write batch by batch, audited in file order, then the "import" entry:
    the same records and entries as importing the rows one by one, with a few executemany
    statements per batch. Once a row is refused (and not valid-only) nothing more is
    written: the caller rolls it all back."""
    now = utcnow()
    batch_id = new_batch()
    for batch in _batches(items):
        analyse(session, spec, batch)
        tally.add_batch(session, batch)
        if not tally.counts["refused"] or valid_only:
            _apply(session, spec, batch, now=now, actor=actor, batch_id=batch_id)
    added, updated = tally.counts["add"], tally.counts["update"]
    # Nothing changed, nothing to audit: re-importing an export leaves the trail untouched.
    if not added and not updated:
        return
    refused = tally.counts["refused"]
    write_entry(
        session,
        actor=actor,
        batch=batch_id,
        action="import",
        entity=spec.plural,
        record_id=None,
        new={
            "added": added,
            "updated": updated,
            "unchanged": tally.counts["unchanged"],
            **({"refused": refused} if refused else {}),
        },
    )


def _apply(
    session: Session,
    spec: EntitySpec[Any, Any],
    items: list[Item],
    *,
    now: datetime,
    actor: Actor,
    batch_id: str,
) -> None:
    """Write one batch's adds and updates, and their audit entries in file order."""
    updates = [(at, item) for at, item in enumerate(items) if item.outcome == "update"]
    adds = [(at, item) for at, item in enumerate(items) if item.outcome == "add"]
    in_file_order: list[PendingEntry | None] = [None] * len(items)
    if updates:
        targets = [(item.existing, item.changes) for _, item in updates]
        changed = update_rows(session, spec, targets, now=now)
        for (at, _), entry in zip(updates, changed, strict=True):
            in_file_order[at] = entry
    if adds:
        created = insert_rows(session, spec, [item.clean for _, item in adds], now=now)
        for (at, _), entry in zip(adds, created, strict=True):
            in_file_order[at] = entry
    entries = [entry for entry in in_file_order if entry is not None]
    if entries:
        write_entries(session, entries, actor=actor, batch=batch_id, entity=spec.entity)


__all__ = [
    "Format",
    "Progress",
    "atomic_file",
    "detect_format",
    "export_file",
    "export_records",
    "import_records",
    "write_records",
]
