"""The record screen: Users or Products, one generic screen driven by a `ViewSpec`.

Every database call runs in a thread worker owned by the screen; results come back as the
screen's own messages. Nothing here knows whether it shows users or products: the
`ViewSpec` says. The screen is made of parts, one job each: the table screen it shares with
the audit log (`tui.screens.table_screen`), quick edits (`tui.screens.quick_edits`) and
export / import (`tui.screens.transfer_actions`); new, edit, delete and relations are here.

A screen can be on view before the database is open (the console opens it after its first
frame): the tables' reads wait for it, and the keys that change data are disabled until then.
"""

from __future__ import annotations

import io
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import ModalScreen

from data.entity import counted
from tui.screens.live_notes import note, rows_to_mark
from tui.screens.quick_edits import STAGED_ACTIONS, QuickEdits
from tui.screens.transfer_actions import TransferActions
from tui.text import visible
from tui.views import Link, ViewSpec, view_named
from tui.widgets.record_table import RecordTable

if TYPE_CHECKING:
    from data.changes import Change

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


class RecordScreen(QuickEdits, TransferActions):
    """Users or Products: a table of records with new, edit, delete, mark and bulk delete."""

    # Every key of the screen, its parts' too, in the order the footer and help list them.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "New", id="records.new"),
        Binding("e", "edit", "Edit", id="records.edit"),
        Binding("v", "view", "View record", show=False, id="records.view"),
        Binding("d", "delete", "Delete", id="records.delete"),
        Binding("space", "mark", "Mark", show=False, id="records.mark"),
        Binding("D", "delete_marked", "Delete marked", show=False, id="records.delete_marked"),
        # Named per screen, after the records it lists (`_name_related`).
        Binding("o", "related", "Related records", show=False, id="records.related"),
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
        self._name_related()

    def _name_related(self) -> None:
        """Help and the palette say what ``o`` lists here: ``Their products (owner)``."""
        related = self.view.related
        if related is None:
            return
        described = f"Their {related.view} ({related.label})"
        self._bindings.key_to_bindings["o"] = [
            replace(binding, description=described) if binding.id == "records.related" else binding
            for binding in self._bindings.key_to_bindings.get("o", [])
        ]

    def changes_shown_here(self, changes: tuple[Change, ...]) -> list[Change]:
        """Others' changes to this view's records; this console's own are on screen already."""
        own = self.console.actor.source
        entity = self.view.names.entity
        return [c for c in changes if c.entity == entity and c.source != own]

    def describe_changes(self, changes: list[Change]) -> tuple[dict[int, frozenset[str]], str]:
        """Mark the records changed or added; name them, and who, on the position line."""
        names = self.view.names
        return rows_to_mark(changes), note(changes, names.entity, names.plural)

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
            preview=partial(console.first_page_ready, view.key),
            id="records",
        )

    def record_json(self, record: Any) -> str:
        """The record as the JSON export writes it: its export columns, no password hash."""
        import json

        from data.transfer import write_records

        out = io.StringIO()
        write_records(self.view.entity, [record], out, fmt="json")
        (item,) = json.loads(out.getvalue())
        return json.dumps(item, ensure_ascii=False, indent=2)

    def search_hint(self) -> str:
        """Which fields the search looks in."""
        names = " or ".join(self.view.names.search_fields)
        return f"Search {self.view.names.plural} by {names}; ^text: starts with (Enter: done)"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Write keys disappear from the footer, help and palette when read-only, and are
        shown disabled (doing nothing) until the database is open."""
        if action == "related" and self.view.related is None:
            return False
        # Copying too: rows may show before the database is open (`data.first_page`), and
        # the keys that read or write records work once it is.
        if action in ("export", "related", "view", "copy_cell", "copy_record"):
            return True if self.console.is_open else None
        if action not in WRITE_ACTIONS:
            return True
        if self.console.read_only:
            return False
        if action in STAGED_ACTIONS and not self.staged_keys_awake:
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
        if not self.console.is_open:
            # Rows shown before the database opened (`data.first_page`): Enter waits for it.
            self.console.when_open(partial(self._chosen, event))
            return
        link = self.table.columns[self.table.cursor_column].link
        if link is not None:
            self._follow(link, event.record)
            return
        if self.console.read_only:
            self.action_view()  # nothing to edit: Enter shows the record whole instead
            return
        self.action_edit()

    def action_view(self) -> None:
        """Show the record under the cursor whole, with its history; ``e`` there edits it."""
        from tui.screens.record_view import RecordView

        record = self.table.cursor_record
        if record is None:
            return
        view = RecordView(
            self.view, record.id, label=self.view.label(record), editable=not self.console.read_only
        )
        self.app.push_screen(view, self._after_view)

    def _after_view(self, record: Any | None) -> None:
        if record is not None:  # e in the view: edit the record as the view just read it
            self.app.push_screen(self._form(record), self._after_form)

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
        targets, label, names = message.targets, message.label, self.view.names
        if label is not None:
            title, text = f"Delete this {names.entity}?", label
        else:
            marked = counted(len(targets), f"marked {names.entity}", f"marked {names.plural}")
            title = f"Delete {marked}?"
            text = f"{names.counted(len(targets))} will be deleted in one transaction."
        if message.consequence:
            text += f"\n{message.consequence}"
        text += "\nu undoes the delete afterwards."

        def decided(yes: bool | None) -> None:
            if yes:
                self._delete(targets, label or "")

        from tui.screens.dialogs import ConfirmDialog  # first needed here, not at start

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
        what = message.label if message.count == 1 else self.view.names.counted(message.count)
        # ``what`` names a stored record: shown as text, never markup or escapes.
        self.notify(
            visible(f"Deleted {what}. Press u to undo."), title="Deleted", timeout=5, markup=False
        )
        self.table.reload()


__all__ = ["WRITE_ACTIONS", "RecordScreen"]
