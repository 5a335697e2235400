"""How each kind of record is shown and edited: small specs that drive one generic screen.

A `ViewSpec` names the columns of the record table and the fields of the form; the data
rules (validation, sorting, searching) stay in ``data.specs``. Users and products are two
specs here, not two screens.

Nothing here loads SQLAlchemy: the console draws its first frame from these specs while the
database is still opening, and reaches the data core's side (`ViewSpec.entity`, the roles)
only once it is open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from data.entities import PRODUCT_NAMES, USER_NAMES, EntityNames
from data.records import AuditRecord, ProductRecord, UserRecord

if TYPE_CHECKING:
    from data.database import Database
    from data.specs import EntitySpec
    from data.tables import RecordStore

Align = Literal["left", "right"]
FieldKind = Literal["text", "email", "money", "count", "select", "switch", "owner", "multiline"]


def yes_no(value: bool) -> str:
    """``yes`` / ``no`` for a flag."""
    return "yes" if value else "no"


def timestamp(value: datetime) -> str:
    """A UTC time to the second, the way the audit log shows it."""
    return value.strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Link:
    """A column that names another record: Enter on it shows that record on ``view``'s
    screen. ``id_key`` is the attribute holding its id (None: the cell names nobody)."""

    view: str
    id_key: str


@dataclass(frozen=True)
class Related:
    """Records of ``view`` that point at this one through their ``filter`` field; the
    screen's "related" key lists them, the filter shown as ``label: <this record>``."""

    view: str
    filter: str
    label: str


@dataclass(frozen=True)
class ColumnSpec:
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


@dataclass(frozen=True)
class FieldSpec:
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


@dataclass(frozen=True)
class ViewSpec:
    """Everything the generic record screen and form need to show one kind of record."""

    key: str
    title: str
    names: EntityNames
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
        from data.specs import SPECS

        return SPECS[self.names.entity]

    def label(self, record: Any) -> str:
        """``user 12 <ana@example.com>``: how messages name a record."""
        return self.entity.describe(record)

    def field(self, name: str) -> FieldSpec:
        """The form field called ``name``."""
        return next(field for field in self.fields if field.name == name)


def _column(
    key: str, title: str, width: int, *, align: Align = "left", **kwargs: Any
) -> ColumnSpec:
    render = kwargs.pop("render", lambda record: str(getattr(record, key)))
    sortable = kwargs.pop("sortable", True)
    grow = kwargs.pop("grow", 0)
    field = kwargs.pop("field", None)
    link = kwargs.pop("link", None)
    sort = key if sortable else None
    return ColumnSpec(key, title, width, render, align, sort, grow, field=field, link=link)


def _roles() -> tuple[str, ...]:
    from models import ROLES

    return ROLES


def _owners_losing(db: Database, user_ids: list[int]) -> str | None:
    count = db.products_owned_by(user_ids)
    if count == 0:
        return None
    if count == 1:
        return "1 product will lose its owner."
    return f"{count:,} products will lose their owner."


USERS_VIEW = ViewSpec(
    key="users",
    title="Users",
    names=USER_NAMES,
    columns=(
        _column("id", "ID", 7, align="right"),
        _column("name", "Name", 18, grow=2, field="name"),
        _column("email", "Email", 26, grow=3, field="email"),
        _column("role", "Role", 6, field="role"),
        _column("is_active", "Active", 6, render=lambda r: yes_no(r.is_active), field="is_active"),
        _column(
            "has_password",
            "Pass",
            4,
            render=lambda r: "set" if r.has_password else "-",
            sortable=False,
        ),
    ),
    fields=(
        FieldSpec("name", "Name", "text", lambda r: r.name, placeholder="Full name"),
        FieldSpec("email", "Email", "email", lambda r: r.email, placeholder="name@example.com"),
        FieldSpec("role", "Role", "select", lambda r: r.role, choices=_roles, default="viewer"),
        FieldSpec("is_active", "Active", "switch", lambda r: r.is_active, default=True),
    ),
    table=lambda db: db.users,
    delete_consequence=_owners_losing,
    has_password=True,
    related=Related(view="products", filter="owner_id", label="owner"),
)

PRODUCTS_VIEW = ViewSpec(
    key="products",
    title="Products",
    names=PRODUCT_NAMES,
    columns=(
        _column("id", "ID", 7, align="right"),
        _column("sku", "SKU", 10, grow=1, field="sku"),
        _column("name", "Name", 14, grow=3, field="name"),
        _column("price", "Price", 11, align="right", field="price"),
        _column("stock", "Stock", 6, align="right", field="stock"),
        _column("is_active", "Active", 6, render=lambda r: yes_no(r.is_active), field="is_active"),
        _column(
            "owner_email",
            "Owner",
            12,
            render=lambda r: r.owner_email or "-",
            sortable=False,
            grow=2,
            field="owner",
            link=Link(view="users", id_key="owner_id"),
        ),
    ),
    fields=(
        FieldSpec("sku", "SKU", "text", lambda r: r.sku, placeholder="ABC-123"),
        FieldSpec("name", "Name", "text", lambda r: r.name, placeholder="Product name"),
        FieldSpec("price", "Price", "money", lambda r: str(r.price), placeholder="19.99"),
        FieldSpec("stock", "Stock", "count", lambda r: str(r.stock), default="0"),
        FieldSpec("is_active", "Active", "switch", lambda r: r.is_active, default=True),
        FieldSpec(
            "owner",
            "Owner",
            "owner",
            lambda r: r.owner_email or "",
            placeholder="search users by name or email",
        ),
        FieldSpec("description", "Description", "multiline", lambda r: r.description),
    ),
    table=lambda db: db.products,
)

VIEWS: dict[str, ViewSpec] = {view.key: view for view in (USERS_VIEW, PRODUCTS_VIEW)}


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
    ColumnSpec("action", "Action", 7, lambda e: e.action),
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
    "PRODUCTS_VIEW",
    "USERS_VIEW",
    "VIEWS",
    "AuditRecord",
    "ColumnSpec",
    "FieldSpec",
    "Link",
    "ProductRecord",
    "Related",
    "UserRecord",
    "ViewSpec",
    "describe_changes",
]
