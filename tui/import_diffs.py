"""An import's changes in words, one way for the console's review and the command line's
dry run: each row's heading (its line, what it does, which record) and its field diffs.

Plain strings only (no Textual): the command line prints them, the review wraps them in
`rich.text.Text`; both make them visible (`tui.text`) before they reach a terminal.
"""

from __future__ import annotations

from typing import Any

from data.import_report import FieldChange, ImportRow

EMPTY = "(empty)"
ARROW = " -> "
# What each outcome is called in a listing.
DOES = {"add": "new", "update": "changed", "unchanged": "unchanged", "refused": "refused"}


def shown(value: Any) -> str:
    """A value as a file holds it: text, digits, true/false; (empty) for none."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def change_text(change: FieldChange, *, new_record: bool) -> str:
    """``email: ann@old.org -> ann@new.org``, or ``email: ann@new.org`` for a new record."""
    if new_record:
        return f"{change.field}: {shown(change.new)}"
    return f"{change.field}: {shown(change.old)}{ARROW}{shown(change.new)}"


def heading(row: ImportRow, *, unit: str, entity: str) -> str:
    """``line 4  changed  user 12 <ann@new.org>``: where the row is, what it does, to what."""
    what = row.key
    if row.record_id is not None:
        what = f"{entity} {row.record_id} <{row.key}>"
    return f"{unit} {row.line}  {DOES.get(row.outcome, row.outcome)}  {what}"


def detail_lines(row: ImportRow) -> list[str]:
    """A changed row's field diffs, a refused row's ``field: reason`` lines."""
    if row.outcome == "refused":
        return [f"{field}: {reason}" for field, reason in row.errors.items()]
    new_record = row.outcome == "add"
    return [change_text(change, new_record=new_record) for change in row.changes]


def change_records(row: ImportRow) -> list[dict[str, Any]]:
    """A changed row's diffs as plain values (for CSV and JSON)."""
    return [{"field": c.field, "old": c.old, "new": c.new} for c in row.changes]


__all__ = [
    "ARROW",
    "DOES",
    "EMPTY",
    "change_records",
    "change_text",
    "detail_lines",
    "heading",
    "shown",
]
