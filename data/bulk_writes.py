"""Writing many records at once (import): rows of plain values, one executemany per
statement, and audit entries that hold exactly what `data.tables.audited_insert` and
`data.tables.audited_change` would write for each record one by one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnDefault, bindparam, insert, inspect, select, update
from sqlalchemy.orm import Session

from data.bulk import execute_many, in_batches, table_of
from data.specs import EntitySpec
from data.trail import PendingEntry, change_values, changed_fields, snapshot_values
from data.translate import StaleWrite

# Stamped with the time of the unit of work; Core or the ORM would call utcnow() per row.
CLOCK_COLUMNS = ("created_at", "updated_at")


def insert_rows(
    session: Session,
    spec: EntitySpec[Any, Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
) -> list[PendingEntry]:
    """Insert a record per row of validated values; return their "create" entries, in order.

    Fields a row leaves out get the model's defaults, as with `audited_insert`, and each
    entry records the stored values of the spec's snapshot fields and the first version.
    """
    table = table_of(spec.model)
    shared = _first_values(spec, now)
    defaults = _column_defaults(spec, leaving_out=shared)
    new_row = {**defaults, **shared}
    stored = [{**new_row, **_columns(spec, values)} for values in rows]
    fields = [spec.field_attributes.get(name, name) for name in spec.validators]
    columns = list(dict.fromkeys([*defaults, *fields]))  # the shared values go in once
    pick = itemgetter(*columns)
    execute_many(
        session, insert(table), [pick(row) for row in stored], columns=columns, constants=shared
    )
    ids = _new_ids(session, spec, [row[spec.natural_key] for row in stored])
    return [
        PendingEntry(
            action="create",
            record_id=ids[row[spec.natural_key]],
            old=None,
            new=snapshot_values(spec.snapshot_fields, row),
        )
        for row in stored
    ]


def update_rows(
    session: Session,
    spec: EntitySpec[Any, Any],
    updates: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
    *,
    now: datetime,
) -> list[PendingEntry | None]:
    """Apply each (stored row, validated changes) if the row is still at the stored version.

    Returns each one's "update" entry, or None where no stored value really changes (no
    write, no new version, as with `audited_change`). Rows that change the same columns
    share one executemany of ``UPDATE ... WHERE id = ? AND version = ?``; a row that moved
    on since it was read matches nothing, and that raises `StaleWrite`.
    """
    table = table_of(spec.model)
    unaudited = {spec.field_attributes.get(name, name) for name in spec.validators}
    unaudited -= set(spec.snapshot_fields)
    if unaudited:  # only snapshot fields are compared, and only changed ones are written
        raise TypeError(f"{spec.entity} fields {sorted(unaudited)} are not in its snapshot")
    by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    entries: list[PendingEntry | None] = []
    for stored, changes in updates:
        after = {**stored, **_columns(spec, changes)}
        after["version"] = _version_after(spec, stored["version"])
        old_snapshot = snapshot_values(spec.snapshot_fields, stored)
        new_snapshot = snapshot_values(spec.snapshot_fields, after)
        changed = changed_fields(old_snapshot, new_snapshot)
        if not changed:
            entries.append(None)
            continue
        row = (
            *(after[name] for name in changed),
            after["version"],
            stored["id"],
            stored["version"],
        )
        by_columns.setdefault(tuple(changed), []).append(row)
        old, new = change_values(old_snapshot, new_snapshot, changed)
        entries.append(PendingEntry(action="update", record_id=stored["id"], old=old, new=new))
    versioned = update(table).where(
        table.c.id == bindparam("row_id"), table.c.version == bindparam("row_version")
    )
    for columns, group in by_columns.items():
        matched = execute_many(
            session,
            versioned,
            group,
            columns=(*columns, "version", "row_id", "row_version"),
            constants={"updated_at": now},
        )
        if matched != len(group):
            raise StaleWrite(f"{len(group) - matched} of {len(group)} {spec.plural} moved on")
    return entries


def _version_after(spec: EntitySpec[Any, Any], version: int | None) -> int:
    """The version the ORM's counter gives a row after ``version`` (None: a new row)."""
    generate = inspect(spec.model).version_id_generator
    if not callable(generate):
        raise TypeError(f"{spec.model.__name__} has no version counter run in Python")
    return int(generate(version))


def _columns(spec: EntitySpec[Any, Any], values: Mapping[str, Any]) -> Mapping[str, Any]:
    """Field -> value as column -> value (a product's owner is stored as owner_id)."""
    if not spec.field_attributes:
        return values
    return {spec.field_attributes.get(name, name): value for name, value in values.items()}


def _first_values(spec: EntitySpec[Any, Any], now: datetime) -> dict[str, Any]:
    """What every new row of one unit of work holds alike: the first version, and ``now``
    in the clock columns."""
    version_column = inspect(spec.model).version_id_col
    assert version_column is not None
    shared: dict[str, Any] = dict.fromkeys(CLOCK_COLUMNS, now)
    shared[version_column.key] = _version_after(spec, None)
    return shared


def _column_defaults(
    spec: EntitySpec[Any, Any], *, leaving_out: Mapping[str, Any]
) -> dict[str, Any]:
    """What a new row holds where its values say nothing: each column's own default value,
    or NULL where a column has none. A column whose default is computed is left out, and
    `execute_many` refuses to skip it."""
    defaults: dict[str, Any] = {}
    for column in table_of(spec.model).columns:
        if column.key in leaving_out:
            continue
        if isinstance(column.default, ColumnDefault) and column.default.is_scalar:
            defaults[column.key] = column.default.arg
        elif column.default is None and column.server_default is None and column.nullable:
            defaults[column.key] = None
    return defaults


def _new_ids(session: Session, spec: EntitySpec[Any, Any], keys: Sequence[str]) -> dict[str, int]:
    """Natural key -> id of rows just inserted by this unit of work.

    The driver's executemany returns no ids. One query reads back as many of the newest
    rows as were inserted: if their keys are exactly the keys inserted, they are the
    inserted rows, keys being unique. They are, as a rule: ids only grow, and SQLite's
    writers queue. Where a server's concurrent insert came in between, the keys are looked
    up in batches instead.
    """
    table = table_of(spec.model)
    key_column = table.c[spec.natural_key]
    newest = select(key_column, table.c.id).order_by(table.c.id.desc()).limit(len(keys))
    ids: dict[str, int] = dict(session.execute(newest).all())
    if len(ids) == len(keys) and all(key in ids for key in keys):
        return ids
    ids = {}
    for batch in in_batches(keys):
        ids.update(
            session.execute(select(key_column, table.c.id).where(key_column.in_(batch))).all()
        )
    return ids
