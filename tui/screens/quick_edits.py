"""Quick edits on a record screen: F2 stages one cell, ctrl+s reviews and commits them
all in one transaction, ctrl+z drops the last one.

`QuickEdits` is a part of `tui.screens.records.RecordScreen`: it owns the staged edits, the
editor's bar under the table, the commit worker and its message. Nothing is written before
the admin reviews the edits; the data core validates each field as it is staged and again
when they are committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.message import Message

from data.entity import counted
from tui.screens.table_screen import TableScreen
from tui.text import visible
from tui.views import ColumnSpec, ViewSpec

if TYPE_CHECKING:
    from tui.widgets.quick_edit import QuickEditor, StagedEdit

# Keys that need staged edits, and sleep while a cell is being edited.
STAGED_ACTIONS = frozenset({"review_staged", "unstage"})


class QuickEdits(TableScreen):
    """The staged edits of a record screen, and the keys that stage, review and drop them."""

    view: ViewSpec

    class StagedSaved(Message):
        """The staged edits were committed, ``edits`` of them to ``records`` records."""

        def __init__(self, edits: int, records: int, merged: tuple[str, ...] = ()) -> None:
            super().__init__()
            self.edits = edits
            self.records = records
            # Per record that merged with a colleague's save: "<label>: Merged with ...".
            self.merged = merged

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # (record id, field) -> its staged edit, in the order staged (ctrl+z drops the last).
        self.staged: dict[tuple[int, str], StagedEdit] = {}
        # The record and column F2 opened, while the editor is open.
        self._editing: tuple[Any, ColumnSpec] | None = None

    @property
    def staged_keys_awake(self) -> bool:
        """Whether review (ctrl+s) and unstage (ctrl+z) can act: edits staged, none open."""
        return bool(self.staged) and self._editing is None

    @property
    def editor(self) -> QuickEditor:
        """The quick editor's bar (once F2 has opened it)."""
        from tui.widgets.quick_edit import QuickEditor

        return self.query_one(QuickEditor)

    async def _mounted_editor(self) -> QuickEditor:
        """The quick editor's bar, mounted under the table the first time F2 asks for it:
        not in the first frame, which is drawn sooner without its five widgets."""
        from tui.widgets.quick_edit import QuickEditor

        mounted = self.query(QuickEditor)
        if mounted:
            return mounted.first()
        editor = QuickEditor(id="quick-edit")
        await self.mount(editor, after=self.table)
        return editor

    async def action_quick_edit(self) -> None:
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
        editor = await self._mounted_editor()
        editor.open(f"{column.title} of {self.view.label(record)}", value)
        self.refresh_bindings()

    def on_quick_editor_submitted(self, event: QuickEditor.Submitted) -> None:
        """Validate with the data core's rule for the field; stage it, or say why not."""
        from data.merge import field_values
        from data.validation import FieldError
        from tui.widgets.quick_edit import StagedEdit

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
            # The version and values the record's first staged edit saw: the commit merges
            # with a colleague's change since then, and refuses one to the same field.
            first = next(
                (edit for edit in self.staged.values() if edit.record_id == record.id), earlier
            )
            self.staged[key] = StagedEdit(
                record_id=record.id,
                version=first.version if first is not None else record.version,
                base=(
                    first.base
                    if first is not None
                    else field_values(self.view.entity.declared, record)
                ),
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

    def on_quick_editor_dropped(self) -> None:
        """Escape in the editor: nothing staged."""
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
        return [f"{counted(count, 'staged edit')} (ctrl+s reviews)"]

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

        from tui.screens.dialogs import StagedEditsDialog  # first needed here, not at start

        self.app.push_screen(StagedEditsDialog(edits, self.view.names), decided)

    @work(thread=True, group="write", exit_on_error=False, description="commit staged edits")
    def _commit_staged(self, edits: list[StagedEdit]) -> None:
        # One change per record, in the order first staged; a refusal names the record and
        # the field, and keeps every edit staged (they are cleared only on success).
        by_record: dict[int, tuple[int, dict[str, str]]] = {}
        bases: dict[int, Mapping[str, Any]] = {}
        for edit in edits:
            _version, fields = by_record.setdefault(edit.record_id, (edit.version, {}))
            fields[edit.field] = edit.raw
            bases.setdefault(edit.record_id, edit.base)
        changes = [
            (record_id, version, fields) for record_id, (version, fields) in by_record.items()
        ]
        saved = self.view.table(self.console.db).update_many(
            changes, actor=self.console.actor, bases=bases
        )
        merged = [
            f"{self.view.label(each.record)}: {each.merged_note}"
            for each in saved
            if each.merged_note is not None
        ]
        self.post_message(self.StagedSaved(len(edits), len(changes), tuple(merged)))

    @on(StagedSaved)
    def _staged_saved(self, message: StagedSaved) -> None:
        self.staged.clear()
        self._staged_changed()
        edits, records = counted(message.edits, "edit"), self.view.names.counted(message.records)
        self.notify(
            f"Saved {edits} to {records}. Press u to undo.",
            title="Saved",
            timeout=5,
            markup=False,
        )
        if message.merged:
            self.notify(visible("\n".join(message.merged)), title="Merged", timeout=8, markup=False)
        self.table.reload()


def _as_text(value: Any) -> str:
    """A form field's value as the quick editor shows it: yes/no for flags."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


__all__ = ["STAGED_ACTIONS", "QuickEdits"]
