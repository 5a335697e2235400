"""The data core's side of each declared entity, derived once from its declaration.

Everything generic (paging, search, create/update/delete, audit, undo, import, export) reads
an `EntitySpec`; it is built from the entity's `data.entity.Entity` and its model, so no
line here names a particular entity.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache, cached_property
from typing import Any, Generic, TypeVar

from sqlalchemy import BigInteger, Integer, Numeric, Select, String, func, select
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator, TypeEngine

from data import validation
from data.actor import Actor
from data.bulk import in_batches
from data.entities import entity_named, registered
from data.entity import CLOCK_FIELDS, ID, Entity, Field
from data.errors import Invalid, NotRestorable
from data.numbers import is_record_id
from data.paging import Column
from data.plain_checks import BIGINT_MAX, INTEGER_MAX, money_max, plain_check
from data.records import record_class, record_fields, shown_as
from data.stored import StoredCheck, checked, stored_check
from data.trail import snapshot, write_entry
from data.validation import Validator
from models import Base

ModelT = TypeVar("ModelT", bound=Base)
AnySelect = Select[*tuple[Any, ...]]
RecordT = TypeVar("RecordT")


@dataclass(frozen=True)
class Dependants:
    """Records of another entity that point at some records through one of its relations."""

    spec: EntitySpec[Any, Any]
    relation: Field
    count: int

    def consequence(self, *, done: bool) -> str:
        """``3 products will lose their owner`` (before) or ``... lost their owner`` (after)."""
        records = self.spec.declared.counted(self.count)
        label = self.relation.title.lower()
        if self.relation.on_delete == "refuse":
            return f"{records} still name it as {label}"
        verb = "lost" if done else "will lose"
        return f"{records} {verb} {'its' if self.count == 1 else 'their'} {label}"


class EntitySpec(Generic[ModelT, RecordT]):
    """How one entity is listed, searched, validated, written and audited."""

    def __init__(self, declared: Entity) -> None:
        self.declared = declared
        self.entity = declared.entity
        self.plural = declared.plural
        self.natural_key = declared.natural_key
        module, _, name = declared.model.partition(":")
        self.model: type[ModelT] = getattr(importlib.import_module(module), name)
        if self.model.__tablename__ != self.plural:
            # Readers that run before SQLAlchemy loads (`data.first_page`) name the table so.
            raise TypeError(f"{self.plural}: the model's table must be called {self.plural!r}")
        self.required = frozenset(item.name for item in declared.fields if item.required)
        self.sort_columns: dict[str, Column] = {
            name: getattr(self.model, name) for name in declared.sort_fields
        }
        self.search_columns: tuple[Column, ...] = tuple(
            getattr(self.model, name) for name in declared.search_fields
        )
        # The SQLite FTS5 table indexing search_columns by trigram (its migration makes it).
        self.trigram_table = f"{self.model.__tablename__}_search"
        self.snapshot_fields = (*(item.stored_as for item in declared.editable), "created_at")
        # Field -> model attribute, where a field is stored under another name (owner_id).
        self.field_attributes = {
            item.name: item.stored_as for item in declared.editable if item.stored_as != item.name
        }
        self.filter_columns: dict[str, Column] = {
            ID: getattr(self.model, ID),
            **{item.stored_as: getattr(self.model, item.stored_as) for item in declared.relations},
        }
        # File column -> field, where a relation is written by the key it names (owner_email).
        self.import_aliases = {shown_as(item): item.name for item in declared.relations}
        self.export_columns = (ID, *map(shown_as, declared.fields), *CLOCK_FIELDS)

    # Derived lazily: a relation's rules read the entity it names, which may be declared later.

    @cached_property
    def validators(self) -> dict[str, Validator]:
        """Field -> the validator of what people type or files hold."""
        return {item.name: self._validator(item) for item in self.declared.editable}

    @cached_property
    def stored_checks(self) -> dict[str, StoredCheck]:
        """Field -> the check of a stored value another tool may have written past validation."""
        checks = {}
        for item in self.declared.editable:
            plainly = self._plainly(item)
            if plainly is not None:
                checks[item.name] = stored_check(self.validators[item.name], plainly)
        return checks

    @cached_property
    def record_type(self) -> type[Any]:
        """The frozen record class, one attribute per selected column, in `select` order."""
        record = record_class(self.declared)
        selected = tuple(str(column.key) for column in self.select().selected_columns)
        if selected != record_fields(self.declared):
            # One order for both readers of rows (`data.first_page` builds records too).
            raise TypeError(f"{self.plural}: select() gives {selected}, records hold another")
        return record

    def select(self) -> AnySelect:
        """The query a record is read by: its columns, a relation's id and the key it names
        (a product's ``owner_id`` and ``owner_email``), whether a secret is set."""
        model = self.model
        columns: list[Any] = [getattr(model, ID)]
        joins = []
        for item in self.declared.fields:
            if item.kind == "relation":
                target = self.target(item)
                key = getattr(target.model, target.natural_key)
                columns += [getattr(model, item.stored_as), key.label(shown_as(item))]
                joins.append((target.model, getattr(model, item.stored_as) == target.model.id))
            elif item.kind == "secret":
                secret = getattr(model, item.stored_as).is_not(None)
                columns.append(secret.label(shown_as(item)))
            else:
                columns.append(getattr(model, item.name))
        columns += [getattr(model, name) for name in (*CLOCK_FIELDS, "version")]
        stmt = select(*columns)
        for target_model, on in joins:
            stmt = stmt.outerjoin(target_model, on)
        return stmt

    # Records

    def record(self, row: Any) -> RecordT:
        """Build the record from a row of ``select()``, marking values it cannot accept.

        By position: `record_type` is made from ``select()``'s own columns, so the two
        cannot disagree; building a page's records by keyword cost a fifth of its time.
        """
        return checked(self.record_type(*row), self.stored_checks)  # type: ignore[no-any-return]

    def fetch(self, session: Session, record_id: int) -> RecordT | None:
        """The record with ``record_id`` as it is in this transaction, or None (also for an
        id no backend could store: it is never sent, where a server would refuse it)."""
        if not is_record_id(record_id):
            return None
        row = session.execute(self.select().where(self.sort_columns[ID] == record_id)).first()
        return self.record(row) if row is not None else None

    def describe(self, record: Any) -> str:
        """A short human name for messages: ``user 12 <alice@example.com>``."""
        return f"{self.entity} {record.id} <{getattr(record, self.natural_key)}>"

    # Writing

    def assign_values(self, session: Session, obj: ModelT, values: Mapping[str, Any]) -> None:
        """Set validated ``values`` on ``obj``, a relation's key looked up as an id."""
        for name, value in self.stored_values(session, values).items():
            setattr(obj, self.declared.field(name).stored_as, value)

    def stored_values(self, session: Session, values: Mapping[str, Any]) -> dict[str, Any]:
        """Validated ``values`` as they would be stored, by field: a relation's key (an
        email) as the id it names, or `Invalid` when it names no record."""
        stored = {}
        for name, value in values.items():
            item = self.declared.field(name)
            if item.kind == "relation":
                value = self.resolve(session, item, [value])[value]
                if value is None and values[name] is not None:
                    raise Invalid({name: self._not_found(item, values[name])})
            stored[name] = value
        return stored

    def resolve(
        self, session: Session, relation: Field, wanted: Iterable[int | str | None]
    ) -> dict[int | str | None, int | None]:
        """Each id or natural key a ``relation`` value names -> the id of that record, or
        None where there is none (and None -> None: no record named)."""
        target = self.target(relation)
        values = set(wanted)
        keys = sorted(value for value in values if isinstance(value, str))
        ids = sorted(value for value in values if isinstance(value, int))
        key_column = getattr(target.model, target.natural_key)
        id_column = getattr(target.model, ID)
        found: dict[int | str | None, int | None] = dict.fromkeys(values)
        for batch in in_batches(keys):
            rows = session.execute(select(key_column, id_column).where(key_column.in_(batch)))
            found.update((key, record_id) for key, record_id in rows)
        for batch in in_batches(ids):
            found.update(
                (value, value)
                for value in session.scalars(select(id_column).where(id_column.in_(batch)))
            )
        return found

    def _not_found(self, relation: Field, value: int | str) -> str:
        target = self.target(relation)
        by_what = ID if isinstance(value, int) else target.natural_key
        return f"no {target.entity} with {by_what} {value}"

    def refuse_missing(self, relation: Field, value: int | str) -> str:
        """Why a ``relation`` value names no record: ``no user with email x@example.com``."""
        return self._not_found(relation, value)

    def target(self, relation: Field) -> EntitySpec[Any, Any]:
        """The spec of the entity ``relation`` names."""
        return spec_of(relation.to)

    def dependants(self, session: Session, record_ids: Sequence[int]) -> list[Dependants]:
        """The records of every entity that point at these records, by relation."""
        found = []
        for other, relation in _relations_to(self.plural):
            column = getattr(other.model, relation.stored_as)
            count = 0
            for batch in in_batches(list(record_ids)):
                stmt = select(func.count()).select_from(other.model).where(column.in_(batch))
                count += int(session.scalar(stmt) or 0)
            if count:
                found.append(Dependants(other, relation, count))
        return found

    def before_delete(self, session: Session, obj: ModelT, actor: Actor, batch: str) -> None:
        """What deleting ``obj`` does to the records that point at it, in its transaction
        and batch: refused while a relation says so, else they lose the link, each change
        audited (their versions move, so a colleague editing one is told; undoing the
        delete reverts the whole batch and gives the link back)."""
        record_id = getattr(obj, ID)
        for other, relation in _relations_to(self.plural):
            column = getattr(other.model, relation.stored_as)
            pointing = select(other.model).where(column == record_id).order_by(other.model.id)
            if relation.on_delete == "refuse":
                count = session.scalar(select(func.count()).select_from(pointing.subquery()))
                if count:
                    refused = Dependants(other, relation, count).consequence(done=False)
                    raise Invalid({other.plural: refused})
                continue
            for dependant in session.scalars(pointing.with_for_update()).all():
                old = snapshot((relation.stored_as,), dependant)
                setattr(dependant, relation.stored_as, None)
                session.flush()
                write_entry(
                    session,
                    actor=actor,
                    batch=batch,
                    action="update",
                    entity=other.entity,
                    record_id=dependant.id,
                    old=old,
                    new=snapshot((relation.stored_as,), dependant),
                )

    # Derivation

    def _column_type(self, item: Field) -> TypeEngine[Any]:
        column_type: TypeEngine[Any] = self.model.__table__.c[item.stored_as].type
        return column_type.impl_instance if isinstance(column_type, TypeDecorator) else column_type

    def _validator(self, item: Field) -> Validator:
        column_type = self._column_type(item)
        match item.kind:
            case "text":
                return validation.required_text(_length(column_type))
            case "multiline":
                return validation.multiline_text(_length(column_type))
            case "email":
                return validation.email
            case "code":
                return validation.code(_length(column_type))
            case "money":
                return validation.money(_money_max(column_type))
            case "count":
                return validation.count(_integer_max(column_type))
            case "choice":
                assert item.choices is not None  # Field checks it
                return validation.choice(item.choices)
            case "flag":
                return validation.flag
            case "relation":
                target = entity_named(item.to)
                key = target.field(target.natural_key)
                return validation.reference(
                    target.entity, target.natural_key, self.target(item)._validator(key)
                )
        raise TypeError(f"{self.plural}.{item.name}: no validator for kind {item.kind!r}")

    def _plainly(self, item: Field) -> Callable[[Any], bool] | None:
        """A cheap test that a stored value is acceptable; None: not checked when read."""
        top: Decimal | int | None = None
        if item.kind == "money":
            top = _money_max(self._column_type(item))
        elif item.kind == "count":
            top = _integer_max(self._column_type(item))
        return plain_check(item, top)


def _length(column_type: TypeEngine[Any]) -> int:
    if not isinstance(column_type, String) or column_type.length is None:
        raise TypeError(f"a text field needs a column of bounded length, not {column_type!r}")
    return column_type.length


def _money_max(column_type: TypeEngine[Any]) -> Decimal:
    """The most a ``Numeric(p, s)`` holds: 9999999999.99 for (12, 2)."""
    if not isinstance(column_type, Numeric) or column_type.precision is None:
        raise TypeError(f"a money field needs a Numeric(precision, scale), not {column_type!r}")
    return money_max(column_type.precision, column_type.scale or 0)


def _integer_max(column_type: TypeEngine[Any]) -> int:
    if isinstance(column_type, BigInteger):
        return BIGINT_MAX
    if isinstance(column_type, Integer):
        return INTEGER_MAX
    raise TypeError(f"a count field needs an integer column, not {column_type!r}")


def _relations_to(plural: str) -> Iterator[tuple[EntitySpec[Any, Any], Field]]:
    """Every registered relation that names records of ``plural``, with its entity's spec."""
    for other in registered():
        for relation in other.relations:
            if relation.to == plural:
                yield spec_of(other.plural), relation


@cache
def _derived(declared: Entity) -> EntitySpec[Any, Any]:
    return EntitySpec(declared)


def spec_of(name: str) -> EntitySpec[Any, Any]:
    """The spec of the entity called ``name`` (``user`` or ``users``); `KeyError` if none."""
    return _derived(entity_named(name))


def declared_models() -> tuple[type[Base], ...]:
    """The model of every registered entity, imported: Alembic and the schema check see
    each declared entity's table without a list of models to keep."""
    return tuple(spec.model for spec in SPECS.values())


class _Specs(Mapping[str, EntitySpec[Any, Any]]):
    """Entity (singular) -> spec, for every registered entity, as registered right now."""

    def __getitem__(self, name: str) -> EntitySpec[Any, Any]:
        declared = entity_named(name)
        if declared.entity != name:
            raise KeyError(name)
        return _derived(declared)

    def __iter__(self) -> Iterator[str]:
        return iter([declared.entity for declared in registered()])

    def __len__(self) -> int:
        return len(registered())


SPECS: Mapping[str, EntitySpec[Any, Any]] = _Specs()


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


__all__ = ["SPECS", "Dependants", "EntitySpec", "declared_models", "from_json", "spec_of"]
