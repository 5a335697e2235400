"""Which rows of a record table others just changed, and for how long they stay marked.

The table screen says which records changed (and which of their fields) just before it
reloads the table; the marks start when that reload lands, so a slow reload never eats
the time the admin has to see them.
"""

from __future__ import annotations

from time import monotonic


class ChangedRows:
    """Record id -> the fields someone else changed, each until a monotonic time."""

    def __init__(self) -> None:
        self._marks: dict[int, tuple[frozenset[str], float]] = {}
        self._pending: dict[int, frozenset[str]] = {}
        self._seconds = 0.0

    def expect(self, changed: dict[int, frozenset[str]], *, seconds: float) -> None:
        """Mark these records for ``seconds`` once the coming reload lands."""
        self._pending.update(changed)
        self._seconds = seconds

    def land(self) -> float | None:
        """The reload landed: start the expected marks. How long until they go (None: none)."""
        if not self._pending:
            return None
        until = monotonic() + self._seconds
        for record_id, fields in self._pending.items():
            self._marks[record_id] = (fields, until)
        self._pending = {}
        return self._seconds

    def forget_expired(self) -> None:
        """Drop the marks whose time is up."""
        now = monotonic()
        self._marks = {key: mark for key, mark in self._marks.items() if mark[1] > now}

    def fields(self, record_id: int) -> frozenset[str] | None:
        """The fields changed in record ``record_id``, or None if it is not marked."""
        mark = self._marks.get(record_id)
        return mark[0] if mark is not None else None


__all__ = ["ChangedRows"]
