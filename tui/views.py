"""How each kind of record is shown and edited: small specs that drive one generic screen.

A `ViewSpec` names the columns of the record table and the fields of the form, derived from
the entity's declaration (`data.entity`); the data rules stay in ``data.specs``. Every entity is
a view here, not a screen of its own.

Nothing here loads SQLAlchemy: the console draws its first frame from these specs while the
database is still opening, and reaches the data core's side (`ViewSpec.entity`, the roles)
only once it is open.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache, partial
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from data.entities import AUDIT_KEY, entity_named, registered
from data.entity import Entity, Field
from data.records import shown_as

if TYPE_CHECKING:
    from data.audit_record import AuditRecord
    from data.database import Database
    from data.specs import EntitySpec
    from data.tables import RecordStore

Align = Literal["left", "right"]
FieldKind = Literal["text", "email", "money", "count", "select", "switch", "relation", "multiline"]


def yes_no(value: bool) -> str:
    """``yes`` / ``no`` for a flag."""
    return "yes" if value else "no"


def timestamp(value: datetime) -> str:
    """A UTC time to the second, the way the audit log shows it."""
    return value.strftime("%Y-%m-%d %H:%M:%S")


class Link(NamedTuple):
    """A column that names another record: Enter on it shows that record on ``view``'s
    screen. ``id_key`` is the attribute holding its id (None: the cell names nobody)."""

    view: str
    id_key: str


class Related(NamedTuple):
    """Records of ``view`` that point at this one through their ``filter`` field; the
    screen's "related" key lists them, the filter shown as ``label: <this record>``."""

    view: str
    filter: str
    label: str


class ColumnSpec(NamedTuple):
    """One column of a record table: which attribute, its title, width and alignment.

    ``width`` is the least it gets (all columns fit 80 cells at their least); spare room
    is shared out by ``grow`` weight. ``sort`` is the data layer's sort key, or None.
    ``field`` names the form field a quick edit (F2) of the cell sets, or None where the
    column cannot be edited in place (ids, times, passwords).
    """

    key: str
    title: str
    width: int
    render: Callable[[Any], str]
    align: Align = "left"
    sort: str | None = None
    grow: int = 0
    field: str | None = None
    link: Link | None = None


class FieldSpec(NamedTuple):
    """One field of a record form: the data field it sets and the widget that edits it.

    ``choices`` gives a select's options when the form opens (they may come from the models).
    """

    name: str
    label: str
    kind: FieldKind
    initial: Callable[[Any], Any]
    choices: Callable[[], tuple[str, ...]] = tuple
    placeholder: str = ""
    default: Any = ""
    # A relation's: the entity (plural) whose records it names.
    to: str = ""


class ViewSpec(NamedTuple):
    """Everything the generic record screen and form need to show one kind of record."""

    key: str
    title: str
    names: Entity
    columns: tuple[ColumnSpec, ...]
    fields: tuple[FieldSpec, ...]
    table: Callable[[Database], RecordStore[Any, Any]]
    # What else deleting these records changes, said in the confirm dialog (None: nothing).
    # Called from a worker thread: it may query the database.
    delete_consequence: Callable[[Database, list[int]], str | None] = lambda _db, _ids: None
    # Whether the form offers "set password".
    has_password: bool = False
    # What o lists: the records of another view that point at the one under the cursor.
    related: Related | None = None

    @property
    def entity(self) -> EntitySpec[Any, Any]:
        """The data core's spec of these records (validation, how they are named).

        It loads the data core, so the console asks for it only once the database is open.
        """
        from data.specs import spec_of

        return spec_of(self.names.plural)

    def label(self, record: Any) -> str:
        """``user 12 <ana@example.com>``: how messages name a record."""
        return self.entity.describe(record)

    def field(self, name: str) -> FieldSpec:
        """The form field called ``name``."""
        return next(field for field in self.fields if field.name == name)

    @property
    def key_name(self) -> str:
        """What the natural key is called mid-sentence: ``email``, ``SKU``."""
        key = self.names.field(self.names.natural_key)
        return key.label or key.name.replace("_", " ")


@cache
def view_of(declared: Entity) -> ViewSpec:
    """The console's view of one declared entity: its table's columns and its form."""
    return ViewSpec(
        key=declared.plural,
        title=declared.screen_title,
        names=declared,
        columns=(ID_COLUMN, *(_column(item) for item in declared.fields if item.width)),
        fields=tuple(_form_field(item) for item in _form_order(declared.editable)),
        table=lambda db: db.table(declared.plural),
        delete_consequence=partial(_delete_consequence, declared.plural),
        has_password=declared.secret is not None,
        related=_related(declared),
    )


def views() -> tuple[ViewSpec, ...]:
    """A view of every registered entity, in the order of their screen keys."""
    return tuple(view_of(declared) for declared in registered())


def opening_view() -> ViewSpec:
    """The view the console opens on: the first registered entity's (Users)."""
    return views()[0]


def view_named(name: str) -> ViewSpec:
    """The view of the entity called ``name`` (``users``); `KeyError` if there is none."""
    return view_of(entity_named(name))


