"""What every table screen shares: the status line, search, filters, copying, the position line.

The record screens (Users, Products) and the audit log build on `TableScreen`; each says
which table it shows. A screen can be on view before the database is open (the console
opens it after its first frame): the tables' reads wait for it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import Input, Static

from tui.malformed import stored_text
from tui.screens.live_notes import MARK_S
from tui.text import safe, shorten_middle, visible
from tui.toasts import place_toasts
from tui.views import screen_tabs
from tui.widgets.footer import Footer
from tui.widgets.record_table import RecordTable
from tui.widgets.table_query import Query
from tui.workers import ReportsWorkerFailures

if TYPE_CHECKING:
    from data.changes import Change
    from tui.app import AccessGuardApp

SEARCH_DEBOUNCE_S = 0.25


class StatusLine(Static):
    """The top line: the screens (this one lit), READ-ONLY, and the database (password hidden)
    or, while it opens, what is being done to open it."""

    screen_title = ""

    def show(self, screen_title: str) -> None:
        """Fill the line for the screen called ``screen_title``, and keep it up to date."""
        self.screen_title = screen_title
        self.watch(self.app, "database_status", self._draw)
        self.watch(self.app, "write_status", self._draw)

    def on_resize(self) -> None:
        """A new width (the first one too): fit the database's name to it again."""
        self._draw("")

    def _draw(self, _changed: str) -> None:
        app = cast("AccessGuardApp", self.app)
        database_status = app.database_status
        # One line that never wraps: a long URL is cut in its middle, so the database's
        # name at its end stays in view at 80 columns; the badge is never cut.
        line = Text(" AccessGuard ", style="bold")
        for tab in screen_tabs():
            style = "bold reverse" if tab.title == self.screen_title else ""
            line.append(f" {tab.key} {tab.label} ", style=style)
        if app.read_only:
            line.append(" READ-ONLY ", style="bold reverse")
        line.append(" │ ")
        if app.write_status:  # in the database's place while it lasts: 80 columns hold it
            line.append(app.write_status, style="bold reverse")
        else:
            # Until it is laid out the line has no width of its own; it spans the terminal.
            width = self.size.width or self.app.size.width
            line.append(shorten_middle(visible(database_status), width - line.cell_len))
        self.update(line)


