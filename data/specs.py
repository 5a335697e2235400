"""What differs between users and products, written down once as data.

Everything generic (paging, search, create/update/delete, audit, undo, import, export) reads
one of these specs; adding a model means adding a spec, not copying code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from data.actor import Actor
from data.entities import PRODUCT_NAMES, USER_NAMES
from data.errors import Invalid, NotRestorable
from data.numbers import is_record_id
from data.paging import Column
from data.records import ProductRecord, UserRecord
from data.stored import StoredCheck, checked, stored_check
from data.trail import snapshot, write_entry
from data.validation import (
    PRICE_MAX,
    PRODUCT_FIELDS,
    STOCK_MAX,
    USER_FIELDS,
    Validator,
    is_plain_address,
)
from models import ROLES, Base, Product, User

ModelT = TypeVar("ModelT", bound=Base)
AnySelect = Select[*tuple[Any, ...]]
RecordT = TypeVar("RecordT")


@dataclass(frozen=True, eq=False)
class EntitySpec(Generic[ModelT, RecordT]):
    """How one model is listed, searched, validated, written and audited."""

    entity: str
    plural: str
    model: type[ModelT]
    record_type: type[RecordT]
    select: Callable[[], AnySelect]
    validators: Mapping[str, Validator]
    required: frozenset[str]
    sort_columns: Mapping[str, Column]
    search_columns: tuple[Column, ...]
    # The SQLite FTS5 table indexing search_columns by trigram (migration 0004).
    trigram_table: str
    natural_key: str
    snapshot_fields: tuple[str, ...]
    filter_columns: Mapping[str, Column] = field(default_factory=dict)
    # Sets clean values on a model, resolving references (a product's owner email).
    assign: Callable[[Session, ModelT, Mapping[str, Any]], None] | None = None
    # Runs before a delete, in its transaction and batch (a user's products lose their owner).
    before_delete: Callable[[Session, ModelT, Actor, str], None] | None = None
    # The columns export writes, in order (never a secret).
    export_columns: tuple[str, ...] = ()
    # File column -> field, where import reads a field under another name (owner_email).
    import_aliases: Mapping[str, str] = field(default_factory=dict)
    # Field -> model attribute, where a field is stored under another name (owner -> owner_id).
    field_attributes: Mapping[str, str] = field(default_factory=dict)
    # Field -> check of a stored value another tool may have written past validation.
    stored_checks: Mapping[str, StoredCheck] = field(default_factory=dict)

    def record(self, row: Any) -> RecordT:
        """Build the record from a row of ``select()``, marking values it cannot accept.

        By position (tests/test_records.py checks the select's columns against the record's
        fields): building a page's records by keyword cost a fifth of the page's time.
        """
        return checked(self.record_type(*row), self.stored_checks)

    def fetch(self, session: Session, record_id: int) -> RecordT | None:
        """The record with ``record_id`` as it is in this transaction, or None (also for an
        id no backend could store: it is never sent, where a server would refuse it)."""
        if not is_record_id(record_id):
            return None
        row = session.execute(self.select().where(self.sort_columns["id"] == record_id)).first()
        return self.record(row) if row is not None else None

    def describe(self, record: Any) -> str:
        """A short human name for messages: ``user 12 <alice@example.com>``."""
        return f"{self.entity} {record.id} <{getattr(record, self.natural_key)}>"

    def assign_values(self, session: Session, obj: ModelT, values: Mapping[str, Any]) -> None:
        """Set validated ``values`` on ``obj``."""
        if self.assign is not None:
            self.assign(session, obj, values)
            return
        for name, value in values.items():
            setattr(obj, name, value)


def from_json(model: type[Base], name: str, value: Any) -> Any:
    """The inverse of `to_json` for column ``name`` of ``model``.

    A value recorded as another tool stored it (``abc`` for a price) is never written
    back: `NotRestorable`, naming the field.
    """
    if value is None:
        return None
    python_type = model.__table__.c[name].type.python_type
    try:
        if python_type is Decimal:
            return Decimal(value)
        if python_type is datetime:
            return datetime.fromisoformat(value)
    except (ArithmeticError, TypeError, ValueError):
        pass
    else:
        if python_type not in (int, bool) or type(value) is python_type:
            return value
    raise NotRestorable(
        f"The {name} was recorded as {value!r}, which another tool stored and AccessGuard "
        "does not write back. Set a valid value instead."
    )


def _user_select() -> AnySelect:
    return select(
        User.id,
        User.name,
        User.email,
        User.role,
        User.is_active,
        User.password_hash.is_not(None).label("has_password"),
        User.created_at,
        User.updated_at,
        User.version,
    )


def _product_select() -> AnySelect:
    return select(
        Product.id,
        Product.sku,
        Product.name,
        Product.description,
        Product.price,
        Product.stock,
        Product.is_active,
        Product.owner_id,
        User.email.label("owner_email"),
        Product.created_at,
        Product.updated_at,
        Product.version,
    ).outerjoin(User, Product.owner_id == User.id)


def _unlink_owned_products(session: Session, user: User, actor: Actor, batch: str) -> None:
    """A deleted user's products lose their owner, each change audited in the same batch.

    Their versions move, so a colleague editing one of them is told; undoing the delete
    reverts the whole batch and gives the products back.
    """
    owned = session.scalars(
        select(Product).where(Product.owner_id == user.id).order_by(Product.id).with_for_update()
    ).all()
    for product in owned:
        old = snapshot(("owner_id",), product)
        product.owner_id = None
        session.flush()
        write_entry(
            session,
            actor=actor,
            batch=batch,
            action="update",
            entity="product",
            record_id=product.id,
            old=old,
            new=snapshot(("owner_id",), product),
        )


def _assign_product(session: Session, product: Product, values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        if name == "owner":
            product.owner_id = _resolve_owner(session, value)
        else:
            setattr(product, name, value)


def _resolve_owner(session: Session, owner: int | str | None) -> int | None:
    if owner is None:
        return None
    if isinstance(owner, int):
        if session.get(User, owner) is None:
            raise Invalid({"owner": f"no user with id {owner}"})
        return owner
    owner_id = session.scalar(select(User.id).where(User.email == owner))
    if owner_id is None:
        raise Invalid({"owner": f"no user with email {owner}"})
    return owner_id


def _columns(model: type[Base], names: tuple[str, ...]) -> dict[str, Column]:
    """The model's attributes named by ``names`` (data.entities), in that order."""
    return {name: getattr(model, name) for name in names}


