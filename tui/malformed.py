"""How a value another tool stored past validation is shown: a mark, then its text as
stored. The same mark in the console's tables, its forms and the command line's list."""

from __future__ import annotations

from typing import Any

# One cell wide in every terminal (an emoji warning sign is two in some, one in others).
MARK = "✗"


def stored_text(record: Any, field: str) -> str | None:
    """The text as stored when ``record``'s ``field`` holds a malformed value, else None."""
    from models.plain import Malformed  # no SQLAlchemy: drawn before the data core loads

    value = getattr(record, field, None)
    return value.raw if isinstance(value, Malformed) else None


def malformed_cell(record: Any, field: str) -> str | None:
    """``✗abc`` when ``record``'s ``field`` holds a malformed value, else None."""
    text = stored_text(record, field)
    return None if text is None else f"{MARK}{text}"
