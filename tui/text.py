"""Stored text shown as text: never markup, never terminal escapes.

Whatever another tool wrote into the database (an OSC 52 clipboard grab, a CSI clear-screen,
a bidi override that reorders a line) is replaced by a visible stand-in before it gets near
the terminal. Textual's ``Text`` stops markup but passes control characters straight
through, so every cell, label and message built from stored data goes through `visible`.
"""

from __future__ import annotations

import io
import re
import unicodedata
from typing import Any, TextIO, cast

from rich.cells import cell_len
from rich.text import Text

from data.characters import BIDI, C0, C1, DEL, INVISIBLE, JOINERS, SEPARATORS

REPLACEMENT = "\ufffd"
ELLIPSIS = "…"


# The zero-width joiner and non-joiner are meant to join letters (Persian, Indic scripts)
# and emoji (a family is four people joined by ZWJ); between those they stay. Anywhere
# else (beside ASCII, a space, or at either end) they only hide, and are shown. Compiled
# (by `re`, once) for the first text that holds one, not at every start.
_JOINERS = JOINERS
_LONE_JOINER = rf"(?<![^\x00-\x7f\s])[{_JOINERS}]|[{_JOINERS}](?![^\x00-\x7f\s{_JOINERS}])"


def _stand_ins() -> dict[int, str]:
    """C0 controls get their Unicode control picture (ESC -> ␛), DEL gets ␡; C1 controls,
    bidi embeddings/overrides/isolates/marks, line/paragraph separators and invisible
    format characters get U+FFFD."""
    table = {code: chr(0x2400 + code) for code in C0}
    table[DEL] = "\u2421"
    for code in (*C1, *BIDI, *INVISIBLE, *SEPARATORS):
        table[code] = REPLACEMENT
    return table


_STAND_INS = _stand_ins()
# In free text (a description) tabs and line breaks are layout, not hidden characters.
_MULTILINE_STAND_INS = {
    code: stand_in for code, stand_in in _STAND_INS.items() if chr(code) not in "\t\n"
}


def shown(value: Any) -> str:
    """How a field value reads in a dialog or a question: yes/no for flags, nothing for None."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def visible(text: str) -> str:
    """``text`` with every character that could steer a terminal, or hide in a line,
    replaced by a visible one: one character for one, so positions in ``text`` still hold."""
    return _shown(text, _STAND_INS)


def visible_lines(text: str) -> str:
    """`visible` for free text: tabs and line breaks are kept, everything else as there."""
    return _shown(text, _MULTILINE_STAND_INS)


def _shown(text: str, stand_ins: dict[int, str]) -> str:
    shown = text.translate(stand_ins)
    if "\u200c" in shown or "\u200d" in shown:
        shown = re.sub(_LONE_JOINER, REPLACEMENT, shown)
    return shown


class _ShownOnTerminal(io.TextIOBase):
    """Writes through `visible_lines`: tabs and line breaks stay, every other control
    character (a lone CR too) is shown, never obeyed. CSV's CR LF is a line break."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream

    def write(self, text: str, /) -> int:
        """Write ``text`` as it is safe to show; the count of characters taken."""
        self._stream.write(visible_lines(text.replace("\r\n", "\n")))
        return len(text)

    def flush(self) -> None:
        """Flush the terminal's stream."""
        self._stream.flush()


def for_terminal(stream: TextIO) -> TextIO:
    """``stream`` as it is for a file or a pipe (every byte as written, so a round trip
    holds); for a terminal, a stream that shows control characters instead of obeying them."""
    if not stream.isatty():
        return stream
    return cast(TextIO, _ShownOnTerminal(stream))


def safe(text: str, style: str = "") -> Text:
    """A ``Text`` for stored data: made visible, and never parsed as markup."""
    return Text(visible(text), style=style, no_wrap=True)


def hidden_characters(text: str, *, multiline: bool = False) -> list[str]:
    """The characters of ``text`` a reader cannot see or that reorder it (bidi controls,
    zero-width characters, a joiner that joins nothing, controls), each once, in order.

    Exactly those `visible` (`visible_lines` with ``multiline``) replaces with U+FFFD or a
    control picture.
    """
    if text.isascii() and text.isprintable():
        return []  # the common case, decided in C
    shown = visible_lines(text) if multiline else visible(text)
    found = [ch for ch, stand_in in zip(text, shown, strict=True) if ch != stand_in]
    return list(dict.fromkeys(found))


def describe_character(ch: str) -> str:
    """``U+200B ZERO WIDTH SPACE``: how a message names a character nobody can see."""
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X} {name}".rstrip()


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


def shorten_middle(text: str, width: int) -> str:
    """``text`` in ``width`` cells, cut in the middle so its end stays: the end of a
    database URL is the database's name (``postgresql://admin@db.example…/accessguard``).

    The end kept is the URL's last path segment (a query after it gives way first, shown
    as ``?…``); the start fills what room is left. Only characters are dropped, so a
    masked password stays masked.
    """
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    base, mark, _query = text.partition("?")
    slash = base.rfind("/")
    tail = (base[slash:] if slash >= 0 else "") + (mark + ELLIPSIS if mark else "")
    room = width - 1 - cell_len(tail)
    if room <= 0:  # the name alone is too long: keep as much of its end as fits
        return ELLIPSIS + _last_cells(text, width - 1)
    return _first_cells(text, room) + ELLIPSIS + tail


def _first_cells(text: str, width: int) -> str:
    kept, used = [], 0
    for ch in text:
        used += cell_len(ch)
        if used > width:
            break
        kept.append(ch)
    return "".join(kept)


def _last_cells(text: str, width: int) -> str:
    return _first_cells(text[::-1], width)[::-1]


__all__ = [
    "cell_len",
    "describe_character",
    "fit",
    "for_terminal",
    "hidden_characters",
    "safe",
    "shorten_middle",
    "shown",
    "visible",
    "visible_lines",
]
