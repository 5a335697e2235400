"""A virtual record table: draws only the rows on screen, reads keyset pages as you move.

Textual's DataTable holds and measures every row (two minutes and 1.4 GB at a million
rows). This one keeps a window of at most `MAX_WINDOW` records around the cursor, knows
each one's absolute position, and asks the data core for the page next to the window, in
a thread worker, when the cursor or the viewport reaches its edge. Home and End read the
first or last page directly, so both ends of a million rows are one query away. How the
lines look is `tui.widgets.table_layout`'s job; what the table asks, `tui.widgets.table_query`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

from data.records import PAGE_SIZE, Count, Cursor, Page, PageRequest
from tui.text import fit
from tui.views import ColumnSpec
from tui.widgets.changed_rows import ChangedRows
from tui.widgets.table_layout import MARK_WIDTH, ColumnLayout
from tui.widgets.table_query import CountFetcher, PageFetcher, Query
from tui.workers import ReportsWorkerFailures

LoadKind = Literal["reset", "forward", "backward", "reload"]
# A first page already read, without waiting and without the data core: None if there is none.
PagePreview = Callable[[PageRequest], Page[Any] | None]

MAX_WINDOW = 1_000  # records held at once, whatever the table's size
LOADING = "…"


class RecordTable(ReportsWorkerFailures, ScrollView, can_focus=True):
    """A keyboard-driven, keyset-paged table of records of any kind (driven by columns)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "record-table--header",
        "record-table--header-cursor",
        "record-table--cursor",
        "record-table--marked",
        "record-table--staged",
        "record-table--loading",
        "record-table--malformed",
        "record-table--changed",
    }

    DEFAULT_CSS = """
    RecordTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        scrollbar-gutter: stable;
    }
    RecordTable > .record-table--header { text-style: bold; background: $panel; }
    RecordTable > .record-table--header-cursor { text-style: bold reverse; background: $panel; }
    RecordTable > .record-table--cursor { background: $block-cursor-blurred-background; }
    RecordTable:focus > .record-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    RecordTable > .record-table--marked { color: $warning; text-style: bold; }
    RecordTable > .record-table--staged {
        background: $warning-muted;
        color: $text-warning;
        text-style: bold underline;
    }
    RecordTable > .record-table--loading { color: $text-muted; }
    RecordTable > .record-table--malformed { color: $text-error; text-style: bold; }
    RecordTable > .record-table--changed { color: $text-accent; text-style: bold; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k,up", "cursor_up", "Up", show=False, id="table.up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="table.page_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="table.page_up"),
        Binding("g,home", "first", "Top", show=False, id="table.top"),
        Binding("G,end", "last", "Bottom", show=False, id="table.bottom"),
        Binding("h,left", "column_left", "Column left", show=False, id="table.left"),
        Binding("l,right", "column_right", "Column right", show=False, id="table.right"),
        Binding("s", "sort(False)", "Sort", show=False, id="table.sort"),
        Binding("S", "sort(True)", "Sort reversed", show=False, id="table.sort_reversed"),
        Binding("enter", "choose", "Open", show=False, id="table.choose"),
    ]

    class Moved(Message):
        """The cursor, the window or the total changed: the position line should follow."""

        def __init__(self, table: RecordTable) -> None:
            super().__init__()
            self.table = table

    class Chosen(Message):
        """Enter was pressed on a record."""

        def __init__(self, table: RecordTable, record: Any) -> None:
            super().__init__()
            self.table = table
            self.record = record

    class PageLoaded(Message):
        """A worker read a page (posted from the worker thread)."""

        def __init__(self, generation: int, kind: LoadKind, page: Page[Any]) -> None:
            super().__init__()
            self.generation = generation
            self.kind = kind
            self.page = page

    class CountLoaded(Message):
        """A worker counted the rows matching the query."""

        def __init__(self, generation: int, count: Count) -> None:
            super().__init__()
            self.generation = generation
            self.count = count

    def __init__(
        self,
        columns: Sequence[ColumnSpec],
        *,
        fetch_page: PageFetcher,
        fetch_count: CountFetcher,
        query: Query | None = None,
        markable: bool = False,
        noun: str = "records",
        page_size: int | None = None,
        preview: PagePreview | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        # Rows per read; read here, not at import, so tests can patch the module's default.
        self.page_size = page_size or PAGE_SIZE
        self.columns = tuple(columns)
        self._layout = ColumnLayout(self.columns)
        self.query_state = query or Query()
        self.markable = markable
        self.noun = noun
        self.marked: dict[int, int] = {}  # id -> version seen when marked
        # id -> column key -> the new value, drawn (highlighted) instead of the stored one.
        self.staged: dict[int, dict[str, str]] = {}
        self.total: int | None = None
        self.total_exact = True  # False while the total is the database's estimate
        self.cursor_row = 0
        self.cursor_column = 0
        self.loaded_once = False
        self._fetch_page = fetch_page
        self._fetch_count = fetch_count
        self._rows: list[Any] = []
        self._first = 0  # absolute index of self._rows[0]
        self._at_start = True
        self._at_end = False
        self._generation = 0
        self._loading: set[LoadKind] = set()
        self._keep_id: int | None = None  # after a reload, put the cursor back on this record
        # The records someone else just changed, marked for a few seconds.
        self.changed = ChangedRows()
        # The generation whose count is read once its page is in (not alongside it).
        self._count_after: int | None = None
        # The request of the pending first or last page (`show_preview` must answer it).
        self._end_request: PageRequest | None = None
        # Rows shown from a first page read before the data core was open (`show_preview`).
        self._previewed = False
        # Such a page, if one is ready when the table mounts: drawn in its first frame.
        self._preview_at_mount = preview
        # Every line's base style while `render_lines` draws (None: between frames).
        self._frame_style: Style | None = None

    # Public API

    @property
    def cursor_record(self) -> Any | None:
        """The record under the cursor, if loaded."""
        return self._record_at(self.cursor_row)

    @property
    def cursor_column_spec(self) -> ColumnSpec:
        """The column under the column cursor."""
        return self.columns[self.cursor_column]

    def show_staged(self, staged: dict[int, dict[str, str]]) -> None:
        """Draw these new values (id -> column key -> text), highlighted, over the stored."""
        self.staged = staged
        self.refresh()

    def show_changed(self, changed: dict[int, frozenset[str]], *, seconds: float) -> None:
        """Mark these records (id -> changed fields) for ``seconds`` from when the next
        reload lands (call `reload` next): others just changed them."""
        self.changed.expect(changed, seconds=seconds)

    def _forget_changed(self) -> None:
        self.changed.forget_expired()
        self.refresh()

    @property
    def sort_column(self) -> ColumnSpec | None:
        """The column the table is sorted by."""
        return next((c for c in self.columns if c.sort == self.query_state.sort), None)

    @property
    def position(self) -> str:
        """``Row 1,234 of 1,000,000`` (or ``of …`` until the count arrives)."""
        if self.loaded_once and not self._rows:
            return f"No {self.noun}"
        if self.total is None:
            return f"Row {self.cursor_row + 1:,} of {LOADING}"
        return f"Row {self.cursor_row + 1:,} of {Count(self.total, exact=self.total_exact)}"

    def set_query(self, query: Query, *, keep_id: int | None = None) -> None:
        """Show ``query``'s rows from the top (a new search, sort or filter); the cursor
        goes to ``keep_id`` if the first page holds it."""
        self.query_state = query
        self.reset(keep_id=keep_id)

    def reset(self, *, from_end: bool = False, keep_id: int | None = None) -> None:
        """Forget the window and read the first (or last) page and the count afresh."""
        self._loading.clear()
        self.total = None
        self.total_exact = True
        self._read_end(from_end=from_end, count=True, keep_id=keep_id)

    def reload(self, *, keep_id: int | None = None) -> None:
        """Re-read the window in place (after a save, an undo, or `r`), and the count.

        The cursor stays on ``keep_id`` (default: the record under it) if it still exists.
        """
        current = self.cursor_record
        self._keep_id = keep_id if keep_id is not None else getattr(current, "id", None)
        self._generation += 1
        if self._rows and self._first > 0:
            # From the window's first row, inclusive: the same rows, as they are now.
            start = self._cursor_of(self._rows[0])
            request = self.query_state.request(start_at=start, limit=len(self._rows))
        else:
            request = self.query_state.request(limit=max(self.page_size, len(self._rows)))
        self._load("reload", request, count=True)

    def go_to_last(self, *, keep_id: int | None = None) -> None:
        """Read the last page and the count afresh, then put the cursor on ``keep_id``."""
        self._read_end(from_end=True, count=True, keep_id=keep_id)

    def _read_end(self, *, from_end: bool, count: bool, keep_id: int | None = None) -> None:
        """Replace the window with the first or the last page: one query at any size."""
        self._generation += 1
        self._keep_id = keep_id
        self._previewed = False
        request = self.query_state.request(from_end=from_end, limit=self.page_size)
        self._end_request = request
        self._load("reset", request, count=count)

    @property
    def previewed(self) -> bool:
        """Whether the rows shown are a first page read before the data core was open."""
        return self._previewed

    @property
    def awaiting_first_page(self) -> PageRequest | None:
        """The request of the first page while nothing is shown yet, else None."""
        if self.loaded_once or "reset" not in self._loading:
            return None
        return self._end_request

    def show_preview(self, page: Page[Any]) -> bool:
        """Show ``page``, read before the data core was open, until the data core's own
        first page lands (equal records: nothing moves). Whether it was shown: not if the
        table has moved on to another question meanwhile."""
        if page.request != self.awaiting_first_page:
            return False
        self._replace(page, reload=False)
        self._previewed = True
        self.loaded_once = True
        self._settle()
        return True

    # Loading

    def on_mount(self) -> None:
        """Read the first page as soon as the table is on screen; show it at once if it was
        read ahead (before the data core was open)."""
        self._update_virtual_size()
        self.reset()
        request = self.awaiting_first_page
        if self._preview_at_mount is not None and request is not None:
            page = self._preview_at_mount(request)
            if page is not None:
                self.show_preview(page)

    def _load(self, kind: LoadKind, request: PageRequest, *, count: bool = False) -> None:
        generation = self._generation
        self._loading.add(kind)
        fetch = self._fetch_page

        def read_page() -> None:
            page = fetch(request)
            if not get_current_worker().is_cancelled:
                self.post_message(self.PageLoaded(generation, kind, page))

        self.run_worker(
            read_page,
            thread=True,
            group=f"table-{kind}",
            exclusive=True,
            exit_on_error=False,
            description=f"read a page of {self.noun}",
        )
        if count:
            # After the page, not beside it: a count reads the whole index (a million rows on
            # SQLite), and the rows are what the admin waits for.
            self._count_after = generation

    def _load_count(self, generation: int) -> None:
        query, fetch = self.query_state, self._fetch_count

        def count_rows() -> None:
            count = fetch(query.search, query.filters)
            if not get_current_worker().is_cancelled:
                self.post_message(self.CountLoaded(generation, count))

        self.run_worker(
            count_rows,
            thread=True,
            group="table-count",
            exclusive=True,
            exit_on_error=False,
            description=f"count {self.noun}",
        )

    def on_record_table_page_loaded(self, message: PageLoaded) -> None:
        """Fit a page into the window, if it still answers the current question."""
        message.stop()
        self._loading.discard(message.kind)
        if message.generation != self._generation:
            return  # a newer search, sort or reset has replaced this one
        page = message.page
        if message.kind == "forward":
            self._append(page)
        elif message.kind == "backward":
            self._prepend(page)
        else:
            reload = message.kind == "reload"
            if self._previewed:
                # The data core's page after the preview's: the cursor stays where the
                # admin may already have moved it, and the view holds.
                self._previewed, reload = False, True
                self._keep_id = self._keep_id or getattr(self.cursor_record, "id", None)
            self._replace(page, reload=reload)
            marked_for = self.changed.land()
            if marked_for is not None:
                self.set_timer(marked_for, self._forget_changed)
        self.loaded_once = True
        self._settle()
        if self._count_after == message.generation:
            self._count_after = None
            self._load_count(message.generation)

    def on_record_table_count_loaded(self, message: CountLoaded) -> None:
        """Show the total; a window sitting at the end is re-anchored to it."""
        message.stop()
        if message.generation != self._generation:
            return
        self.total = message.count.rows
        self.total_exact = message.count.exact
        if not self._loading & {"reset", "reload"}:
            # With this generation's page still coming, the window's flags are the old
            # window's: the page anchors when it lands.
            self._anchor()
        self._settle()

    def _anchor(self) -> None:
        """Make positions exact where the window touches an end; the cursor keeps its row.

        A window holding the first row starts at 0; one holding the last row ends at the
        total. Rows added or removed by others since are absorbed here, whichever of a
        reload's page and count arrives first.
        """
        offset = self.cursor_row - self._first
        if self._at_start:
            self._first = 0
            if self._at_end:
                self.total, self.total_exact = len(self._rows), True
        elif self._at_end and self.total is not None:
            self._first = max(0, self.total - len(self._rows))
        if self.total is not None and self._first + len(self._rows) > self.total:
            self.total = self._first + len(self._rows)
        self.cursor_row = self._first + max(0, min(offset, len(self._rows) - 1))

    def _replace(self, page: Page[Any], *, reload: bool) -> None:
        records = list(page.records)
        from_end = page.request.from_end and page.request.after is None
        self._at_start = not page.has_prev
        self._at_end = True if from_end else not page.has_next
        keep, self._keep_id = self._keep_id, None
        # Where the cursor's line was on screen: a reload keeps it there (the view holds).
        line = self.cursor_row - self.scroll_offset.y
        self._rows = records
        ids = [record.id for record in records]
        if keep in ids:
            offset = ids.index(keep)
        elif from_end:
            offset = len(records) - 1
        elif not reload:
            offset = 0
        else:
            offset = self.cursor_row - self._first
        self.cursor_row = self._first + offset
        self._anchor()
        if reload and 0 <= line < self._body_height():
            self.scroll_to(y=max(0, self.cursor_row - line), animate=False, immediate=True)
        else:
            self.scroll_to(y=max(0, self.cursor_row - self._body_height() // 2), animate=False)

    def _append(self, page: Page[Any]) -> None:
        self._rows.extend(page.records)
        self._at_end = not page.has_next
        if self._at_end:
            self.total = self._first + len(self._rows)
        self._trim(keep_end=True)

    def _prepend(self, page: Page[Any]) -> None:
        records = list(page.records)
        self._rows[:0] = records
        self._first -= len(records)
        if not page.has_prev or self._first < 0:
            # Reached the top: positions are exact again (rows may have come or gone).
            shift = -self._first
            self._first = 0
            self.cursor_row += shift
            self._at_start = True
            if shift:
                self.scroll_to(y=self.scroll_offset.y + shift, animate=False)
        self._trim(keep_end=False)

    def _trim(self, *, keep_end: bool) -> None:
        """Hold at most MAX_WINDOW records, dropping the side away from the cursor."""
        excess = len(self._rows) - MAX_WINDOW
        if excess <= 0:
            return
        if keep_end:
            lowest_needed = min(self.cursor_row, self.scroll_offset.y) - self.page_size
            drop = max(0, min(excess, lowest_needed - self._first))
            del self._rows[:drop]
            self._first += drop
            self._at_start = self._at_start and drop == 0
        else:
            highest_needed = max(self.cursor_row, self.scroll_offset.y + self._body_height())
            keep = max(MAX_WINDOW, highest_needed + self.page_size - self._first)
            if keep < len(self._rows):
                del self._rows[keep:]
                self._at_end = False

    def _ensure_rows(self, low: int, high: int) -> None:
        """Ask for the page before or after the window if rows low..high are not in it."""
        if not self._rows:
            return  # nothing to page from: the pending reset or reload brings the rows
        end = self._first + len(self._rows)
        if high >= end and not self._at_end and not self._loading & {"forward", "reset", "reload"}:
            limit = min(MAX_WINDOW, max(self.page_size, high - end + 1 + self.page_size // 2))
            after = self._cursor_of(self._rows[-1])
            self._load("forward", self.query_state.request(after=after, limit=limit))
        busy_backward = self._loading & {"backward", "reset", "reload"}
        if low < self._first and not self._at_start and not busy_backward:
            limit = min(MAX_WINDOW, max(self.page_size, self._first - low + self.page_size // 2))
            before = self._cursor_of(self._rows[0])
            self._load("backward", self.query_state.request(before=before, limit=limit))

    def _cursor_of(self, record: Any) -> Cursor:
        return Cursor(value=getattr(record, self.query_state.sort), id=record.id)

    # Moving

    def _last_index(self) -> int:
        if self.total is not None:
            return max(0, self.total - 1)
        return max(0, self._first + len(self._rows) - 1 + (0 if self._at_end else self.page_size))

    def move_to(self, row: int) -> None:
        """Put the cursor on absolute ``row`` (clamped), scrolling and loading as needed."""
        previous, top = self.cursor_row, self.scroll_offset.y
        self.cursor_row = max(0, min(row, self._last_index()))
        if "reload" in self._loading:
            # The admin moved while the window was being re-read (after an undo, a save,
            # a colleague's change): the cursor stays where they put it, not where it was.
            self._keep_id = getattr(self.cursor_record, "id", None)
        self._scroll_to_cursor()
        if self.scroll_offset.y != top:
            self._settle()
            return
        # Without scrolling only two lines change; repainting every line of the table made
        # most of the cost of a key press. Virtual line 0 is the header, so row r is r + 1.
        self.refresh_line(previous + 1)
        self.refresh_line(self.cursor_row + 1)
        self._settle(repaint=False)

    def _scroll_to_cursor(self) -> None:
        height = self._body_height()
        top = self.scroll_offset.y
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + height:
            self.scroll_to(y=self.cursor_row - height + 1, animate=False, immediate=True)

    def _settle(self, *, repaint: bool = True) -> None:
        """After any change: sizes, loads for what is on screen, repaint, tell the screen."""
        self._update_virtual_size()
        top = self.scroll_offset.y
        margin = self.page_size // 4
        self._ensure_rows(
            min(top, self.cursor_row) - margin,
            max(top + self._body_height(), self.cursor_row) + margin,
        )
        if repaint:
            self.refresh()
        self.post_message(self.Moved(self))

    def _body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def action_cursor_down(self) -> None:
        """One row down."""
        self.move_to(self.cursor_row + 1)

    def action_cursor_up(self) -> None:
        """One row up."""
        self.move_to(self.cursor_row - 1)

    def action_page_down(self) -> None:
        """One screen down."""
        self.move_to(self.cursor_row + self._body_height())

    def action_page_up(self) -> None:
        """One screen up."""
        self.move_to(self.cursor_row - self._body_height())

    def action_first(self) -> None:
        """The first row: from the window if it holds it, else one query for the first page."""
        if self._at_start:
            self.move_to(0)
        else:
            self._read_end(from_end=False, count=False)

    def action_last(self) -> None:
        """The last row: from the window if it holds it, else one query for the last page."""
        if self._at_end:
            self.move_to(self._first + len(self._rows) - 1)
        else:
            self._read_end(from_end=True, count=self.total is None)

    def action_column_left(self) -> None:
        """Move the column cursor left (s sorts by the column under it)."""
        self.cursor_column = max(0, self.cursor_column - 1)
        self._scroll_to_column()

    def action_column_right(self) -> None:
        """Move the column cursor right."""
        self.cursor_column = min(len(self.columns) - 1, self.cursor_column + 1)
        self._scroll_to_column()

    def _scroll_to_column(self) -> None:
        start, end = self._layout.span(self.cursor_column)
        width = self.scrollable_content_region.width
        if start < self.scroll_offset.x:
            self.scroll_to(x=start, animate=False)
        elif end > self.scroll_offset.x + width:
            self.scroll_to(x=end - width, animate=False)
        self.refresh()

    def action_sort(self, descending: bool) -> None:
        """Sort by the column under the cursor (S: in reverse)."""
        column = self.columns[self.cursor_column]
        if column.sort is None:
            self.notify(f"{column.title} cannot be sorted.", severity="warning", timeout=3)
            return
        self.set_query(self.query_state._replace(sort=column.sort, descending=descending))

    def action_choose(self) -> None:
        """Tell the screen which record Enter was pressed on."""
        record = self.cursor_record
        if record is not None:
            self.post_message(self.Chosen(self, record))

    def toggle_mark(self) -> None:
        """Mark or unmark the record under the cursor, then step down."""
        record = self.cursor_record
        if record is None or not self.markable:
            return
        if record.id in self.marked:
            del self.marked[record.id]
        else:
            self.marked[record.id] = record.version
        self.action_cursor_down()

    def on_click(self, event: events.Click) -> None:
        """A click on a row moves the cursor there."""
        if event.y >= 1:
            self.move_to(self.scroll_offset.y + event.y - 1)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """The mouse wheel or scrollbar moved the view: load what came into it."""
        super().watch_scroll_y(old_value, new_value)
        if self.is_mounted:
            top = round(new_value)
            self._ensure_rows(top, top + self._body_height())

    # Drawing

    def on_resize(self) -> None:
        """Share spare width out among the growable columns."""
        self._layout.fit_to(self.scrollable_content_region.width)
        self._settle()

    def _update_virtual_size(self) -> None:
        rows = self.total if self.total is not None else self._first + len(self._rows)
        self.virtual_size = Size(self._layout.width, max(rows, 1) + 1)

    def _record_at(self, index: int) -> Any | None:
        offset = index - self._first
        if 0 <= offset < len(self._rows):
            return self._rows[offset]
        return None

    def render_lines(self, crop: Region) -> list[Strip]:
        """Draw the lines in ``crop``, working out their base style once, not once a line
        (`rich_style` combines every ancestor's styles: a quarter of a line's cost)."""
        self._frame_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = None

    def render_line(self, y: int) -> Strip:
        """Line 0 is the header (it stays put); line y shows row scroll_y + y - 1."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style if self._frame_style is None else self._frame_style
        strip = self._header() if y == 0 else self._row(scroll_y + y - 1, base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _header(self) -> Strip:
        query = self.query_state
        return self._layout.header(
            query.sort, query.descending, self.cursor_column, self.get_component_rich_style
        )

    def _row(self, index: int, base: Style) -> Strip:
        if index > self._last_index() or (self.loaded_once and not self._rows and index == 0):
            return self._empty_line(index, base)
        record = self._record_at(index)
        style = base
        if index == self.cursor_row:
            style = base + self.get_component_rich_style("record-table--cursor")
        if record is None:
            loading = style + self.get_component_rich_style("record-table--loading")
            return Strip([Segment(fit(LOADING, self.virtual_size.width), loading)])
        return self._layout.record_line(
            record,
            style=style,
            marked=record.id in self.marked,
            staged=self.staged.get(record.id),
            style_of=self.get_component_rich_style,
            changed=self.changed.fields(record.id),
        )

    def _empty_line(self, index: int, base: Style) -> Strip:
        if index == 0 and self.loaded_once and not self._rows:
            search, narrowed = self.query_state.search, self.query_state.filter_label
            if search:
                text = f"No {self.noun} match “{search}”."
            elif narrowed:
                text = f"No {self.noun} with {narrowed}."
            else:
                text = f"No {self.noun} yet."
            muted = base + self.get_component_rich_style("record-table--loading")
            return Strip([Segment(" " * MARK_WIDTH + fit(text, 60), muted)])
        return Strip.blank(self.virtual_size.width, base)


__all__ = ["PAGE_SIZE", "Query", "RecordTable"]
