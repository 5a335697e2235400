"""What an import did, or would do: its report, each row's verdict with its field diffs, and
how far it has read its file.

Plain, frozen records, as those of `data.records`; kept apart because only an import needs
them, and each class costs the console's start to define.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldChange:
    """One field an import row changes, named by its file column: the stored value (None
    for a new record) and the file's, as export writes them (text, numbers, true/false)."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ImportRow:
    """The verdict on one row of an import file: for a row that changes a record, the
    record's id (None for a new one) and each field it changes."""

    line: int
    key: str
    outcome: str  # "add", "update", "unchanged" or "refused"
    errors: dict[str, str] = field(default_factory=dict)
    record_id: int | None = None
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, in a dry run, would do): exact counts, the first rows that
    change a record with their field diffs, and the first refused rows with their reasons
    (at most `data.transfer.CHANGED_KEPT` and `data.transfer.REFUSED_KEPT`, so a report on
    a million rows stays small)."""

    entity: str
    counts: dict[str, int]
    refused: tuple[ImportRow, ...]
    applied: bool
    changed: tuple[ImportRow, ...] = ()

    def count(self, outcome: str) -> int:
        """How many rows ended with ``outcome``."""
        return self.counts.get(outcome, 0)

    @property
    def refused_left_out(self) -> int:
        """Refused rows counted but not kept in `refused`."""
        return self.count("refused") - len(self.refused)

    @property
    def changed_left_out(self) -> int:
        """Rows to add or update counted but not kept in `changed`."""
        return self.count("add") + self.count("update") - len(self.changed)


@dataclass(frozen=True)
class ImportProgress:
    """How far an import has read its file: in which step, rows and bytes so far."""

    step: str  # "checking" (every row, no database), "matching" or "writing"
    rows: int
    done_bytes: int
    total_bytes: int | None

    @property
    def fraction(self) -> float | None:
        """Of the file read in this step, from 0 to 1; None when its size is unknown."""
        if not self.total_bytes:
            return None
        return min(self.done_bytes / self.total_bytes, 1.0)
