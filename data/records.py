"""Plain, frozen records: the only shapes that leave data/. No ORM object ever does.

Each entity's own record class (``UserRecord``, ``ProductRecord``) is made from its
declaration: see `data.specs.EntitySpec.record_type`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, make_dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from data.entity import CLOCK_FIELDS, ID, Entity, Field

RecordT = TypeVar("RecordT")
# The most rows one page holds, whatever a request asks (`data.paging`).
PAGE_LIMIT_MAX = 1_000
# Rows a screen reads at a time unless the config file's page_size says otherwise.
PAGE_SIZE = 100


@dataclass(frozen=True)
class AuditRecord:
    """One audit entry. ``old``/``new`` hold JSON-ready values, secrets already redacted."""

    id: int
    at: datetime
    actor: str
    source: str
    batch: str
    action: str
    entity: str
    record_id: int | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    reverts_id: int | None
    # The database account that wrote it (PostgreSQL, MariaDB); None on SQLite.
    db_login: str | None = None

    @property
    def changes(self) -> dict[str, tuple[Any, Any]]:
        """Field -> (old, new) for every field this entry touched, bookkeeping left out."""
        old = self.old or {}
        new = self.new or {}
        fields = [key for key in {**old, **new} if key != "version"]
        return {key: (old.get(key), new.get(key)) for key in fields}


@dataclass(frozen=True)
class Count:
    """How many rows match; ``exact`` is False for an estimate (a big PostgreSQL table)."""

    rows: int
    exact: bool = True

    def __str__(self) -> str:
        return f"{self.rows:,}" if self.exact else f"~{self.rows:,}"


@dataclass(frozen=True)
class Cursor:
    """A keyset position: the sort column's value and the id that breaks ties."""

    value: Any
    id: int


@dataclass(frozen=True)
class PageRequest:
    """Which page to read.

    With no cursor: the first page (or the last, when ``from_end``). ``after`` reads
    forward from a page's ``next``; ``before`` reads backward from a page's ``prev``;
    ``start_at`` reads forward from a row itself (inclusive), to re-read a window in place.
    """

    sort: str = "id"
    descending: bool = False
    search: str = ""
    after: Cursor | None = None
    before: Cursor | None = None
    from_end: bool = False
    start_at: Cursor | None = None
    limit: int = PAGE_SIZE
    filters: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Page(Generic[RecordT]):
    """Some rows in display order, and how to reach the rows either side of them."""

    records: tuple[RecordT, ...]
    next: Cursor | None = None
    prev: Cursor | None = None
    has_next: bool = False
    has_prev: bool = False
    request: PageRequest = field(default_factory=PageRequest)


@dataclass(frozen=True)
class FieldChange:
    """One field an import row changes, named by its file column: the stored value (None
    for a new record) and the file's, as export writes them (text, numbers, true/false)."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ImportRow:
    """The verdict on one row of an import file: for a row that changes a record, the
    record's id (None for a new one) and each field it changes."""

    line: int
    key: str
    outcome: str  # "add", "update", "unchanged" or "refused"
    errors: dict[str, str] = field(default_factory=dict)
    record_id: int | None = None
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, in a dry run, would do): exact counts, the first rows that
    change a record with their field diffs, and the first refused rows with their reasons
    (at most `data.transfer.CHANGED_KEPT` and `data.transfer.REFUSED_KEPT`, so a report on
    a million rows stays small)."""

    entity: str
    counts: dict[str, int]
    refused: tuple[ImportRow, ...]
    applied: bool
    changed: tuple[ImportRow, ...] = ()

    def count(self, outcome: str) -> int:
        """How many rows ended with ``outcome``."""
        return self.counts.get(outcome, 0)

    @property
    def refused_left_out(self) -> int:
        """Refused rows counted but not kept in `refused`."""
        return self.count("refused") - len(self.refused)

    @property
    def changed_left_out(self) -> int:
        """Rows to add or update counted but not kept in `changed`."""
        return self.count("add") + self.count("update") - len(self.changed)


@dataclass(frozen=True)
class ImportProgress:
    """How far an import has read its file: in which step, rows and bytes so far."""

    step: str  # "checking" (every row, no database), "matching" or "writing"
    rows: int
    done_bytes: int
    total_bytes: int | None

    @property
    def fraction(self) -> float | None:
        """Of the file read in this step, from 0 to 1; None when its size is unknown."""
        if not self.total_bytes:
            return None
        return min(self.done_bytes / self.total_bytes, 1.0)


def shown_as(item: Field) -> str:
    """How a field is named in records and files: ``owner_email``, ``has_password``."""
    from data.entities import entity_named

    if item.kind == "relation":
        return f"{item.name}_{entity_named(item.to).natural_key}"
    if item.kind == "secret":
        return f"has_{item.name}"
    return item.name


def record_fields(declared: Entity) -> tuple[str, ...]:
    """The attributes of ``declared``'s records, in the order its query selects them: the
    id, each field (a relation as its id and the key it names), the times, the version."""
    names = [ID]
    for item in declared.fields:
        if item.kind == "relation":
            names.append(item.stored_as)
        names.append(shown_as(item))
    return (*names, *CLOCK_FIELDS, "version")


_record_classes: dict[Entity, type[Any]] = {}
# Records of two classes never compare equal: two threads asking first (the console's
# first page and the data core) must be handed one class, not one each.
_record_classes_lock = threading.Lock()


def record_class(declared: Entity) -> type[Any]:
    """The frozen record class of ``declared``: one class per entity, whoever reads the rows
    (the data core, or the console's first page before the data core has loaded)."""
    with _record_classes_lock:
        record = _record_classes.get(declared)
        if record is None:
            record = make_dataclass(
                f"{declared.entity.capitalize()}Record",
                [(name, Any) for name in record_fields(declared)],
                frozen=True,
            )
            record.__module__ = "data.records"
            record.__doc__ = f"A {declared.entity} as stored (a frozen copy; never an ORM object)."
            _record_classes[declared] = record
        return record


def __getattr__(name: str) -> Any:
    """``data.records.UserRecord``: each entity's record class, made from its declaration
    when first asked for (pickle finds a record's class so, in another process too)."""
    if name.startswith("_") or not name.endswith("Record"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from data.entities import registered
    from data.specs import spec_of

    for declared in registered():
        if name == f"{declared.entity.capitalize()}Record":
            return spec_of(declared.plural).record_type
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
