"""Export and import of users and products as CSV or JSON.

Export streams a table page by page, so memory stays flat at any size. Import reads the
whole file, judges every row (add, update, unchanged or refused, with the line it came
from), and applies either all of it in one audited unit of work or, if any row is refused,
nothing at all: half an import is worse than none, because nobody can tell which half.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path, PurePath
from typing import Any, Literal, NamedTuple, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.actor import Actor
from data.bulk import cycle_collection_paused, in_batches, roomy_sqlite_cache, table_of
from data.characters import JSON_ESCAPES
from data.database import Database
from data.errors import Conflict, Invalid
from data.records import ImportReport, ImportRow, PageRequest
from data.specs import EntitySpec
from data.stored import Malformed, MalformedTally
from data.tables import insert_rows, update_rows
from data.trail import PendingEntry, new_batch, write_entries, write_entry
from data.translate import StaleWrite
from data.unit import reading, writing
from data.validation import FieldError, validate_fields
from models import User, utcnow

Format = Literal["csv", "json"]

BOM = "\ufeff"
# A cell starting with one of these is run as a formula by spreadsheets (a tab or CR can
# hide one from a quick look), so export defuses it with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_EVERYTHING = PageRequest()
# How often an export reports its progress, in rows: often enough for a smooth bar, rarely
# enough that a million-row export posts a thousand messages, not a million.
PROGRESS_EVERY = 1000

Progress = Callable[[int], None]
"""Told the rows written so far; it may raise (a cancelled export) to stop the export."""


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


@contextmanager
def atomic_file(path: Path) -> Iterator[TextIO]:
    """A private (0600) temp file beside ``path`` that replaces it only once fully written.

    A failed export never leaves a half-written file behind, nor clobbers an older one.
    """
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


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
        return _neutralise(value.raw)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return _neutralise(value)
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, Malformed):
        return value.raw
    if isinstance(value, Decimal):
        return format(value, "f")  # text, so "12.50" stays exact: no float on the way
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _neutralise(text: str) -> str:
    """Defuse a would-be formula with a leading apostrophe.

    Text that already starts with apostrophes before a formula character gets one more,
    so `_restore` (which removes exactly one) gives back every text exactly.
    """
    return "'" + text if text.lstrip("'").startswith(FORMULA_STARTS) else text


def _restore(text: str) -> str:
    """Undo `_neutralise`: drop one leading apostrophe that defuses a formula."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_STARTS):
        return text[1:]
    return text


# Import: reading the file


@dataclass(frozen=True)
class _Row:
    """One record of the file: where it starts, its fields' raw values, reading problems."""

    line: int
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)


class _Read(NamedTuple):
    """A CSV column import reads: its place in the row, its field, and whether a blank cell
    means no value."""

    at: int
    field: str
    absent_if_blank: bool


@dataclass(frozen=True)
class _Columns:
    """How a spec's fields appear in a file: which columns import reads (column -> field),
    which it ignores, which must be in a CSV header, and which mean "no value" when blank."""

    fields: dict[str, str]
    ignored: frozenset[str]
    absent_if_blank: frozenset[str]
    required: tuple[str, ...]

    @classmethod
    def of(cls, spec: EntitySpec[Any, Any]) -> _Columns:
        renamed = {
            field: column
            for column, field in spec.import_aliases.items()
            if column in spec.export_columns and field in spec.validators
        }
        fields = {renamed.get(name, name): name for name in spec.validators}
        required = (spec.natural_key, *sorted(spec.required - {spec.natural_key}))
        return cls(
            fields=fields,
            ignored=frozenset(spec.export_columns) - fields.keys(),
            absent_if_blank=frozenset(
                name
                for name, validator in spec.validators.items()
                if name not in spec.required and not _accepts_blank(validator)
            ),
            required=tuple(renamed.get(name, name) for name in required),
        )

    def column(self, field_name: str) -> str:
        """The file column that holds ``field_name``."""
        for column, name in self.fields.items():
            if name == field_name:
                return column
        return field_name

    def check(self, names: Iterable[str], *, where: str = "") -> None:
        """Refuse the file for an unknown column (``where`` says which object, for JSON)."""
        for name in names:
            if name not in self.fields and name not in self.ignored:
                known = ", ".join(self.fields)
                ignored = ", ".join(sorted(self.ignored))
                raise Invalid(
                    {
                        "file": f"unknown column {name!r}{where}; the columns are {known} "
                        f"(and {ignored}, which are read and ignored)"
                    }
                )

    def reads(self, header: list[str]) -> list[_Read]:
        """For each column of a CSV ``header`` that import reads: where, and into which field."""
        return [
            _Read(at, name, name in self.absent_if_blank)
            for at, column in enumerate(header)
            if (name := self.fields.get(column)) is not None
        ]

    def values(self, cells: Mapping[str, Any]) -> dict[str, Any]:
        """Field -> raw value for one record.

        An empty cell (or JSON null) is no value at all for a field that cannot be empty
        (role, stock, active flag): existing rows keep theirs, new rows get the default.
        """
        values: dict[str, Any] = {}
        for column, raw in cells.items():
            name = self.fields.get(column)
            if name is None or (name in self.absent_if_blank and raw in (None, "")):
                continue
            values[name] = raw
        return values


