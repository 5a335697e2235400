"""Export and import of users and products as CSV or JSON.

Export streams a table page by page into a file that appears only once complete, and only
ever replaces a regular file (`data.replace`). Import streams the file (`data.import_files`)
twice: first every row is checked without the database, then each batch of rows is matched
to the stored records and judged (add, update, unchanged or refused, with the line it came
from) and, unless a dry run, written. All of it is applied in one audited unit of work or,
if any row is refused, nothing at all: half an import is worse than none, because nobody
can tell which half. Memory stays flat at any size: a batch of rows, the counts, the first
refused rows, and a small digest per key to find a key given twice.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from hashlib import blake2b
from pathlib import Path, PurePath
from typing import Any, Literal, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.actor import Actor
from data.bulk import in_batches, roomy_sqlite_cache, table_of
from data.characters import JSON_ESCAPES
from data.database import Database
from data.errors import Conflict, Invalid
from data.import_files import Columns, Row, Source, Text, neutralise, read_csv, rewindable
from data.import_json import read_json
from data.records import ImportProgress, ImportReport, ImportRow, PageRequest
from data.replace import atomic_file
from data.specs import EntitySpec
from data.stored import Malformed, MalformedTally
from data.tables import insert_rows, update_rows
from data.trail import PendingEntry, new_batch, write_entries, write_entry
from data.translate import StaleWrite
from data.unit import reading, writing
from data.validation import validate_fields
from models import User, utcnow

Format = Literal["csv", "json"]

_EVERYTHING = PageRequest()
# How often an export or import reports its progress, in rows: often enough for a smooth
# bar, rarely enough that a million rows post a thousand messages, not a million.
PROGRESS_EVERY = 1000
# Refused rows a report keeps with their reasons (the counts are exact, and `on_refused`
# hears of every one): what a review can show, at a bounded cost.
REFUSED_KEPT = 1000
# Rows judged and written together: one IN (...) lookup and a few executemany each.
WRITE_BATCH = 1000
# A refused row's unreadable key is shown cut to this many characters.
KEY_SHOWN = 100
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


# Import: judging the rows


@dataclass
class _Item:
    """A row under judgement; ``clean`` holds validated values, ``existing`` the matched row."""

    line: int
    key: str
    clean: dict[str, Any]
    errors: dict[str, str]
    key_valid: bool = True  # the key is normalised even when other fields are refused
    existing: Any = None
    changes: dict[str, Any] = field(default_factory=dict)
    outcome: str = "refused"


def _validate(spec: EntitySpec[Any, Any], row: Row) -> _Item:
    nk = spec.natural_key
    errors = dict(row.errors)
    clean: dict[str, Any] = {}
    if not errors:
        try:
            clean = validate_fields(spec.validators, row.values, required=(nk,))
        except Invalid as refused:
            errors = refused.errors
    if nk in clean:
        return _Item(line=row.line, key=clean[nk], clean=clean, errors=errors)
    # The row is refused; its key alone still names it in the report and finds duplicates.
    raw = row.values.get(nk)
    try:
        key = validate_fields(spec.validators, {nk: raw})[nk]
    except Invalid:
        return _Item(
            line=row.line,
            key="" if raw is None else str(raw).strip()[:KEY_SHOWN],
            clean=clean,
            errors=errors,
            key_valid=False,
        )
    return _Item(line=row.line, key=key, clean=clean, errors=errors)


class _Keys:
    """Finds a key given twice without holding the keys: the first pass over the file keeps
    a 128-bit digest of each (about 76 bytes a row at a million, against 115 for a digest
    and its line, or 150 for the emails themselves) and notes the digests seen twice; the
    second pass learns the first line of only those. Two different keys share a digest
    with a chance below 1e-26 at a million rows."""

    def __init__(self) -> None:
        self.seen: set[int] | None = set()
        self.twice: set[int] = set()
        self.first_lines: dict[int, int] = {}

    def second_pass(self) -> None:
        """Forget every digest but the ones given twice; the next pass names first lines."""
        self.seen = None

    def first(self, key: str, line: int) -> int | None:
        """The line ``key`` was first given on, if ``line`` repeats it; else None.

        On the first pass a repeat is known but not where it first was: 0 stands for that.
        """
        digest = int.from_bytes(blake2b(key.encode(), digest_size=16).digest(), "big")
        if self.seen is not None:
            if digest in self.seen:
                self.twice.add(digest)
                return 0
            self.seen.add(digest)
            return None
        if digest not in self.twice:
            return None
        first = self.first_lines.setdefault(digest, line)
        return None if first == line else first


def _judged(
    spec: EntitySpec[Any, Any], columns: Columns, text: Text, fmt: Format, keys: _Keys
) -> Iterator[_Item]:
    """Every row of the file validated, the second of two rows with a key refused (rows
    refused for other reasons still count as first): no database needed."""
    unit = "line" if fmt == "csv" else "object"
    rows = read_csv(columns, text) if fmt == "csv" else read_json(columns, text)
    for row in rows:
        item = _validate(spec, row)
        if item.key_valid:
            first = keys.first(item.key, item.line)
            if first is not None:
                item.errors[spec.natural_key] = f"appears twice, first at {unit} {first}"
        yield item


def _match_existing(session: Session, spec: EntitySpec[Any, Any], items: list[_Item]) -> None:
    """Attach the stored row (column -> value) with the same natural key to each item,
    IN (...) by batch."""
    table = table_of(spec.model)
    column = table.c[spec.natural_key]
    keys = sorted({item.key for item in items if not item.errors})
    found: dict[str, dict[str, Any]] = {}
    for batch in in_batches(keys):
        for row in session.execute(select(table).where(column.in_(batch))):
            stored = dict(row._mapping)
            found[stored[spec.natural_key]] = stored
    for item in items:
        if not item.errors:
            item.existing = found.get(item.key)


def _resolve_owners(session: Session, items: list[_Item]) -> None:
    """Turn owner emails (or ids) into user ids, refusing rows whose owner does not exist."""
    wanted = [item for item in items if not item.errors and item.clean.get("owner") is not None]
    owners = {item.clean["owner"] for item in wanted}
    emails = sorted(owner for owner in owners if isinstance(owner, str))
    ids = sorted(owner for owner in owners if isinstance(owner, int))
    by_email: dict[str, int] = {}
    by_id: set[int] = set()
    for batch in in_batches(emails):
        by_email.update(
            session.execute(select(User.email, User.id).where(User.email.in_(batch))).all()
        )
    for batch in in_batches(ids):
        by_id.update(session.scalars(select(User.id).where(User.id.in_(batch))))
    for item in wanted:
        owner = item.clean["owner"]
        owner_id = (
            by_email.get(owner) if isinstance(owner, str) else (owner if owner in by_id else None)
        )
        if owner_id is None:
            by_what = "email" if isinstance(owner, str) else "id"
            item.errors["owner"] = f"no user with {by_what} {owner}"
        else:
            item.clean["owner"] = owner_id


def _decide(spec: EntitySpec[Any, Any], item: _Item) -> None:
    if item.errors:
        item.outcome = "refused"
        return
    if item.existing is None:
        missing = sorted(spec.required - item.clean.keys())
        item.errors.update(dict.fromkeys(missing, f"is required for a new {spec.entity}"))
        item.outcome = "refused" if missing else "add"
        return
    item.changes = {
        name: value
        for name, value in item.clean.items()
        if item.existing[spec.field_attributes.get(name, name)] != value
    }
    item.outcome = "update" if item.changes else "unchanged"


def _analyse(session: Session, spec: EntitySpec[Any, Any], items: list[_Item]) -> None:
    """Match validated rows to stored records and decide each one's outcome."""
    _match_existing(session, spec, items)
    if "owner" in spec.validators:
        _resolve_owners(session, items)
    for item in items:
        _decide(spec, item)


