"""The screens that show tables: one generic record screen (Users, Products) and the audit log.

Every database call runs in a thread worker owned by the screen; results come back as the
screen's own messages. Nothing here knows whether it shows users or products: the
`ViewSpec` says.

A screen can be on view before the database is open (the console opens it after its first
frame): the tables' reads wait for it, and the keys that change data are disabled until then.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import Input, Static

from data.records import AuditRecord, ImportReport, PageRequest
from tui.malformed import stored_text
from tui.screens.dialogs import AuditEntryDialog, ConfirmDialog, StagedEditsDialog, shown
from tui.text import safe, visible
from tui.views import AUDIT_COLUMNS, ColumnSpec, Link, ViewSpec, screen_tabs, view_named
from tui.widgets.footer import Footer
from tui.widgets.quick_edit import QuickEditor, StagedEdit
from tui.widgets.record_table import Query, RecordTable
from tui.widgets.stored_text import StoredTextInput
from tui.workers import ReportsWorkerFailures

if TYPE_CHECKING:
    from data.audit import RestorePlan
    from tui.app import AccessGuardApp
    from tui.screens.import_check import CheckResult

SEARCH_DEBOUNCE_S = 0.25
# Actions that change data: hidden (and refused) when the console is read-only.
WRITE_ACTIONS = frozenset(
    {
        "new",
        "edit",
        "delete",
        "mark",
        "delete_marked",
        "import",
        "quick_edit",
        "review_staged",
        "unstage",
    }
)
# Keys that need staged edits, and sleep while a cell is being edited.
STAGED_ACTIONS = frozenset({"review_staged", "unstage"})


class StatusLine(Static):
    """The top line: the screens (this one lit), READ-ONLY, and the database (password hidden)
    or, while it opens, what is being done to open it."""

    screen_title = ""

    def show(self, screen_title: str) -> None:
        """Fill the line for the screen called ``screen_title``, and keep it up to date."""
        self.screen_title = screen_title
        self.watch(self.app, "database_status", self._draw)

    def _draw(self, database_status: str) -> None:
        app = cast("AccessGuardApp", self.app)
        # One line that never wraps: a long URL is cut at the end, the badge never is.
        line = Text(" AccessGuard ", style="bold")
        for tab in screen_tabs():
            style = "bold reverse" if tab.title == self.screen_title else ""
            line.append(f" {tab.key} {tab.label} ", style=style)
        if app.read_only:
            line.append(" READ-ONLY ", style="bold reverse")
        line.append(" │ ")
        line.append_text(safe(database_status))
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
        # What the table starts with; `narrow` may set a filter before it is composed.
        self._initial_query = Query(sort="id")

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
        """Status line, search box (hidden until /), table, position line, footer."""
        yield StatusLine(id="status-line")
        yield StoredTextInput(placeholder=self.search_hint(), id="search", classes="hidden")
        yield self.make_table()
        yield from self.compose_under_table()
        yield Static(id="position-line")
        yield Footer()

    def compose_under_table(self) -> ComposeResult:
        """What a screen shows between its table and the position line."""
        yield from ()

    def search_hint(self) -> str:
        """Placeholder of the search box."""
        return "Search"

    def on_mount(self) -> None:
        """Show where we are and put the keyboard in the table."""
        self.query_one(StatusLine).show(self.title_text)
        self.table.focus()

    def on_screen_suspend(self) -> None:
        """Note whether a dialog covers us (it reports its own changes) or another screen."""
        self._under_dialog = isinstance(self.app.screen, ModalScreen)

    def on_screen_resume(self) -> None:
        """Back from another screen (1/2/3): the data may have changed meanwhile.

        Not when the console came here to show a filter: that reads afresh already.
        """
        if self.table.loaded_once and not self._under_dialog and not self._skip_resume_reload:
            self.table.reload()
        self._under_dialog = False
        self._skip_resume_reload = False

    # Search

    def action_search(self) -> None:
        """Open the search box (results follow as you type)."""
        search = self.query_one("#search", Input)
        search.remove_class("hidden")
        search.focus()

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
        text = self.query_one("#search", Input).value
        if text != self.table.query_state.search:
            self.table.set_query(replace(self.table.query_state, search=text))

    def action_clear_search(self) -> None:
        """Escape: empty and hide the search box, show everything again.

        With no search to clear, it clears a filter (``owner: …``) instead, keeping the
        cursor on its record where the first page holds it: one Escape per layer.
        """
        search = self.query_one("#search", Input)
        if self._search_timer is not None:
            self._search_timer.stop()
        had_text = bool(search.value or self.table.query_state.search)
        search.value = ""
        search.add_class("hidden")
        self.table.focus()
        query = self.table.query_state
        if had_text:
            self.table.set_query(replace(query, search=""))
        elif query.filters:
            current = self.table.cursor_record
            self.table.set_query(
                replace(query, filters=(), filter_label=""),
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
            self._initial_query = replace(self._initial_query, filters=filters, filter_label=label)
            return
        search = self.query_one("#search", Input)
        if self._search_timer is not None:
            self._search_timer.stop()
        search.value = ""
        search.add_class("hidden")
        self.table.focus()
        query = replace(self.table.query_state, search="", filters=filters, filter_label=label)
        self.table.set_query(query, keep_id=keep_id)

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

    def position_text(self, table: RecordTable) -> str:
        """The bottom line: position, then what needs the admin (staged edits, marks), what
        narrows the rows (filter, search), and the sort last: a narrow terminal cuts the end."""
        parts = [table.position, *self.position_notes()]
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


class RecordScreen(TableScreen):
    """Users or Products: a table of records with new, edit, delete, mark and bulk delete."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "New", id="records.new"),
        Binding("e", "edit", "Edit", id="records.edit"),
        Binding("d", "delete", "Delete", id="records.delete"),
        Binding("space", "mark", "Mark", show=False, id="records.mark"),
        Binding("D", "delete_marked", "Delete marked", show=False, id="records.delete_marked"),
        Binding("o", "related", "Owned products", show=False, id="records.related"),
        Binding("x", "export", "Export", show=False, id="records.export"),
        Binding("i", "import", "Import", show=False, id="records.import"),
        Binding("f2", "quick_edit", "Edit cell", show=False, id="records.quick_edit"),
        Binding("ctrl+s", "review_staged", "Review edits", id="records.review_staged"),
        Binding("ctrl+z", "unstage", "Unstage", id="records.unstage"),
    ]

    class DeleteChecked(Message):
        """The consequences of a delete were counted; the confirm dialog can ask.

        ``targets`` maps id -> the version seen; ``label`` names a single record, or is None
        for a bulk delete of marked rows.
        """

        def __init__(
            self, targets: dict[int, int], label: str | None, consequence: str | None
        ) -> None:
            super().__init__()
            self.targets = targets
            self.label = label
            self.consequence = consequence

    class StagedSaved(Message):
        """The staged edits were committed, ``edits`` of them to ``records`` records."""

        def __init__(self, edits: int, records: int) -> None:
            super().__init__()
            self.edits = edits
            self.records = records

    class Deleted(Message):
        """Records were deleted."""

        def __init__(self, count: int, label: str) -> None:
            super().__init__()
            self.count = count
            self.label = label

    def __init__(self, view: ViewSpec) -> None:
        super().__init__(id=f"{view.key}-screen")
        self.view = view
        self.title_text = view.title
        # (record id, field) -> its staged edit, in the order staged (ctrl+z drops the last).
        self.staged: dict[tuple[int, str], StagedEdit] = {}
        # The record and column F2 opened, while the editor is open.
        self._editing: tuple[Any, ColumnSpec] | None = None

    def make_table(self) -> RecordTable:
        """A table of this view's records, read through the data core's record table."""
        view, console = self.view, self.console
        return RecordTable(
            view.columns,
            fetch_page=lambda request: view.table(console.wait_for_database()).page(request),
            fetch_count=lambda search, filters: view.table(
                console.wait_for_database()
            ).display_count(search, filters),
            query=self._initial_query,
            markable=not console.read_only,
            noun=view.names.plural,
            page_size=console.options.page_size,
            id="records",
        )

    def record_json(self, record: Any) -> str:
        """The record as the JSON export writes it: its export columns, no password hash."""
        from data.transfer import write_records

        out = io.StringIO()
        write_records(self.view.entity, [record], out, fmt="json")
        (item,) = json.loads(out.getvalue())
        return json.dumps(item, ensure_ascii=False, indent=2)

    def compose_under_table(self) -> ComposeResult:
        """The quick editor's bar (hidden until F2)."""
        yield QuickEditor(id="quick-edit")

    def search_hint(self) -> str:
        """Which fields the search looks in."""
        names = " or ".join(self.view.names.search_fields)
        return f"Search {self.view.names.plural} by {names}; ^text: starts with (Enter: done)"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Write keys disappear from the footer, help and palette when read-only, and are
        shown disabled (doing nothing) until the database is open."""
        if action == "related" and self.view.related is None:
            return False
        if action in ("export", "related"):
            return True if self.console.is_open else None
        if action not in WRITE_ACTIONS:
            return True
        if self.console.read_only:
            return False
        if action in STAGED_ACTIONS and (not self.staged or self._editing is not None):
            return False
        return True if self.console.is_open else None

    # New and edit

    def action_new(self) -> None:
        """Open an empty form; after the save, the cursor goes to the new record."""
        self.app.push_screen(self._form(None), self._after_create)

    def action_edit(self) -> None:
        """Open the record under the cursor in a form."""
        record = self.table.cursor_record
        if record is not None:
            self.app.push_screen(self._form(record), self._after_form)

    def _form(self, record: Any | None) -> ModalScreen[Any | None]:
        # Imported on first use: the form's owner picker loads the data core, which the
        # console's first frame must not wait for (forms open only once the database has).
        from tui.screens.form import RecordForm

        return RecordForm(self.view, record)

    @on(RecordTable.Chosen)
    def _chosen(self, event: RecordTable.Chosen) -> None:
        link = self.table.columns[self.table.cursor_column].link
        if link is not None:
            self._follow(link, event.record)
            return
        if self.console.read_only:
            self.notify("The console is read-only: records cannot be edited.", timeout=3)
            return
        self.action_edit()

    # Relations

    def _follow(self, link: Link, record: Any) -> None:
        """Enter on a column naming another record: show that record on its screen."""
        column = self.table.columns[self.table.cursor_column]
        target_id = getattr(record, link.id_key)
        if target_id is None:
            self.notify(f"This {self.view.names.entity} has no {column.title.lower()}.", timeout=3)
            return
        target = view_named(link.view)
        label = f"{target.names.entity}: {column.render(record)}"
        self.console.show_narrowed(link.view, (("id", target_id),), label, keep_id=target_id)

    def action_related(self) -> None:
        """List the records of another screen that point at the one under the cursor."""
        related, record = self.view.related, self.table.cursor_record
        if related is None or record is None:
            return
        key = getattr(record, self.view.entity.natural_key)
        label = f"{related.label}: {key}"
        self.console.show_narrowed(related.view, ((related.filter, record.id),), label)

    def _after_form(self, saved: Any | None) -> None:
        table = self._table_still_shown()
        if saved is not None and table is not None:
            table.reload(keep_id=saved.id)

    def _after_create(self, saved: Any | None) -> None:
        table = self._table_still_shown()
        if saved is None or table is None:
            return
        query = table.query_state
        if query.sort == "id" and not query.descending and not query.search and not query.filters:
            table.go_to_last(keep_id=saved.id)  # the newest id sorts last
        else:
            table.reload(keep_id=saved.id)

    def _table_still_shown(self) -> RecordTable | None:
        """The table, or None when the console is closing: a save that finishes as a signal
        closes the console lands after its widgets are gone, with nothing left to show."""
        tables = self.query(RecordTable)
        return tables.first() if tables else None

    # Quick edits: F2 stages one cell, ctrl+s reviews and commits them all, ctrl+z drops one

    @property
    def editor(self) -> QuickEditor:
        """The quick editor's bar."""
        return self.query_one(QuickEditor)

    def action_quick_edit(self) -> None:
        """Edit the cell under the cursors in place (the bar under the table)."""
        record = self.table.cursor_record
        if record is None:
            return
        column = self.table.cursor_column_spec
        if column.field is None:
            self.notify(
                f"{column.title} cannot be edited in place: h / l choose another column.",
                severity="warning",
                timeout=4,
            )
            return
        staged = self.staged.get((record.id, column.field))
        value = (
            staged.raw
            if staged is not None
            else _as_text(self.view.field(column.field).initial(record))
        )
        self._editing = (record, column)
        self.editor.open(f"{column.title} of {self.view.label(record)}", value)
        self.refresh_bindings()

    @on(QuickEditor.Submitted)
    def _stage(self, event: QuickEditor.Submitted) -> None:
        """Validate with the data core's rule for the field; stage it, or say why not."""
        from data.validation import FieldError

        if self._editing is None:
            return
        record, column = self._editing
        field = column.field
        assert field is not None
        try:
            clean = self.view.entity.validators[field](event.value)
        except FieldError as error:
            self.editor.show_note(f"{column.title} {error}", error=True)
            return
        old = str(column.render(record))
        new = str(column.render(replace(record, **{column.key: clean})))
        key = (record.id, field)
        earlier = self.staged.pop(key, None)
        if new != old:
            # The version the record's first staged edit saw: a colleague's change to the
            # record since then makes the commit refuse, whichever field it touched.
            version = next(
                (edit.version for edit in self.staged.values() if edit.record_id == record.id),
                earlier.version if earlier is not None else record.version,
            )
            self.staged[key] = StagedEdit(
                record_id=record.id,
                version=version,
                label=self.view.label(record),
                field=field,
                title=column.title,
                column=column.key,
                old=old,
                new=new,
                raw=event.value,
            )
        elif earlier is None:
            self.notify(f"{column.title} is unchanged: nothing staged.", timeout=3)
        self._close_editor()
        self._staged_changed()

    @on(QuickEditor.Dropped)
    def _drop_edit(self) -> None:
        self._close_editor()

    def _close_editor(self) -> None:
        self._editing = None
        self.editor.close()
        self.table.focus()
        self.refresh_bindings()

    def _staged_changed(self) -> None:
        """Draw the staged values in the table, the count on the bottom line, the keys."""
        cells: dict[int, dict[str, str]] = {}
        for edit in self.staged.values():
            cells.setdefault(edit.record_id, {})[edit.column] = edit.new
        self.table.show_staged(cells)
        self.show_position()
        self.refresh_bindings()

    def position_notes(self) -> list[str]:
        """How many edits wait for ctrl+s."""
        count = len(self.staged)
        if not count:
            return []
        return [f"{count} staged edit{'' if count == 1 else 's'} (ctrl+s reviews)"]

    def action_unstage(self) -> None:
        """Drop the edit staged last."""
        if not self.staged:
            return
        key = next(reversed(self.staged))
        edit = self.staged.pop(key)
        self.notify(
            visible(f"Dropped {edit.title} of {edit.label}: {edit.old} → {edit.new}."),
            title="Staged edit dropped",
            timeout=4,
            markup=False,
        )
        self._staged_changed()

    def drop_staged(self) -> None:
        """Forget every staged edit (the admin agreed to leave them)."""
        self.staged.clear()
        if self._editing is not None:
            self._close_editor()
        self._staged_changed()

    def action_review_staged(self) -> None:
        """Show every staged edit; committing saves them all in one transaction."""
        if not self.staged:
            return
        edits = list(self.staged.values())

        def decided(commit: bool | None) -> None:
            if commit:
                self._commit_staged(edits)

        self.app.push_screen(StagedEditsDialog(edits, self.view.names.plural), decided)

    @work(thread=True, group="write", exit_on_error=False, description="commit staged edits")
    def _commit_staged(self, edits: list[StagedEdit]) -> None:
        # One change per record, in the order first staged; a refusal names the record and
        # the field, and keeps every edit staged (they are cleared only on success).
        by_record: dict[int, tuple[int, dict[str, str]]] = {}
        for edit in edits:
            _version, fields = by_record.setdefault(edit.record_id, (edit.version, {}))
            fields[edit.field] = edit.raw
        changes = [
            (record_id, version, fields) for record_id, (version, fields) in by_record.items()
        ]
        self.view.table(self.console.db).update_many(changes, actor=self.console.actor)
        self.post_message(self.StagedSaved(len(edits), len(changes)))

    @on(StagedSaved)
    def _staged_saved(self, message: StagedSaved) -> None:
        self.staged.clear()
        self._staged_changed()
        plural = self.view.names.entity if message.records == 1 else self.view.names.plural
        edits = "edit" if message.edits == 1 else "edits"
        self.notify(
            f"Saved {message.edits} {edits} to {message.records} {plural}. Press u to undo.",
            title="Saved",
            timeout=5,
            markup=False,
        )
        self.table.reload()

    # Delete, mark, delete marked

    def action_mark(self) -> None:
        """Mark (or unmark) the record under the cursor for a bulk delete."""
        self.table.toggle_mark()

    def action_delete(self) -> None:
        """Ask to delete the record under the cursor, saying what else it changes."""
        record = self.table.cursor_record
        if record is not None:
            self._check_delete({record.id: record.version}, self.view.label(record))

    def action_delete_marked(self) -> None:
        """Ask to delete every marked record, in one transaction."""
        if not self.table.marked:
            self.notify("Mark rows with space first, then press D.", timeout=4)
            return
        self._check_delete(dict(self.table.marked), None)

    @work(thread=True, exclusive=True, group="delete-check", exit_on_error=False)
    def _check_delete(self, targets: dict[int, int], label: str | None) -> None:
        """Count what else the delete changes (a query), then let the dialog ask."""
        consequence = self.view.delete_consequence(self.console.db, list(targets))
        self.post_message(self.DeleteChecked(targets, label, consequence))

    @on(DeleteChecked)
    def _confirm_delete(self, message: DeleteChecked) -> None:
        targets, label, plural = message.targets, message.label, self.view.names.plural
        if label is not None:
            title, text = f"Delete this {self.view.names.entity}?", label
        else:
            title = f"Delete {len(targets):,} marked {plural}?"
            text = f"{len(targets):,} {plural} will be deleted in one transaction."
        if message.consequence:
            text += f"\n{message.consequence}"
        text += "\nu undoes the delete afterwards."

        def decided(yes: bool | None) -> None:
            if yes:
                self._delete(targets, label or "")

        self.app.push_screen(
            ConfirmDialog(title, text, confirm_label="Delete", danger=True), decided
        )

    @work(thread=True, group="write", exit_on_error=False)
    def _delete(self, targets: dict[int, int], label: str) -> None:
        count = self.view.table(self.console.db).delete_many(targets, actor=self.console.actor)
        self.post_message(self.Deleted(count, label))

    @on(Deleted)
    def _deleted(self, message: Deleted) -> None:
        self.table.marked.clear()
        what = (
            message.label if message.count == 1 else f"{message.count:,} {self.view.names.plural}"
        )
        # ``what`` names a stored record: shown as text, never markup or escapes.
        self.notify(
            visible(f"Deleted {what}. Press u to undo."), title="Deleted", timeout=5, markup=False
        )
        self.table.reload()

    # Export and import

    def action_export(self) -> None:
        """Export every row of the current view (search and sort) to a CSV or JSON file."""
        from tui.screens.transfer import PathPrompt, export_default, export_path_problem

        request = self.table.query_state.request()
        plural = self.view.names.plural
        what = f"the {plural} matching “{request.search}”" if request.search else f"all {plural}"
        hint = f"Write {what}, in the order shown, to this file (.csv or .json)."
        if self.view.has_password:
            hint += " Password hashes are never exported."

        def ask(initial: str) -> None:
            prompt = PathPrompt(
                f"Export {plural}", hint, initial, check=export_path_problem, confirm="Export"
            )
            self.app.push_screen(prompt, chosen)

        def chosen(path: str | None) -> None:
            if path is None:
                return
            if not os.path.lexists(os.path.expanduser(path)):
                self._start_export(request, path)
                return

            def decided(replace: bool | None) -> None:
                # "No" goes back to the name, to choose another, as an editor's save-as does.
                if replace:
                    self._start_export(request, path)
                else:
                    ask(path)

            question = ConfirmDialog(
                "Replace the file?",
                f"{path} already exists. Replace it with this export?",
                confirm_label="Replace",
                danger=True,
            )
            self.app.push_screen(question, decided)

        ask(export_default(self.view))

    def _start_export(self, request: PageRequest, path: str) -> None:
        from tui.screens.transfer import ExportProgress

        def done(count: int | None) -> None:
            if count is None:
                self.notify("Export cancelled: no file written.", title="Not exported", timeout=4)
                return
            written = f"{count:,} {self.view.names.plural} written to {path}"
            if self.app.is_web:
                # In a browser (accessguard --web) the file is on the server: send it down too.
                self.app.deliver_text(path, save_filename=os.path.basename(path))
                written += " on the server, and sent to your browser as a download"
            self.notify(visible(f"{written}."), title="Exported", timeout=6, markup=False)

        self.app.push_screen(ExportProgress(self.view, self.console.db, request, path), done)

    def action_import(self) -> None:
        """Import a CSV or JSON file: a dry run first, reviewed before anything is written."""
        from tui.screens.import_check import ImportCheck
        from tui.screens.transfer import PathPrompt, import_default, import_path_problem

        key = self.view.key_name
        prompt = PathPrompt(
            f"Import {self.view.names.plural}",
            f"Read this file (.csv or .json); rows are matched to {self.view.names.plural} "
            f"by {key}. A dry run shows what would change before anything is written.",
            import_default(self.view),
            check=import_path_problem,
            confirm="Check",
        )

        def chosen(path: str | None) -> None:
            if path is not None:
                self.app.push_screen(
                    ImportCheck(self.view, self.console.db, self.console.actor, path),
                    self._review,
                )

        self.app.push_screen(prompt, chosen)

    def _review(self, result: CheckResult | None) -> None:
        """Review a finished dry run (None: it was cancelled)."""
        from tui.screens.transfer import ImportReview, import_outcome

        if result is None:
            return
        if result.report is None:
            self.notify(
                visible(f"{result.path}: {result.problem}"),
                title="Not imported",
                severity="error",
                timeout=10,
                markup=False,
            )
            return

        def done(report: ImportReport | None) -> None:
            if report is None:
                return
            title, text = import_outcome(self.view, report)
            if report.applied:
                self.notify(text, title=title, timeout=8, markup=False)
            else:
                self.notify(text, title=title, severity="error", timeout=8, markup=False)
            self.table.reload()

        review = ImportReview(
            self.view, self.console.db, self.console.actor, result.path, result.report
        )
        self.app.push_screen(review, done)