class TableScreen(ReportsWorkerFailures, Screen[None]):
    """What every table screen shares: the status line, search, reload, position line."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", id="screen.search"),
        Binding("escape", "clear_search", "Clear search", show=False, id="screen.clear_search"),
        Binding("r", "reload", "Reload", show=False, id="screen.reload"),
        Binding("c", "copy_cell", "Copy cell", show=False, id="screen.copy_cell"),
        Binding("C", "copy_record", "Copy record", show=False, id="screen.copy_record"),
    ]

    title_text = ""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._search_timer: Timer | None = None
        self._under_dialog = False
        self._skip_resume_reload = False
        # Whether another screen or a dialog has been in front since this one arrived.
        self._suspended = False
        # What the table starts with; `narrow` may set a filter before it is composed.
        self._initial_query = Query(sort="id")
        # What others just did (position line), until the timer clears it.
        self._live_note = ""
        self._live_note_timer: Timer | None = None

    @property
    def console(self) -> AccessGuardApp:
        """The app, typed."""
        return cast("AccessGuardApp", self.app)

    @property
    def table(self) -> RecordTable:
        """This screen's record table."""
        return self.query_one(RecordTable)

    def make_table(self) -> RecordTable:
        """The table this screen shows (subclasses say what it reads)."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        """Status line, table, position line, footer (the search box comes with /)."""
        yield StatusLine(id="status-line")
        yield self.make_table()
        yield Static(id="position-line")
        yield Footer()

    def search_hint(self) -> str:
        """Placeholder of the search box."""
        return "Search"

    def on_mount(self) -> None:
        """Show where we are and put the keyboard in the table."""
        self.query_one(StatusLine).show(self.title_text)
        self.table.focus()
        self.console.screen_mounted()

    def on_screen_suspend(self) -> None:
        """Note whether a dialog covers us (it reports its own changes) or another screen."""
        self._suspended = True
        self._under_dialog = isinstance(self.app.screen, ModalScreen)

    def on_screen_resume(self) -> None:
        """Back from another screen (1/2/3): the data may have changed meanwhile.

        Not when the console came here to show a filter: that reads afresh already. Nor on
        the screen's first arrival: its table has just read its first page.
        """
        back = self._suspended and not self._under_dialog and not self._skip_resume_reload
        if back and self.table.loaded_once:
            self.table.reload()
        self._suspended = False
        self._under_dialog = False
        self._skip_resume_reload = False

    # Search

    async def action_search(self) -> None:
        """Open the search box (results follow as you type)."""
        search = self._search_box()
        if search is None:
            # Mounted above the table the first time: not in the first frame, which is
            # drawn sooner without it (and many sessions never search).
            from tui.widgets.stored_text import StoredTextInput

            search = StoredTextInput(placeholder=self.search_hint(), id="search")
            await self.mount(search, before=self.table)
        search.remove_class("hidden")
        search.focus()

    def _search_box(self) -> Input | None:
        """The search box, once / has opened it."""
        found = self.query("#search").results(Input)
        return next(found, None)

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DEBOUNCE_S, self._apply_search)

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self._apply_search()
        self.table.focus()

    def _apply_search(self) -> None:
        search = self._search_box()
        text = "" if search is None else search.value
        if text != self.table.query_state.search:
            self.table.set_query(self.table.query_state._replace(search=text))

    def action_clear_search(self) -> None:
        """Escape: empty and hide the search box, show everything again.

        With no search to clear, it clears a filter (``owner: …``) instead, keeping the
        cursor on its record where the first page holds it: one Escape per layer.
        """
        had_text = self._close_search_box() or bool(self.table.query_state.search)
        self.table.focus()
        query = self.table.query_state
        if had_text:
            self.table.set_query(query._replace(search=""))
        elif query.filters:
            current = self.table.cursor_record
            self.table.set_query(
                query._replace(filters=(), filter_label=""),
                keep_id=getattr(current, "id", None),
            )

    def narrow(
        self, filters: tuple[tuple[str, Any], ...], label: str, *, keep_id: int | None = None
    ) -> None:
        """Show only the records ``filters`` keep (``label`` says which), search cleared.

        Called right after the console switched to this screen, possibly before it was
        composed: the table then starts with the filter.
        """
        self._skip_resume_reload = True
        if not self.query(RecordTable):
            self._initial_query = self._initial_query._replace(filters=filters, filter_label=label)
            return
        self._close_search_box()
        self.table.focus()
        query = self.table.query_state._replace(search="", filters=filters, filter_label=label)
        self.table.set_query(query, keep_id=keep_id)

    def _close_search_box(self) -> bool:
        """Empty and hide the search box, if / has opened it, its pending search dropped;
        whether it held text."""
        if self._search_timer is not None:
            self._search_timer.stop()
        search = self._search_box()
        if search is None:
            return False
        typed = bool(search.value)
        search.value = ""
        search.add_class("hidden")
        return typed

    def action_reload(self) -> None:
        """Re-read what is on screen and the count."""
        self.table.reload()

    # Copying (OSC 52: the admin's own clipboard, even over SSH)

    def action_copy_cell(self) -> None:
        """Copy the whole value of the cell under the cursor (not its cut-down display)."""
        table = self.table
        record = table.cursor_record
        if record is None:
            return
        column = table.columns[table.cursor_column]
        as_stored = stored_text(record, column.key)
        text = as_stored if as_stored is not None else column.render(record)
        self._copy(text, column.title.lower())

    def action_copy_record(self) -> None:
        """Copy the record under the cursor as JSON (never a password hash)."""
        record = self.table.cursor_record
        if record is not None:
            self._copy(self.record_json(record), "record as JSON")

    def record_json(self, record: Any) -> str:
        """``record`` as a JSON object: its fields as `dataclasses.asdict` gives them, a
        malformed value as the text it was stored as."""
        import json  # not before the first frame: only copying a record needs it

        fields = asdict(record)
        for name in fields:
            as_stored = stored_text(record, name)
            if as_stored is not None:
                fields[name] = as_stored
        return json.dumps(fields, ensure_ascii=False, indent=2, default=str)

    def _copy(self, text: str, what: str) -> None:
        # App.copy_to_clipboard sends the text base64-encoded inside OSC 52, so stored
        # escapes cannot end the sequence early; the toast shows it made visible.
        self.app.copy_to_clipboard(text)
        shown = visible(" ".join(text.split()))
        if len(shown) > 60:
            shown = shown[:59] + "…"
        self.notify(shown, title=f"Copied {what}", timeout=4, markup=False)

    # Live views: changes committed elsewhere

    def on_access_guard_app_records_changed(self, message: AccessGuardApp.RecordsChanged) -> None:
        """Others changed records (the app's watcher saw it): reload in place, the cursor on
        its record and the view where it was, and mark what changed and who changed it.

        No changes listed means too many to list: reload, with no marks.
        """
        table = self.table
        if not table.loaded_once:
            return  # the first page, still coming, is read after the change anyway
        if not message.changes:
            table.reload()
            return
        shown = self.changes_shown_here(message.changes)
        if not shown:
            return
        marks, text = self.describe_changes(shown)
        if marks:
            table.show_changed(marks, seconds=MARK_S)
        if text:
            self._live_note = text
            if self._live_note_timer is not None:
                self._live_note_timer.stop()
            self._live_note_timer = self.set_timer(MARK_S, self._clear_live_note)
        table.reload()

    def changes_shown_here(self, changes: tuple[Change, ...]) -> list[Change]:
        """The changes this screen's table shows (subclasses say which)."""
        return []

    def describe_changes(self, changes: list[Change]) -> tuple[dict[int, frozenset[str]], str]:
        """The rows to mark (id -> fields changed) and the note for the position line."""
        return {}, ""

    def _clear_live_note(self) -> None:
        self._live_note = ""
        self.show_position()

    def refresh_data(self, *, keep_id: int | None = None) -> None:
        """Something changed the data (a save elsewhere, an undo): show it."""
        self.table.reload(keep_id=keep_id)

    @on(RecordTable.Moved)
    def _show_position(self, event: RecordTable.Moved) -> None:
        # One line whose size never changes: no layout pass for every cursor move.
        # The line holds the admin's search text: never markup ("[/]" would not parse),
        # never a terminal escape from a paste.
        self.query_one("#position-line", Static).update(
            safe(self.position_text(event.table)), layout=False
        )
        place_toasts(self, event.table)

    def position_text(self, table: RecordTable) -> str:
        """The bottom line: position, then what needs the admin (staged edits, marks), what
        narrows the rows (filter, search), and the sort last: a narrow terminal cuts the end."""
        parts = [table.position, *([self._live_note] if self._live_note else [])]
        parts.extend(self.position_notes())
        if table.marked:
            parts.append(f"{len(table.marked)} marked (D deletes)")
        if table.query_state.filter_label:
            esc = "" if table.query_state.search else " (Esc clears)"
            parts.append(f"{table.query_state.filter_label}{esc}")
        if table.query_state.search:
            parts.append(f"search “{table.query_state.search}” (Esc clears)")
        column = table.sort_column
        if column is not None:
            direction = "descending" if table.query_state.descending else "ascending"
            parts.append(f"sorted by {column.title.lower()}, {direction}")
        return "  ·  ".join(parts)

    def position_notes(self) -> list[str]:
        """More for the bottom line, from the screen (staged edits)."""
        return []

    def show_position(self) -> None:
        """Redraw the bottom line now (something it shows changed, not the table)."""
        self.query_one("#position-line", Static).update(
            safe(self.position_text(self.table)), layout=False
        )


__all__ = ["StatusLine", "TableScreen"]
