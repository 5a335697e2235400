"""Writing audit entries inside the unit of work that makes the change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import insert
from sqlalchemy.orm import Session

from data.actor import Actor
from data.bulk import execute_many, table_of
from models import AuditEntry, Malformed, utcnow
from models.audit import DB_LOGIN_MAX

# Where a pooled connection remembers its database login (its info lives as long as it).
_LOGIN_KEY = "accessguard.db_login"
# Where a session notes the transaction that has already sent its NOTIFY.
_ANNOUNCED_KEY = "accessguard.announced"
# The channel PostgreSQL consoles LISTEN on (`data.feed`): one NOTIFY per transaction.
NOTIFY_CHANNEL = "accessguard_changes"
_LOGIN_QUERIES = {
    "postgresql": "SELECT current_user",
    "mysql": "SELECT CURRENT_USER()",
    "mariadb": "SELECT CURRENT_USER()",
}


def new_batch() -> str:
    """An id shared by every audit entry of one unit of work (undo reverts a batch whole)."""
    return uuid.uuid4().hex


def to_json(value: Any) -> Any:
    """A stored value in a form JSON keeps exactly (Decimal and datetime as text, a
    malformed value as the text it was stored as)."""
    if isinstance(value, Malformed):
        return value.raw
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _isoformat(value)
    return value


# An import stamps its 100,000 new rows with one time, and isoformat costs more than the
# rest of a row's snapshot: the text of a recent time is kept rather than made again.
_isoformat = lru_cache(maxsize=64)(datetime.isoformat)


def snapshot(fields: Iterable[str], obj: Any) -> dict[str, Any]:
    """The named fields of ``obj`` as JSON-ready values, plus its version."""
    return snapshot_values(fields, {name: getattr(obj, name) for name in (*fields, "version")})


def snapshot_values(fields: Iterable[str], values: Mapping[str, Any]) -> dict[str, Any]:
    """The named fields of a row's ``values`` (column -> value) as JSON-ready values, plus
    its version: what an audit entry records of a record, whether it was written as one
    object or as one row of many."""
    recorded = {name: to_json(values[name]) for name in fields}
    recorded["version"] = values["version"]
    return recorded


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The fields of two snapshots of one record whose values differ, the version aside."""
    return [name for name in before if name != "version" and before[name] != after[name]]


def change_values(
    before: Mapping[str, Any], after: Mapping[str, Any], changed: Iterable[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An update entry's old and new values: the ``changed`` fields and the version."""
    names = [*changed, "version"]
    return {name: before[name] for name in names}, {name: after[name] for name in names}


class PendingEntry(NamedTuple):
    """An audit entry about one record, to be written with many others by `write_entries`."""

    action: str
    record_id: int
    old: dict[str, Any] | None
    new: dict[str, Any] | None


# The columns a `PendingEntry` holds, in its order: each is a row of `write_entries` as it is.
_PENDING_COLUMNS = ("action", "record_id", "old_values", "new_values")


def write_entry(
    session: Session,
    *,
    actor: Actor,
    batch: str,
    action: str,
    entity: str,
    record_id: int | None,
    old: Mapping[str, Any] | None = None,
    new: Mapping[str, Any] | None = None,
    reverts_id: int | None = None,
) -> AuditEntry:
    """Add one audit entry to the current transaction and flush it (later checks read it)."""
    _announce(session)
    entry = AuditEntry(
        **_who(session, actor, batch),
        action=action,
        entity=entity,
        record_id=record_id,
        old_values=_json_object(old),
        new_values=_json_object(new),
        reverts_id=reverts_id,
    )
    session.add(entry)
    session.flush()
    return entry


def write_entries(
    session: Session,
    entries: Sequence[PendingEntry],
    *,
    actor: Actor,
    batch: str,
    entity: str,
) -> None:
    """Add an audit entry per `PendingEntry`, in order, with one executemany.

    Each holds what `write_entry` would write for it; the time is one for the whole batch,
    as the batch is one unit of work.
    """
    _announce(session)
    execute_many(
        session,
        insert(table_of(AuditEntry)),
        entries,
        columns=_PENDING_COLUMNS,
        constants={
            **_who(session, actor, batch),
            "entity": entity,
            "reverts_id": None,
            "at": utcnow(),
        },
    )


def write_restores(
    session: Session,
    restores: Sequence[tuple[int, Mapping[str, Any] | None, Mapping[str, Any] | None, int]],
    *,
    actor: Actor,
    batch: str,
    entity: str,
) -> None:
    """Add a "restore" entry per (record id, old, new, reverted entry id), with one
    executemany: what `write_entry` would write for each (an undo of many rows at once)."""
    _announce(session)
    execute_many(
        session,
        insert(table_of(AuditEntry)),
        restores,
        columns=("record_id", "old_values", "new_values", "reverts_id"),
        constants={
            **_who(session, actor, batch),
            "entity": entity,
            "action": "restore",
            "at": utcnow(),
        },
    )


def _announce(session: Session) -> None:
    """On PostgreSQL, NOTIFY the consoles listening (`data.feed`) in this transaction.

    Sent inside the transaction that writes the audit entry, PostgreSQL delivers it when
    that transaction commits, and never if it rolls back. Once per transaction: a bulk
    change is one "something changed".
    """
    transaction = session.get_transaction()
    if session.info.get(_ANNOUNCED_KEY) is transaction:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"NOTIFY {NOTIFY_CHANNEL}")
    session.info[_ANNOUNCED_KEY] = transaction


def database_login(session: Session) -> str | None:
    """The database account ``session``'s transaction writes as (None on SQLite).

    Asked of the connection that writes the audit entry, once per pooled connection: the
    login cannot change while the connection lives (AccessGuard never runs SET ROLE).
    """
    connection = session.connection()
    query = _LOGIN_QUERIES.get(connection.dialect.name)
    if query is None:
        return None
    info = connection.info
    if _LOGIN_KEY not in info:
        info[_LOGIN_KEY] = str(connection.exec_driver_sql(query).scalar())[:DB_LOGIN_MAX]
    login: str = info[_LOGIN_KEY]
    return login


def _who(session: Session, actor: Actor, batch: str) -> dict[str, Any]:
    """The columns that say who made the change, and in which unit of work."""
    return {
        "actor": actor.label,
        "os_user": actor.os_user,
        "sudo_user": actor.sudo_user,
        "client_addr": actor.client_addr,
        "source": actor.source,
        "db_login": database_login(session),
        "batch": batch,
    }


def _json_object(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(values) if values is not None else None
