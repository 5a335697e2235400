"""What a table says about changes made elsewhere: which rows to mark, and one short note.

Plain functions over `Change`: the table screen decides which changes it shows, these
say how ("user 12 changed by bob", "3 users deleted by bob, carol").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from data.entity import counted

if TYPE_CHECKING:
    from data.changes import Change

# How long a changed row stays marked, and its note stays on the position line.
MARK_S = 6.0

_VERBS = {"create": "added", "delete": "deleted", "restore": "restored"}


def rows_to_mark(changes: Sequence[Change]) -> dict[int, frozenset[str]]:
    """Record id -> the fields changed, for every change that leaves the record in place
    (a deleted record leaves its table; the note names it)."""
    marks: dict[int, frozenset[str]] = {}
    for change in changes:
        if change.action == "delete":
            marks.pop(change.record_id, None)
            continue
        marks[change.record_id] = marks.get(change.record_id, frozenset()) | set(change.fields)
    return marks


def note(changes: Sequence[Change], noun: str, plural: str) -> str:
    """One line for the position line: what happened to which records, and who did it.

    ``user 12 changed by bob``; several records: ``3 users changed, 1 deleted by bob, carol``.
    """
    if not changes:
        return ""
    by_verb: dict[str, dict[int, None]] = {}
    for change in changes:
        verb = _VERBS.get(change.action, "changed")
        by_verb.setdefault(verb, {})[change.record_id] = None
    who = ", ".join(dict.fromkeys(change.actor for change in changes))
    if len(by_verb) == 1:
        ((verb, records),) = by_verb.items()
        if len(records) == 1:
            (record_id,) = records
            return f"{noun} {record_id} {verb} by {who}"
    parts: list[str] = []
    for verb, records in by_verb.items():
        what = counted(len(records), noun, plural) if not parts else f"{len(records):,}"
        parts.append(f"{what} {verb}")
    return f"{', '.join(parts)} by {who}"


__all__ = ["MARK_S", "note", "rows_to_mark"]
