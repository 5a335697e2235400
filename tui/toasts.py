"""Where toasts go: never over the status line, the position line, the footer or the row
under the cursor (issue 12, item 6).

Textual docks its toasts at the screen's bottom right, over the last table rows, the
position line and whatever is being edited there. On a table screen they are kept inside
the table's rows instead, on the half the cursor is not on: under the column header when
the cursor is low, above the table's last row (the quick edit bar and the position line
below it stay clear) when it is high. Placed when the cursor moves and when a toast comes.
"""

from __future__ import annotations

from typing import Any

from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets._toast import ToastRack

from tui.widgets.record_table import RecordTable


def place_toasts(screen: Screen[Any], table: RecordTable) -> None:
    """Put ``screen``'s toasts on the half of ``table`` the cursor is not on."""
    try:
        rack = screen.query_one(ToastRack)
    except NoMatches:
        return
    region = table.region
    if not region.height:
        return
    # The header takes the table's first line; the cursor's line follows the scroll.
    cursor_y = region.y + 1 + table.cursor_row - table.scroll_offset.y
    styles = rack.styles
    if cursor_y >= region.y + region.height // 2:
        styles.dock = "top"
        styles.align_vertical = "top"
        styles.margin = (region.y + 1, 0, 0, 0)
    else:
        styles.dock = "bottom"
        styles.align_vertical = "bottom"
        styles.margin = (0, 0, max(0, screen.size.height - region.bottom), 0)


__all__ = ["place_toasts"]
