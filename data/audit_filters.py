"""Narrowing the audit trail for a script: by entity, record, actor and time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import false

from data.numbers import is_record_id
from data.paging import contains
from models import AuditEntry


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to read; every part left None matches all.

    ``entity`` is the singular name the trail stores (``user``); ``actor`` matches any
    part of the actor, in any case, as the console's search does; ``since`` is inclusive,
    a naive time read as UTC.
    """

    entity: str | None = None
    record_id: int | None = None
    actor: str | None = None
    since: datetime | None = None

    def narrow(self, stmt: Any) -> Any:
        """``stmt`` (a select over `AuditEntry`) limited to the matching entries."""
        if self.entity is not None:
            stmt = stmt.where(AuditEntry.entity == self.entity)
        if self.record_id is not None:
            # An id no backend could store matches nothing rather than upsetting a server.
            known = is_record_id(self.record_id)
            stmt = stmt.where(AuditEntry.record_id == self.record_id if known else false())
        by_actor = contains((AuditEntry.actor,), self.actor or "")
        if by_actor is not None:
            stmt = stmt.where(by_actor)
        if self.since is not None:
            since = self.since if self.since.tzinfo else self.since.replace(tzinfo=UTC)
            stmt = stmt.where(AuditEntry.at >= since)
        return stmt


EVERY_ENTRY = AuditFilter()

__all__ = ["EVERY_ENTRY", "AuditFilter"]
