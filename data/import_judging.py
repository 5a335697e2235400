"""Import: judging each row. Every row is validated without the database (`judged_rows`),
then, batch by batch, matched to its stored record and given its outcome: add, update,
unchanged or refused (`analyse`).

A row that gives an id updates the record with that id, and may change its natural key
(an email corrected in an exported file): it is refused if no record has that id, or if
its key belongs to another record. A row without an id is matched by its natural key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.bulk import in_batches, table_of
from data.entity import ID
from data.errors import Invalid
from data.import_files import Row
from data.numbers import is_record_id, whole_number
from data.specs import EntitySpec
from data.validation import validate_fields

# A refused row's unreadable key is shown cut to this many characters.
KEY_SHOWN = 100


@dataclass
class Item:
    """A row under judgement; ``clean`` holds validated values, ``existing`` the matched row."""

    line: int
    key: str
    clean: dict[str, Any]
    errors: dict[str, str]
    key_valid: bool = True  # the key is normalised even when other fields are refused
    record_id: int | None = None  # the id the row gives: it updates that record
    existing: Any = None
    changes: dict[str, Any] = field(default_factory=dict)
    # A relation's value as the file names it (an owner's email), before it becomes an id.
    named: dict[str, Any] = field(default_factory=dict)
    outcome: str = "refused"


def record_id_of(raw: Any) -> int | None:
    """The record id a file's ``id`` cell or value gives, or None if it names none."""
    if isinstance(raw, bool):
        return None
    value = raw if isinstance(raw, int) else whole_number(raw) if isinstance(raw, str) else None
    return value if value is not None and is_record_id(value) else None


def validate_row(spec: EntitySpec[Any, Any], row: Row) -> Item:
    """One row's values validated without the database; its id and key named if readable."""
    nk = spec.natural_key
    errors = dict(row.errors)
    values = dict(row.values)
    raw_id = values.pop(ID, None)
    record_id = None if raw_id is None else record_id_of(raw_id)
    if raw_id is not None and record_id is None:
        errors[ID] = "must be a record id (a whole number from 1), or empty for a new record"
    clean: dict[str, Any] = {}
    if not row.errors:
        try:
            clean = validate_fields(spec.validators, values, required=(nk,))
        except Invalid as refused:
            errors.update(refused.errors)
    if nk in clean:
        return Item(line=row.line, key=clean[nk], clean=clean, errors=errors, record_id=record_id)
    # The row is refused; its key alone still names it in the report and finds duplicates.
    raw = row.values.get(nk)
    try:
        key = validate_fields(spec.validators, {nk: raw})[nk]
    except Invalid:
        return Item(
            line=row.line,
            key="" if raw is None else str(raw).strip()[:KEY_SHOWN],
            clean=clean,
            errors=errors,
            key_valid=False,
        )
    return Item(line=row.line, key=key, clean=clean, errors=errors, record_id=record_id)


class DuplicateKeys:
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


def judged_rows(
    spec: EntitySpec[Any, Any], rows: Iterable[Row], keys: DuplicateKeys, *, unit: str
) -> Iterator[Item]:
    """Every row validated, the second of two rows with a key refused (rows refused for other
    reasons still count as first), its first place named by ``unit`` ("line", "object"): no
    database needed."""
    for row in rows:
        item = validate_row(spec, row)
        if item.key_valid:
            first = keys.first(item.key, item.line)
            if first is not None:
                item.errors[spec.natural_key] = f"appears twice, first at {unit} {first}"
        if item.record_id is not None:
            # An id in the same digests as the keys, told apart by a prefix no key can hold.
            first = keys.first(f"\0{ID}:{item.record_id}", item.line)
            if first is not None:
                item.errors[ID] = f"appears twice, first at {unit} {first}"
        yield item


def _match_existing(session: Session, spec: EntitySpec[Any, Any], items: list[Item]) -> None:
    """Attach the stored row (column -> value) each valid item updates: the one with its id
    if it gives one, else the one with its natural key; IN (...) by batch.

    An id no record has, or a key that belongs to a record other than the row's id, is
    refused, naming the field and why.
    """
    table = table_of(spec.model)
    nk = spec.natural_key
    valid = [item for item in items if not item.errors]
    by_key: dict[str, dict[str, Any]] = {}
    for batch in in_batches(sorted({item.key for item in valid})):
        for row in session.execute(select(table).where(table.c[nk].in_(batch))):
            stored = dict(row._mapping)
            by_key[stored[nk]] = stored
    wanted_ids = {item.record_id for item in valid if item.record_id is not None}
    wanted_ids -= {stored[ID] for stored in by_key.values()}
    by_id = {stored[ID]: stored for stored in by_key.values()}
    for batch in in_batches(sorted(wanted_ids)):
        for row in session.execute(select(table).where(table.c[ID].in_(batch))):
            stored = dict(row._mapping)
            by_id[stored[ID]] = stored
    for item in valid:
        holder = by_key.get(item.key)
        if item.record_id is None:
            item.existing = holder
            continue
        item.existing = by_id.get(item.record_id)
        if item.existing is None:
            item.errors[ID] = (
                f"no {spec.entity} has id {item.record_id} "
                f"(leave the id empty to add it as a new {spec.entity})"
            )
        elif holder is not None and holder[ID] != item.record_id:
            item.errors[nk] = (
                f"{item.key} belongs to another {spec.entity} (id {holder[ID]}), "
                f"not to {spec.entity} {item.record_id}"
            )


def _resolve_relations(session: Session, spec: EntitySpec[Any, Any], items: list[Item]) -> None:
    """Turn each relation's keys (or ids) into ids, refusing rows that name no record
    (a product's owner email, looked up among users in batches)."""
    for relation in spec.declared.relations:
        name = relation.name
        wanted = [item for item in items if not item.errors and item.clean.get(name) is not None]
        for item in items:
            if not item.errors and name in item.clean:
                item.named[name] = item.clean[name]
        found = spec.resolve(session, relation, {item.clean[name] for item in wanted})
        for item in wanted:
            value = item.clean[name]
            if found[value] is None:
                item.errors[name] = spec.refuse_missing(relation, value)
            else:
                item.clean[name] = found[value]


def _decide(spec: EntitySpec[Any, Any], item: Item) -> None:
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


def stored_names(
    session: Session, spec: EntitySpec[Any, Any], relation_name: str, ids: Iterable[int]
) -> dict[int, str]:
    """The natural key of each record a ``relation`` of ``spec`` points at by id (an old
    owner's email, for a review's diff)."""
    target = spec.target(spec.declared.field(relation_name))
    table = table_of(target.model)
    key = table.c[target.natural_key]
    found: dict[int, str] = {}
    for batch in in_batches(sorted(set(ids))):
        found.update(session.execute(select(table.c[ID], key).where(table.c[ID].in_(batch))).all())
    return found


def analyse(session: Session, spec: EntitySpec[Any, Any], items: list[Item]) -> None:
    """Match validated rows to stored records and decide each one's outcome."""
    _match_existing(session, spec, items)
    _resolve_relations(session, spec, items)
    for item in items:
        _decide(spec, item)