def _accepts_blank(validator: Any) -> bool:
    try:
        validator("")
    except FieldError:
        return False
    return True


def _read_rows(columns: _Columns, source: TextIO, fmt: Format) -> list[_Row]:
    if fmt == "csv":
        return list(_read_csv(columns, source))
    return _read_json(columns, source)


def _header(cells: list[str]) -> list[str]:
    names = [cell.strip().lower() for cell in cells]
    if names and names[0].startswith(BOM):
        names[0] = names[0][len(BOM) :].strip()
    return names


def _check_header(columns: _Columns, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise Invalid({"file": f"column {name!r} appears twice in the header"})
        seen.add(name)
    columns.check(names)
    for name in columns.required:
        if name not in seen:
            needed = ", ".join(columns.required)
            raise Invalid({"file": f"the header has no {name!r} column (needed: {needed})"})


def _read_csv(columns: _Columns, source: TextIO) -> Iterator[_Row]:
    # csv.reader rather than DictReader: DictReader skips blank lines out of sight, which
    # would make the line numbers in the report point at the wrong place.
    reader = csv.reader(source, strict=True)
    try:
        first = next(reader, None)
        if first is None:
            raise Invalid({"file": "is empty; the first line must name the columns"})
        names = _header(first)
        _check_header(columns, names)
        reads = columns.reads(names)
        end = reader.line_num
        for cells in reader:
            start, end = end + 1, reader.line_num
            if any(cells):
                yield _csv_row(columns, names, reads, cells, start)
    except csv.Error as error:
        raise Invalid({"file": f"line {reader.line_num} is not valid CSV: {error}"}) from None


def _csv_row(
    columns: _Columns, names: list[str], reads: list[_Read], cells: list[str], line: int
) -> _Row:
    if len(cells) != len(names):
        error = f"has {len(cells)} cells but the header names {len(names)} columns"
        # Keep the key if the row has one, so the report says which record this was.
        key_column = columns.required[0]
        key_at = names.index(key_column)
        key = {columns.fields[key_column]: cells[key_at]} if key_at < len(cells) else {}
        return _Row(line=line, values=key, errors={"row": error})
    # What `_Columns.values` does for a JSON object, with the header's work done once: this
    # runs for every line of a file that may hold a million.
    values: dict[str, Any] = {}
    for at, name, absent_if_blank in reads:
        cell = cells[at]
        if cell:
            values[name] = _restore(cell) if cell[0] == "'" else cell
        elif not absent_if_blank:
            values[name] = cell
    return _Row(line=line, values=values)


def _read_json(columns: _Columns, source: TextIO) -> list[_Row]:
    text = source.read()
    if text.startswith(BOM):
        text = text[len(BOM) :]
    try:
        # Decimal for numbers with a fraction: a price of 19.99 must not pass through float.
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise Invalid(
            {"file": f"is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"}
        ) from None
    if not isinstance(data, list):
        raise Invalid({"file": "must hold a JSON array of objects, one per record"})
    rows = []
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            rows.append(_Row(line=index, values={}, errors={"row": "is not a JSON object"}))
            continue
        cells = {str(key).strip().lower(): value for key, value in item.items()}
        columns.check(cells, where=f" in object {index}")
        rows.append(_Row(line=index, values=columns.values(cells)))
    return rows


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


def _validate(spec: EntitySpec[Any, Any], row: _Row) -> _Item:
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
            key="" if raw is None else str(raw).strip(),
            clean=clean,
            errors=errors,
            key_valid=False,
        )
    return _Item(line=row.line, key=key, clean=clean, errors=errors)


def _mark_duplicates(spec: EntitySpec[Any, Any], items: list[_Item], unit: str) -> None:
    """Refuse the second row with a key; rows refused for other reasons still count as first."""
    first: dict[str, int] = {}
    for item in items:
        if not item.key_valid:
            continue
        if item.key in first:
            item.errors[spec.natural_key] = f"appears twice, first at {unit} {first[item.key]}"
        else:
            first[item.key] = item.line


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


@dataclass
class _Plan:
    """Every row's verdict."""

    items: list[_Item]

    def report(self, entity: str, columns: _Columns, *, applied: bool) -> ImportReport:
        rows = tuple(
            ImportRow(
                line=item.line,
                key=item.key,
                outcome=item.outcome,
                errors={columns.column(name): reason for name, reason in item.errors.items()},
            )
            for item in self.items
        )
        return ImportReport(entity=entity, rows=rows, applied=applied)

    def count(self, outcome: str) -> int:
        return sum(1 for item in self.items if item.outcome == outcome)

    @classmethod
    def refused(cls, items: list[_Item]) -> _Plan:
        """The verdict on rows that validation refused, every one of them."""
        for item in items:
            item.outcome = "refused"
        return cls(items=items)


