"""The errors a data operation can raise: each has a title and a message an admin can act on.

Raw driver exceptions never leave data/; `translate_errors` turns them into these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from data.changes import Change


class AccessGuardError(Exception):
    """Base of every data-core error: ``title`` is short, ``message`` says what to do."""

    title = "Error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(AccessGuardError):
    """The record does not exist (any more)."""

    title = "Not found"


class Conflict(AccessGuardError):
    """The record changed (or vanished) since the editor read it.

    ``current`` is the record as it is now, or None when someone deleted it. A save that
    merged (it gave its base) and still failed names ``fields``: the ones both sides changed
    to different values (empty for a strict save, which refuses any change in between), and
    ``changes`` holds the others' saves since the editor's version, oldest first.
    """

    title = "Changed by someone else"

    def __init__(
        self,
        message: str,
        *,
        current: Any | None,
        fields: tuple[str, ...] = (),
        changes: tuple[Change, ...] = (),
    ) -> None:
        super().__init__(message)
        self.current = current
        self.fields = fields
        self.changes = changes


class Invalid(AccessGuardError):
    """One or more fields were refused; ``errors`` maps field name to the reason."""

    title = "Not saved: invalid input"

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in self.errors.items()))


class Busy(AccessGuardError):
    """Another writer holds a lock for longer than we are willing to wait."""

    title = "Database busy"


class Unavailable(AccessGuardError):
    """The database cannot be reached or cannot store anything right now."""

    title = "Database unavailable"


class OutcomeUnknown(Unavailable):
    """The connection was lost while the database was committing: the change may or may
    not be stored. Unlike every other failure, "nothing was changed" cannot be promised,
    so whoever shows it re-reads the data before anyone tries again."""

    title = "Outcome unknown"


class FileReplaced(Unavailable):
    """The SQLite file at the opened path is no longer the file that was opened (deleted,
    moved, or another file moved over it): writing would lose the change or damage the
    stranger, so nothing is written."""

    title = "Database file replaced"


class ReadOnly(AccessGuardError):
    """The database (or this connection to it) refuses writes."""

    title = "Read-only"


class SchemaMismatch(AccessGuardError):
    """The database's schema is not the one this version of AccessGuard expects."""

    title = "Schema out of date"


class NotRestorable(AccessGuardError):
    """An audit entry's "before" state cannot be put back (or already is)."""

    title = "Nothing to restore"
