"""Plain, frozen records: the only shapes that leave data/. No ORM object ever does.

Each entity's own record class (``UserRecord``, ``ProductRecord``) is made from its
declaration: see `data.specs.EntitySpec.record_type`. An audit entry is
`data.audit_record.AuditRecord`, apart: the console's first frame never reads one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, make_dataclass
from typing import Any, Generic, TypeVar

from data.entity import CLOCK_FIELDS, ID, Entity, Field

RecordT = TypeVar("RecordT")
# The most rows one page holds, whatever a request asks (`data.paging`).
PAGE_LIMIT_MAX = 1_000
# Rows a screen reads at a time unless the config file's page_size says otherwise.
PAGE_SIZE = 100


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
