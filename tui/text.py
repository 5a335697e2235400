"""Stored text shown as text: never markup, never terminal escapes.

Whatever another tool wrote into the database (an OSC 52 clipboard grab, a CSI clear-screen,
a bidi override that reorders a line) is replaced by a visible stand-in before it gets near
the terminal. Textual's ``Text`` stops markup but passes control characters straight
through, so every cell, label and message built from stored data goes through `visible`.
"""

from __future__ import annotations

import unicodedata

from rich.cells import cell_len
from rich.text import Text

REPLACEMENT = "\ufffd"
ELLIPSIS = "…"


def _stand_ins() -> dict[int, str]:
    """C0 controls get their Unicode control picture (ESC -> ␛), DEL gets ␡; C1 controls,
    bidi embeddings/overrides/isolates and line/paragraph separators get U+FFFD."""
    table = {code: chr(0x2400 + code) for code in range(0x20)}
    table[0x7F] = "\u2421"
    for code in (*range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)):
        table[code] = REPLACEMENT
    table[0x2028] = table[0x2029] = REPLACEMENT
    return table


_STAND_INS = _stand_ins()


def visible(text: str) -> str:
    """``text`` with every character that could steer a terminal replaced by a visible one."""
    return text.translate(_STAND_INS)


def safe(text: str, style: str = "") -> Text:
    """A ``Text`` for stored data: made visible, and never parsed as markup."""
    return Text(visible(text), style=style, no_wrap=True)


def has_hidden_characters(text: str) -> bool:
    """Whether ``text`` holds characters a reader cannot see (format characters, bidi)."""
    return any(unicodedata.category(ch) == "Cf" for ch in text)


def fit(text: str, width: int, *, right: bool = False, truncate: bool = True) -> str:
    """``text`` made visible and padded to ``width`` cells, cut with "…" when too wide.

    Widths are terminal cells (a CJK character takes two). Numbers pass ``truncate=False``:
    a cut number would be a wrong number, so it may push the row out of line instead.
    """
    text = visible(text)
    if truncate and cell_len(text) > width:
        kept, used = [], 0
        for ch in text:
            used += cell_len(ch)
            if used > width - 1:
                break
            kept.append(ch)
        text = "".join(kept) + ELLIPSIS if width > 0 else ""
    padding = " " * max(0, width - cell_len(text))
    return padding + text if right else text + padding


__all__ = ["cell_len", "fit", "has_hidden_characters", "safe", "visible"]