def _is_filled(value: Any) -> bool:
    # Other checks (control characters, length) are for what people type: stored text is
    # shown made visible, so only an empty or missing value is marked here.
    return isinstance(value, str) and bool(value.strip())


def _is_flag(value: Any) -> bool:
    return isinstance(value, bool)


def _is_price(value: Any) -> bool:
    return isinstance(value, Decimal) and value.is_finite() and 0 <= value <= PRICE_MAX


def _is_stock(value: Any) -> bool:
    return isinstance(value, int) and 0 <= value <= STOCK_MAX


def _is_role(value: Any) -> bool:
    return value in ROLES


USERS: EntitySpec[User, UserRecord] = EntitySpec(
    entity=USER_NAMES.entity,
    plural=USER_NAMES.plural,
    model=User,
    record_type=UserRecord,
    select=_user_select,
    validators=USER_FIELDS,
    required=frozenset({"name", "email"}),
    sort_columns=_columns(User, USER_NAMES.sort_fields),
    search_columns=tuple(_columns(User, USER_NAMES.search_fields).values()),
    trigram_table="users_search",
    natural_key="email",
    snapshot_fields=("name", "email", "role", "is_active", "created_at"),
    # By id: the console's "follow the owner" shows the one user a product names.
    filter_columns={"id": User.id},
    before_delete=_unlink_owned_products,
    stored_checks={
        "name": stored_check(USER_FIELDS["name"], _is_filled),
        "email": stored_check(USER_FIELDS["email"], is_plain_address),
        "role": stored_check(USER_FIELDS["role"], _is_role),
        "is_active": stored_check(USER_FIELDS["is_active"], _is_flag),
    },
    export_columns=(
        "id",
        "name",
        "email",
        "role",
        "is_active",
        "has_password",
        "created_at",
        "updated_at",
    ),
)

PRODUCTS: EntitySpec[Product, ProductRecord] = EntitySpec(
    entity=PRODUCT_NAMES.entity,
    plural=PRODUCT_NAMES.plural,
    model=Product,
    record_type=ProductRecord,
    select=_product_select,
    validators=PRODUCT_FIELDS,
    required=frozenset({"sku", "name", "price"}),
    sort_columns=_columns(Product, PRODUCT_NAMES.sort_fields),
    search_columns=tuple(_columns(Product, PRODUCT_NAMES.search_fields).values()),
    trigram_table="products_search",
    natural_key="sku",
    snapshot_fields=(
        "sku",
        "name",
        "description",
        "price",
        "stock",
        "is_active",
        "owner_id",
        "created_at",
    ),
    filter_columns={"owner_id": Product.owner_id},
    assign=_assign_product,
    stored_checks={
        "sku": stored_check(PRODUCT_FIELDS["sku"], _is_filled),
        "name": stored_check(PRODUCT_FIELDS["name"], _is_filled),
        "price": stored_check(PRODUCT_FIELDS["price"], _is_price),
        "stock": stored_check(PRODUCT_FIELDS["stock"], _is_stock),
        "is_active": stored_check(PRODUCT_FIELDS["is_active"], _is_flag),
    },
    import_aliases={"owner_email": "owner"},
    field_attributes={"owner": "owner_id"},
    export_columns=(
        "id",
        "sku",
        "name",
        "description",
        "price",
        "stock",
        "is_active",
        "owner_email",
        "created_at",
        "updated_at",
    ),
)

SPECS: dict[str, EntitySpec[Any, Any]] = {spec.entity: spec for spec in (USERS, PRODUCTS)}

__all__ = ["PRODUCTS", "SPECS", "USERS", "EntitySpec", "from_json"]
