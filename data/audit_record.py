"""One audit entry as it leaves ``data/``: a plain, frozen record, never an ORM object.

Apart from `data.records` because the console's first frame reads pages of records and
never the audit log: each frozen dataclass costs every start its definition (docs/design.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


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


__all__ = ["AuditRecord"]
