"""Where toasts go: never over the status line, the position line, the footer or the row
under the cursor (issue 12, item 6).

Textual docks its toasts at the screen's bottom right, over the last table rows, the
position line and whatever is being edited there. On a table screen they are kept inside
the table's rows instead, on the half the cursor is not on: under the column header when
the cursor is low, above the table's last row (the quick edit bar and the position line
below it stay clear) when it is high. Placed when the cursor moves and when a toast comes.
A dialog over a table screen keeps them at the bottom of the table's rows beneath it: the
position and status lines still show through the dialog's backdrop, and toasts that were up
when the dialog opened move with it.
"""

from __future__ import annotations

from typing import Any, Literal

from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets._toast import ToastRack

from tui.widgets.record_table import RecordTable

Spacing4 = tuple[int, int, int, int]


def place_toasts(screen: Screen[Any], table: RecordTable) -> None:
    """Put ``screen``'s toasts on the half of ``table`` the cursor is not on."""
    region = table.region
    if not region.height:
        return
    # The header takes the table's first line; the cursor's line follows the scroll.
    cursor_y = region.y + 1 + table.cursor_row - table.scroll_offset.y
    if cursor_y >= region.y + region.height // 2:
        _dock(screen, "top", (region.y + 1, 0, 0, 0))
    else:
        _dock(screen, "bottom", (0, 0, _below(table), 0))


def place_toasts_over(dialog: Screen[Any], table: RecordTable) -> None:
    """Put the toasts of ``dialog``, open over ``table``'s screen, above the lines below it."""
    if table.region.height:
        _dock(dialog, "bottom", (0, 0, _below(table), 0))


def _below(table: RecordTable) -> int:
    """The lines of the table's screen under its last row (position, status, footer)."""
    return max(0, table.screen.size.height - table.region.bottom)


def _dock(screen: Screen[Any], edge: Literal["top", "bottom"], margin: Spacing4) -> None:
    try:
        rack = screen.query_one(ToastRack)
    except NoMatches:
        return
    rack.styles.dock = edge
    rack.styles.align_vertical = edge
    rack.styles.margin = margin


__all__ = ["place_toasts", "place_toasts_over"]
