"""The console's undo and redo keys: each reads what it would take back, asks, then does it.

`u` undoes this console's newest change, U (or ctrl+r) brings back its newest undo; both
name the record, each field now → after, who and when, and what cannot come back
(data.undo). A batch bigger than one chunk runs under a progress bar (`UndoProgress`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.message import Message

from tui.text import visible
from tui.typeahead import KeysInOrder

if TYPE_CHECKING:
    from data.actor import Actor
    from data.audit import UndoResult
    from data.database import Database
    from data.undo import Kind, UndoPlan


class UndoKeys(KeysInOrder):
    """The undo and redo actions of `tui.app.AccessGuardApp`."""

    actor: Actor

    @property
    def db(self) -> Database:
        """The open database (the app gives it)."""
        raise NotImplementedError

    def _reload_tables(self) -> None:
        """Re-read every table on the screen stack (the app does)."""
        raise NotImplementedError

    class UndoPlanned(Message):
        """What an undo or redo would take back now: the admin is asked first."""

        def __init__(self, plan: UndoPlan) -> None:
            super().__init__()
            self.plan = plan

    class Undone(Message):
        """An undo or redo finished."""

        def __init__(self, result: UndoResult) -> None:
            super().__init__()
            self.result = result

    def action_undo(self) -> None:
        """Show what undo would take back (this console's newest change), then ask."""
        self._plan_undo("undo")

    def action_redo(self) -> None:
        """Show what redo would bring back (this console's newest undo), then ask."""
        self._plan_undo("redo")

    @work(thread=True, exclusive=True, group="undo-plan", exit_on_error=False)
    def _plan_undo(self, kind: Kind) -> None:
        audit = self.db.audit
        plan = (
            audit.undo_plan(actor=self.actor)
            if kind == "undo"
            else audit.redo_plan(actor=self.actor)
        )
        self.post_message(self.UndoPlanned(plan))

    @on(UndoPlanned)
    def _confirm_undo(self, message: UndoPlanned) -> None:
        from tui.screens.undo import undo_question

        plan = message.plan
        title, text = undo_question(plan)

        def decided(yes: bool | None) -> None:
            if yes:
                self._take_back(plan)

        label = "Undo" if plan.kind == "undo" else "Redo"
        from tui.screens.dialogs import ConfirmDialog  # first needed here, not at start

        self.push_screen(ConfirmDialog(title, text, confirm_label=label), decided)

    def _take_back(self, plan: UndoPlan) -> None:
        """One chunk's worth in a worker; more under a progress bar that can stop it."""
        from data.undo import UNDO_CHUNK
        from tui.screens.undo import UndoProgress

        if plan.left <= UNDO_CHUNK:
            self._take_back_now(plan)
            return

        def ended(result: UndoResult | None) -> None:
            if result is not None:
                self.post_message(self.Undone(result))
                return
            # Stopped (Escape) or refused (the toast said why): part of it may be done.
            self._reload_tables()

        self.push_screen(UndoProgress(plan, self.db, self.actor), ended)

    @work(thread=True, group="write", exit_on_error=False, description="undo or redo")
    def _take_back_now(self, plan: UndoPlan) -> None:
        self.post_message(self.Undone(self.db.audit.take_back(plan, actor=self.actor)))

    @on(Undone)
    def _undone(self, message: Undone) -> None:
        # Names a record as the audit trail stores it: shown as text, never markup.
        title = "Undone" if message.result.summary.startswith("Undo") else "Redone"
        self.notify(visible(message.result.summary), title=title, timeout=6, markup=False)
        self._reload_tables()


__all__ = ["UndoKeys"]
