"""What changed in the database since a console last looked: the live views' vocabulary.

Every committed change writes an audit entry in its own transaction, so the audit trail is
the one feed every console (and the CLI, and an import) already shares. A `Change` is one
such entry, as plain data: the console marks the row, names who changed it, and an open
form says its record moved on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change to one record, as the audit trail recorded it."""

    entry_id: int
    entity: str
    record_id: int
    action: str
    """create, update, delete or restore."""
    actor: str
    source: str
    """Which program made it: "cli", or "console:<id>" for one console."""
    at: datetime
    fields: tuple[str, ...]
    """The fields whose values changed (every snapshot field for a create or delete)."""