class _Tally:
    """Counts by outcome, the first `REFUSED_KEPT` refused rows, and each refused row told
    to ``on_refused`` as it is found."""

    def __init__(self, columns: Columns, on_refused: Refused | None) -> None:
        self.columns = columns
        self.on_refused = on_refused
        self.counts = dict.fromkeys(OUTCOMES, 0)
        self.refused: list[ImportRow] = []

    def add(self, item: _Item) -> None:
        self.counts[item.outcome] += 1
        if item.outcome != "refused":
            return
        errors = {self.columns.column(name): reason for name, reason in item.errors.items()}
        row = ImportRow(line=item.line, key=item.key, outcome="refused", errors=errors)
        if len(self.refused) < REFUSED_KEPT:
            self.refused.append(row)
        if self.on_refused is not None:
            self.on_refused(row)

    def report(self, entity: str, *, applied: bool) -> ImportReport:
        return ImportReport(
            entity=entity, counts=dict(self.counts), refused=tuple(self.refused), applied=applied
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
    """Import ``entity`` records from ``source``, matched to stored ones by email or SKU.

    ``source`` is text, or bytes decoded as UTF-8 here (so a bad byte is pinned to its
    line); it is streamed, never held whole, and read twice (copied first if it cannot be
    rewound). Every row is counted as add, update, unchanged or refused; the report keeps
    the first `REFUSED_KEPT` refused rows with their line and reasons, and ``on_refused``
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
    keys = _Keys()

    def pass_over(step: str) -> Iterator[_Item]:
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
    tally = _Tally(columns, on_refused)
    if refused == rows:
        for item in pass_over("checking"):
            item.errors = item.errors or {"file": "changed while it was read; import it again"}
            tally.add(item)
        return tally.report(spec.plural, applied=False)
    if dry_run or (refused and not valid_only):
        with reading(db.sessions) as session:
            for batch in _batches(pass_over("matching")):
                _analyse(session, spec, batch)
                for item in batch:
                    tally.add(item)
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


class _NotApplied(Exception):
    """A row was refused while writing (and not valid-only): roll everything back."""


def _batches(items: Iterable[_Item]) -> Iterator[list[_Item]]:
    batch: list[_Item] = []
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
    items: Iterable[_Item],
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
        _analyse(session, spec, batch)
        for item in batch:
            tally.add(item)
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
    items: list[_Item],
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
