"""One save of the record form, captured on the UI thread and run in its worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from data.actor import Actor
from data.database import Database
from data.errors import AccessGuardError
from data.merge import Updated
from data.tables import RecordStore


@dataclass(frozen=True)
class FormWrite:
    """One save, captured on the UI thread so the worker touches no widget."""

    db: Database
    table: RecordStore[Any, Any]
    actor: Actor
    record_id: int | None
    changes: dict[str, Any]
    expected_version: int | None
    # What the form loaded, per field (stored values): the data core merges against it.
    base: dict[str, Any] = field(default_factory=dict)
    # Set right after a create, in a second unit of work. Kept out of every repr.
    password: str | None = field(default=None, repr=False)

    def save(self) -> tuple[Any, str | None]:
        """Create the record, or update it, merging with saves since the form's version;
        returns the record and whom it merged with (``Merged with bob's change to email``)."""
        if self.record_id is None:
            return self.table.create(self.changes, actor=self.actor), None
        assert self.expected_version is not None
        saved: Updated[Any] = self.table.update(
            self.record_id,
            self.changes,
            expected_version=self.expected_version,
            actor=self.actor,
            base=self.base,
        )
        return saved.record, saved.merged_note

    def set_password(self, record: Any) -> tuple[Any, AccessGuardError | None]:
        """The created record with its password set, or as it is and why that failed."""
        if self.password is None:
            return record, None
        try:
            record = self.table.set_secret(
                record.id, self.password, expected_version=record.version, actor=self.actor
            )
        except AccessGuardError as error:
            return record, error
        return record, None


__all__ = ["FormWrite"]
