"""Writing audit entries inside the unit of work that makes the change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from data.actor import Actor
from models import AuditEntry


def new_batch() -> str:
    """An id shared by every audit entry of one unit of work (undo reverts a batch whole)."""
    return uuid.uuid4().hex


def to_json(value: Any) -> Any:
    """A stored value in a form JSON keeps exactly (Decimal and datetime as text)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def snapshot(fields: Iterable[str], obj: Any) -> dict[str, Any]:
    """The named fields of ``obj`` as JSON-ready values, plus its version."""
    values = {name: to_json(getattr(obj, name)) for name in fields}
    values["version"] = obj.version
    return values


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
    entry = AuditEntry(
        actor=actor.label,
        os_user=actor.os_user,
        sudo_user=actor.sudo_user,
        client_addr=actor.client_addr,
        source=actor.source,
        batch=batch,
        action=action,
        entity=entity,
        record_id=record_id,
        old_values=dict(old) if old is not None else None,
        new_values=dict(new) if new is not None else None,
        reverts_id=reverts_id,
    )
    session.add(entry)
    session.flush()
    return entry
