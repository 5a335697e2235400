"""How a record table's lines look: the columns' widths, fitted cells, header and record lines.

`RecordTable` decides which record goes on which line and in what state (under the cursor,
marked, with staged edits); `ColumnLayout` lays the columns out across the width and draws
the line. Styles come from the table's component classes, through ``style_of``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.strip import Strip

from tui.malformed import malformed_cell
from tui.text import fit
from tui.views import ColumnSpec

GAP = 1  # blank cells between columns
MARK_WIDTH = 2  # the "● " column that shows marked rows
CELL_CACHE_ROWS = 200  # formatted rows kept: a screenful or two, whatever the window holds

# A component class of the table (``record-table--marked``) -> its style.
StyleOf = Callable[[str], Style]


class ColumnLayout:
    """The columns' widths, each record's cells fitted to them, and the lines drawn from them."""

    def __init__(self, columns: Sequence[ColumnSpec]) -> None:
        self.columns = tuple(columns)
        self.widths = [column.width for column in self.columns]
        self._cell_cache: LRUCache[int, tuple[Any, tuple[str, ...], frozenset[int]]] = LRUCache(
            CELL_CACHE_ROWS
        )

    @property
    def width(self) -> int:
        """Cells across the whole line: the mark, every column and the gaps."""
        return MARK_WIDTH + sum(width + GAP for width in self.widths)

    def fit_to(self, available: int) -> None:
        """Share ``available`` cells out among the growable columns (after a resize)."""
        self.widths = column_widths(self.columns, available)
        self._cell_cache.clear()

    def span(self, index: int) -> tuple[int, int]:
        """Where column ``index`` starts and ends, in cells from the start of the line."""
        start = MARK_WIDTH + sum(width + GAP for width in self.widths[:index])
        return start, start + self.widths[index]

    def header(self, sort: str, descending: bool, current: int, style_of: StyleOf) -> Strip:
        """The header line: each column's title, an arrow on the one sorted by ``sort``, the
        one under the column cursor (``current``) lit."""
        header = style_of("record-table--header")
        lit = style_of("record-table--header-cursor")
        segments = [Segment(" " * MARK_WIDTH, header)]
        for index, column in enumerate(self.columns):
            title = column.title
            if column.sort is not None and column.sort == sort:
                title += " ▼" if descending else " ▲"
            style = lit if index == current else header
            right = column.align == "right"
            segments.append(Segment(fit(title, self.widths[index], right=right), style))
            segments.append(Segment(" " * GAP, header))
        return Strip(segments).extend_cell_length(self.width, header)

    def record_line(
        self,
        record: Any,
        *,
        style: Style,
        marked: bool,
        staged: dict[str, str] | None,
        style_of: StyleOf,
        changed: frozenset[str] | None = None,
    ) -> Strip:
        """One record's line: its mark, then its cells; a staged value drawn over the stored
        one, a malformed value shown as stored and flagged. A record someone else just
        changed shows "✎" in the mark column (when not marked) and its ``changed`` fields lit."""
        if marked:
            mark = Segment("● ", style + style_of("record-table--marked"))
        elif changed is not None:
            mark = Segment("✎ ", style + style_of("record-table--changed"))
        else:
            mark = Segment(" " * MARK_WIDTH, style)
        segments = [mark]
        gap = " " * GAP
        cells, malformed = self.cells(record)
        for index, text in enumerate(cells):
            column = self.columns[index]
            if index in malformed:
                segments.append(Segment(text, style + style_of("record-table--malformed")))
            elif staged is not None and column.key in staged:
                new = fit(staged[column.key], self.widths[index], right=column.align == "right")
                segments.append(Segment(new, style + style_of("record-table--staged")))
            elif changed is not None and (column.key in changed or column.field in changed):
                segments.append(Segment(text, style + style_of("record-table--changed")))
            else:
                segments.append(Segment(text, style))
            segments.append(Segment(gap, style))
        return Strip(segments).extend_cell_length(self.width, style)

    def cells(self, record: Any) -> tuple[tuple[str, ...], frozenset[int]]:
        """The record's cells, formatted and fitted to the column widths, and the indexes
        of those holding a malformed value (shown marked, as stored).

        Cached per record object: scrolling one line repaints every row, and formatting
        them again was most of that cost. A reload brings new objects, so edits show. The
        cache holds each record it keys by ``id``, so no id can be reused while cached.
        """
        cached = self._cell_cache.get(id(record))
        if cached is not None and cached[0] is record:
            return cached[1], cached[2]
        cells: list[str] = []
        malformed: set[int] = set()
        for index, (column, width) in enumerate(zip(self.columns, self.widths, strict=True)):
            bad = malformed_cell(record, column.key)
            if bad is not None:
                malformed.add(index)
            text = bad if bad is not None else column.render(record)
            cells.append(fit(text, width, right=column.align == "right"))
        self._cell_cache[id(record)] = (record, tuple(cells), frozenset(malformed))
        return tuple(cells), frozenset(malformed)


def column_widths(columns: Sequence[ColumnSpec], available: int) -> list[int]:
    """Each column's width: its least, plus a share of the spare cells by ``grow`` weight."""
    widths = [column.width for column in columns]
    spare = available - MARK_WIDTH - sum(w + GAP for w in widths)
    weights = sum(column.grow for column in columns)
    if spare <= 0 or weights == 0:
        return widths
    given = 0
    for index, column in enumerate(columns):
        share = spare * column.grow // weights
        widths[index] += share
        given += share
    # The remainder (from rounding down) goes to the first growable column.
    first = next(i for i, column in enumerate(columns) if column.grow)
    widths[first] += spare - given
    return widths


__all__ = ["GAP", "MARK_WIDTH", "ColumnLayout", "column_widths"]