class ScreenTab(NamedTuple):
    """A screen as the status line and the number keys name it."""

    key: str
    label: str
    title: str
    mode: str


AUDIT_TAB = ScreenTab(AUDIT_KEY, "Audit", "Audit log", "audit")


def screen_tabs() -> tuple[ScreenTab, ...]:
    """Every screen, in the order of its key: each entity's, and the audit log."""
    tabs = [ScreenTab(view.names.key, view.title, view.title, view.key) for view in views()]
    return tuple(sorted([*tabs, AUDIT_TAB], key=lambda tab: tab.key))


ID_COLUMN = ColumnSpec("id", "ID", 7, lambda record: str(record.id), "right", sort="id")

# The form's widget for each kind of field.
_WIDGETS: dict[str, FieldKind] = {
    "text": "text",
    "code": "text",
    "email": "email",
    "money": "money",
    "count": "count",
    "choice": "select",
    "flag": "switch",
    "relation": "relation",
    "multiline": "multiline",
}


def _column(item: Field) -> ColumnSpec:
    """The table column that shows ``item``; a relation's links to the record it names."""
    key = shown_as(item)
    link = Link(view=item.to, id_key=item.stored_as) if item.kind == "relation" else None
    return ColumnSpec(
        key,
        item.column_title,
        item.width,
        partial(_cell, item, key),
        "right" if item.kind in ("money", "count") else "left",
        sort=item.name if item.sort else None,
        grow=item.grow,
        field=item.name if item.editable else None,
        link=link,
    )


def _cell(item: Field, key: str, record: Any) -> str:
    value = getattr(record, key)
    if item.kind == "flag":
        return yes_no(value)
    if item.kind == "secret":
        return "set" if value else "-"
    if value is None:
        return "-"
    return str(value)


def _form_order(fields: tuple[Field, ...]) -> list[Field]:
    # Free text goes last, where its box has the room to grow.
    return sorted(fields, key=lambda item: item.kind == "multiline")


def _form_field(item: Field) -> FieldSpec:
    key = shown_as(item)
    return FieldSpec(
        item.name,
        item.title,
        _WIDGETS[item.kind],
        partial(_initial, item, key),
        choices=item.choices or tuple,
        placeholder=item.placeholder or _placeholder(item),
        default=_default(item),
        to=item.to,
    )


def _default(item: Field) -> Any:
    """What a new record's form shows: typed text for numbers, the value for a switch."""
    if item.default is None:
        return ""
    return str(item.default) if item.kind in ("money", "count") else item.default


def _initial(item: Field, key: str, record: Any) -> Any:
    value = getattr(record, key)
    if item.kind in ("money", "count"):
        return str(value)
    if item.kind == "relation":
        return value or ""
    return value


def _placeholder(item: Field) -> str:
    if item.kind != "relation":
        return ""
    target = entity_named(item.to)
    return f"search {target.plural} by {' or '.join(target.search_fields)}"


def _related(declared: Entity) -> Related | None:
    """What ``o`` lists: the records of the first entity whose relation names these."""
    for other in registered():
        for relation in other.relations:
            if relation.to == declared.plural:
                return Related(other.plural, relation.stored_as, relation.title.lower())
    return None


def _delete_consequence(plural: str, db: Database, record_ids: list[int]) -> str | None:
    found = db.dependants(plural, record_ids)
    return "; ".join(d.consequence(done=False) for d in found).capitalize() + "." if found else None


def describe_changes(entry: AuditRecord) -> str:
    """``name: Ana -> Anna; role: viewer -> editor`` for one audit entry."""
    parts = []
    for field, (old, new) in entry.changes.items():
        if entry.old is None:  # created, seeded, imported: only the new state exists
            parts.append(f"{field}: {_short(new)}")
        elif entry.new is None:  # deleted: only the old state exists
            parts.append(f"{field}: {_short(old)}")
        else:
            parts.append(f"{field}: {_short(old)} -> {_short(new)}")
    return "; ".join(parts)


def _short(value: Any) -> str:
    return "-" if value is None else str(value)


AUDIT_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("at", "Time (UTC)", 19, lambda e: timestamp(e.at)),
    ColumnSpec("actor", "Actor", 12, lambda e: e.actor, grow=1),
    ColumnSpec("action", "Action", 8, lambda e: e.action),  # "password", the longest
    ColumnSpec(
        "record",
        "Record",
        11,
        lambda e: f"{e.entity} {e.record_id}" if e.record_id is not None else e.entity,
    ),
    ColumnSpec("changes", "Changes", 20, describe_changes, grow=4),
)

__all__ = [
    "AUDIT_COLUMNS",
    "AUDIT_TAB",
    "ID_COLUMN",
    "ColumnSpec",
    "FieldSpec",
    "Link",
    "Related",
    "ScreenTab",
    "ViewSpec",
    "describe_changes",
    "opening_view",
    "screen_tabs",
    "shown_as",
    "view_named",
    "view_of",
    "views",
]
