"""The audit log screen: every change, newest first; one entry whole, or its "before" restored.

Reading the restore plan and restoring run in thread workers owned by the screen; results
come back as the screen's own messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.message import Message

from data.audit_record import AuditRecord
from data.changes import Change
from tui.restoring import restore_question
from tui.screens.dialogs import AuditEntryDialog, ConfirmDialog
from tui.screens.table_screen import TableScreen
from tui.text import visible
from tui.views import AUDIT_COLUMNS, view_named
from tui.widgets.record_table import RecordTable
from tui.widgets.table_query import Query

if TYPE_CHECKING:
    from data.audit import RestorePlan


class AuditScreen(TableScreen):
    """The audit trail, newest first; Enter shows one entry whole, R restores its "before"."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("R", "restore", "Restore before", id="audit.restore"),
        Binding("v", "view_record", "View record", show=False, id="audit.view_record"),
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

    def changes_shown_here(self, changes: tuple[Change, ...]) -> list[Change]:
        """Every new entry, this console's own too: the trail shows them all."""
        return list(changes)

    def describe_changes(self, changes: list[Change]) -> tuple[dict[int, frozenset[str]], str]:
        """Mark the new entries (the whole line); the note counts them."""
        lit = frozenset(column.key for column in AUDIT_COLUMNS)
        return {change.entry_id: lit for change in changes}, ""

    def search_hint(self) -> str:
        """What the audit search understands."""
        return "Filter by actor, or a record: user 12, product 7 (Enter: done, Esc: clear)"

    @on(RecordTable.Chosen)
    def _chosen(self, event: RecordTable.Chosen) -> None:
        entry: AuditRecord = event.record
        self.app.push_screen(AuditEntryDialog(entry))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Restore is a write: gone when read-only, asleep until the database is open."""
        if action == "view_record":
            return True if self.console.is_open else None
        if action != "restore":
            return True
        if self.console.read_only:
            return False
        return True if self.console.is_open else None

    def action_view_record(self) -> None:
        """Show the record the entry under the cursor is about, whole, with its history."""
        from tui.screens.record_view import RecordView

        entry = self.table.cursor_record
        if entry is None:
            return
        try:
            view = view_named(entry.entity)
        except KeyError:
            view = None
        if view is None or entry.record_id is None:
            self.notify("This entry is about no single record.", timeout=3)
            return
        label = f"{entry.entity} {entry.record_id}"
        self.app.push_screen(RecordView(view, entry.record_id, label=label, editable=False))

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


__all__ = ["AuditScreen", "restore_question"]