def _validated(spec: EntitySpec[Any, Any], rows: list[_Row], *, unit: str) -> list[_Item]:
    """Every row validated and checked for duplicate keys: no database needed."""
    items = [_validate(spec, row) for row in rows]
    _mark_duplicates(spec, items, unit)
    return items


def _analyse(session: Session, spec: EntitySpec[Any, Any], items: list[_Item]) -> _Plan:
    """Match validated rows to stored records and decide each one's outcome."""
    _match_existing(session, spec, items)
    if "owner" in spec.validators:
        _resolve_owners(session, items)
    for item in items:
        _decide(spec, item)
    return _Plan(items=items)


# Import: applying


def import_records(
    db: Database,
    entity: str,
    source: TextIO,
    *,
    fmt: Format,
    actor: Actor,
    dry_run: bool,
    valid_only: bool = False,
) -> ImportReport:
    """Import ``entity`` records from ``source``, matched to stored ones by email or SKU.

    Every row is reported as add, update, unchanged or refused (with its line and the
    reasons). A problem with the file itself (unknown or missing column, broken CSV or
    JSON) raises `Invalid`. With ``dry_run`` nothing is written; otherwise all adds and
    updates are applied in one audited unit of work, or none if any row is refused
    (``applied`` is then False). With ``valid_only`` (the admin said so) the refused rows
    are left out and the others applied, still in one unit of work; the import's own
    audit entry counts the refused rows.
    """
    _check_format(fmt)
    spec = db.table(entity).spec
    with cycle_collection_paused():
        return _import_file(
            db, spec, source, fmt=fmt, actor=actor, dry_run=dry_run, valid_only=valid_only
        )


def _import_file(
    db: Database,
    spec: EntitySpec[Any, Any],
    source: TextIO,
    *,
    fmt: Format,
    actor: Actor,
    dry_run: bool,
    valid_only: bool,
) -> ImportReport:
    columns = _Columns.of(spec)
    rows = _read_rows(columns, source, fmt)
    unit = "line" if fmt == "csv" else "object"
    # Every value is checked before the database is touched: a file whose rows are all
    # refused (a 10 MB cell, an escape sequence) costs no query at all, and one with any
    # refused row is only read, never holding the write lock it will not use.
    items = _validated(spec, rows, unit=unit)
    if items and all(item.errors for item in items):
        return _Plan.refused(items).report(spec.plural, columns, applied=False)
    if dry_run or (not valid_only and any(item.errors for item in items)):
        with reading(db.sessions) as session:
            plan = _analyse(session, spec, items)
        return plan.report(spec.plural, columns, applied=False)
    try:
        with writing(db.sessions) as session, roomy_sqlite_cache(session):
            plan = _analyse(session, spec, items)
            if plan.count("refused") and not valid_only:
                return plan.report(spec.plural, columns, applied=False)
            _apply(session, spec, plan, actor=actor)
    except StaleWrite:
        raise Conflict(
            f"A {spec.entity} in the file was changed by someone else during the import; "
            "nothing was imported. Run the import again.",
            current=None,
        ) from None
    return plan.report(spec.plural, columns, applied=True)


def _apply(session: Session, spec: EntitySpec[Any, Any], plan: _Plan, *, actor: Actor) -> None:
    """Write every add and update, and an audit entry for each in file order, then the
    "import" entry: the same records and entries as importing the rows one by one, with a
    few executemany statements instead of a flush per row."""
    now = utcnow()
    updates = [(at, item) for at, item in enumerate(plan.items) if item.outcome == "update"]
    adds = [(at, item) for at, item in enumerate(plan.items) if item.outcome == "add"]
    in_file_order: list[PendingEntry | None] = [None] * len(plan.items)
    if updates:
        targets = [(item.existing, item.changes) for _, item in updates]
        changed = update_rows(session, spec, targets, now=now)
        for (at, _), entry in zip(updates, changed, strict=True):
            in_file_order[at] = entry
    if adds:
        new_rows = [item.clean for _, item in adds]
        created = insert_rows(session, spec, new_rows, now=now)
        for (at, _), entry in zip(adds, created, strict=True):
            in_file_order[at] = entry
    # Nothing changed, nothing to audit: re-importing an export leaves the trail untouched.
    if not adds and not updates:
        return
    entries = [entry for entry in in_file_order if entry is not None]
    batch = new_batch()
    write_entries(session, entries, actor=actor, batch=batch, entity=spec.entity)
    write_entry(
        session,
        actor=actor,
        batch=batch,
        action="import",
        entity=spec.plural,
        record_id=None,
        new={
            "added": len(adds),
            "updated": len(updates),
            "unchanged": plan.count("unchanged"),
            **({"refused": refused} if (refused := plan.count("refused")) else {}),
        },
    )


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