class AuditScreen(TableScreen):
    """The audit trail, newest first; Enter shows one entry whole, R restores its "before"."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("R", "restore", "Restore before", id="audit.restore"),
    ]

    title_text = "Audit log"

    class RestorePlanned(Message):
        """What restoring an entry would do was read; the confirm dialog can ask."""

        def __init__(self, plan: RestorePlan) -> None:
            super().__init__()
            self.plan = plan

    class Restored(Message):
        """An entry's "before" state was restored; ``entry`` is the restore's own entry."""

        def __init__(self, entry: AuditRecord, label: str) -> None:
            super().__init__()
            self.entry = entry
            self.label = label

    def __init__(self) -> None:
        super().__init__(id="audit-screen")

    def make_table(self) -> RecordTable:
        """The audit trail through the same virtual table."""
        console = self.console
        return RecordTable(
            AUDIT_COLUMNS,
            fetch_page=lambda request: console.wait_for_database().audit.page(request),
            fetch_count=lambda search, _filters: console.wait_for_database().audit.display_count(
                search
            ),
            query=Query(sort="id", descending=True),
            noun="audit entries",
            page_size=console.options.page_size,
            id="audit",
        )

    def search_hint(self) -> str:
        """What the audit search understands."""
        return "Filter by actor, or a record: user 12, product 7 (Enter: done, Esc: clear)"

    @on(RecordTable.Chosen)
    def _chosen(self, event: RecordTable.Chosen) -> None:
        entry: AuditRecord = event.record
        self.app.push_screen(AuditEntryDialog(entry))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Restore is a write: gone when read-only, asleep until the database is open."""
        if action != "restore":
            return True
        if self.console.read_only:
            return False
        return True if self.console.is_open else None

    def action_restore(self) -> None:
        """Show what restoring the entry under the cursor would change, then ask."""
        entry = self.table.cursor_record
        if entry is not None:
            self._plan_restore(entry.id)

    @work(thread=True, exclusive=True, group="restore-plan", exit_on_error=False)
    def _plan_restore(self, entry_id: int) -> None:
        self.post_message(self.RestorePlanned(self.console.db.audit.restore_plan(entry_id)))

    @on(RestorePlanned)
    def _confirm_restore(self, message: RestorePlanned) -> None:
        plan = message.plan
        title, text = restore_question(plan)

        def decided(yes: bool | None) -> None:
            if yes:
                self._restore(plan.entry.id, plan.version, plan.label)

        self.app.push_screen(
            ConfirmDialog(title, text, confirm_label="Restore", danger=True), decided
        )

    @work(thread=True, group="write", exit_on_error=False)
    def _restore(self, entry_id: int, expected_version: int | None, label: str) -> None:
        audit = self.console.db.audit
        written = audit.restore(
            entry_id, actor=self.console.actor, expected_version=expected_version
        )
        self.post_message(self.Restored(written, label))

    @on(Restored)
    def _restored(self, message: Restored) -> None:
        entry = message.entry
        self.notify(
            visible(f"Restored {message.label} to its state before entry {entry.reverts_id}."),
            title="Restored",
            timeout=6,
            markup=False,
        )
        self.table.reload()


