"""What the models define that needs no SQLAlchemy: read before it loads.

The console's first page (`data.first_page`) is read with the standard library's
``sqlite3`` while SQLAlchemy is still loading, and must judge and convert stored values
exactly as the models do; it reads these from here, as the models themselves do. The
table draws those records, and asks whether a value is `Malformed`, before then too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# The roles a user may have: the users table's check constraint allows exactly these.
ROLES = ("admin", "editor", "viewer")

# How SQLAlchemy writes a DATETIME to SQLite: text that sorts and compares as the time does.
SQLITE_DATETIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")


@dataclass(frozen=True)
class Malformed:
    """A stored value that is not what its column promises, as another tool wrote it.

    ``raw`` is its text as stored and ``reason`` why it is refused; ``stored`` is the value
    as the driver gave it, which sorts and pages as the database orders it. It is shown,
    exported and deleted like any value, and never written back.
    """

    raw: str
    reason: str
    stored: Any = field(default=None, compare=False)

    def __str__(self) -> str:
        return self.raw


def raw_text(value: Any) -> str:
    """``value`` as the text it was stored as (bytes decoded, undecodable bytes replaced)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


__all__ = ["ROLES", "SQLITE_DATETIME", "Malformed", "raw_text"]
