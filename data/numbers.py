"""Numbers as people type them, read one way everywhere: ASCII digits 0-9 only.

Python's ``int()`` and ``Decimal()`` also read Arabic-Indic, Devanagari and full-width
digits (``int("\\u0663")`` is 3), so an Arabic-Indic three would name record 3, and a
full-width twelve set a stock nobody typed in ASCII. Stdlib only: the command line's parser
reads its numbers with it before the data core is loaded.
"""

from __future__ import annotations

import re

# An id every backend can hold: PostgreSQL's integer and MariaDB's INT are 32-bit signed.
ID_MAX = 2**31 - 1
WHOLE_TEXT = re.compile(r"\+?[0-9]+")
DECIMAL_TEXT = re.compile(r"\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


def whole_number(text: str) -> int | None:
    """The whole number ``text`` spells in ASCII digits (an optional ``+`` or ``-``), or
    None for anything else, other scripts' digits included."""
    body = text.strip()
    negative = body.startswith("-")
    if negative:
        body = body[1:]
    if not WHOLE_TEXT.fullmatch(body):
        return None
    value = int(body)
    return -value if negative else value


def is_record_id(value: int) -> bool:
    """Whether ``value`` could name a stored record on every backend (1 to `ID_MAX`):
    any other number names nothing, and is never sent where a server would refuse it."""
    return 1 <= value <= ID_MAX


__all__ = ["DECIMAL_TEXT", "ID_MAX", "WHOLE_TEXT", "is_record_id", "whole_number"]