# A value longer than this is cut in the restore question: the entry dialog shows it whole.
RESTORE_VALUE_WIDTH = 28
RESTORE_FIELDS_SHOWN = 10


def restore_question(plan: RestorePlan) -> tuple[str, str]:
    """The confirm dialog's title and text for ``plan``: the record, each field that
    changes back (now → after), and the later changes a restore goes back over."""
    entry, what = plan.entry, plan.label
    if plan.effect == "recreate":
        title = f"Bring back {what}?"
        lead = f"It was deleted; it comes back as it was before entry {entry.id}:"
    elif plan.effect == "delete":
        title = f"Delete {what}?"
        lead = f"It did not exist before entry {entry.id} ({entry.action}); it is deleted:"
    else:
        title = f"Restore {what}?"
        lead = f"These fields go back to their values before entry {entry.id}:"
    lines = [lead]
    for name, now, after in plan.changes[:RESTORE_FIELDS_SHOWN]:
        lines.append(f"  {name}: {_value(now)} → {_value(after)}")
    hidden = len(plan.changes) - RESTORE_FIELDS_SHOWN
    if hidden > 0:
        lines.append(f"  … and {hidden} more")
    latest = plan.latest
    if plan.later and latest is not None:
        changes = "1 later change" if plan.later == 1 else f"{plan.later:,} later changes"
        lines.append(
            f"Changed since: {changes}, the latest by {latest.actor} (entry {latest.id}, "
            f"{latest.action}). Restoring goes back over them."
        )
    lines.append("The restore is audited: restore its own entry to go back.")
    return title, "\n".join(lines)


def _value(value: Any) -> str:
    if value is None:
        return "-"
    text = visible(shown(value))  # one line: a stored line break shows as a stand-in
    if len(text) > RESTORE_VALUE_WIDTH:
        return text[: RESTORE_VALUE_WIDTH - 1] + "…"
    return text


def _as_text(value: Any) -> str:
    """A form field's value as the quick editor shows it: yes/no for flags."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)
