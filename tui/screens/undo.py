"""Undo and redo, asked first: the confirm's text, and the progress of a big one.

The question names exactly what will be taken back: the operation, who made it and when,
each record with every field now → after, and what cannot come back (a password). A
batch bigger than one chunk (an import) runs under `UndoProgress`: a bar, and Escape
stops it between chunks (what is done stays done; the next `u` continues).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message

from data.entity import counted
from tui.restoring import RESTORE_FIELDS_SHOWN, value_text
from tui.screens.progress import OperationDialog

if TYPE_CHECKING:
    from data.actor import Actor
    from data.audit import UndoResult
    from data.database import Database
    from data.undo import UndoPlan

_DONE = {
    "create": "created",
    "update": "changed",
    "delete": "deleted",
    "restore": "restored",
}
# An undo or a redo is named for what it was, not for the restores it wrote.
_MADE_AS = {"undo": "undone", "redo": "redone"}
_EFFECTS = {
    "update": "goes back",
    "recreate": "comes back",
    "delete": "is deleted again",
}


def undo_question(plan: UndoPlan) -> tuple[str, str]:
    """The confirm's title and text for ``plan``."""
    verb = "Undo" if plan.kind == "undo" else "Redo"
    what = _MADE_AS.get(plan.made_as) or _DONE.get(plan.action, plan.action)
    when = plan.at.strftime("%Y-%m-%d %H:%M:%S")
    count = counted(plan.left, "record")
    if plan.left == 1 and plan.records:
        title = f"{verb}: {plan.records[0].label}?"
    else:
        title = f"{verb} the change to {count}?"
    lines = [f"{what.capitalize()} by {plan.actor} at {when} UTC."]
    if plan.resumes:
        lines.append(
            f"An earlier {plan.kind} stopped after {plan.total - plan.left:,} of "
            f"{plan.total:,}: this one takes back the {plan.left:,} left."
        )
    for record in plan.records:
        lines.append(f"{record.label} {_EFFECTS[record.effect]}:")
        for name, now, after in record.changes[:RESTORE_FIELDS_SHOWN]:
            lines.append(f"  {name}: {value_text(now)} → {value_text(after)}")
        hidden = len(record.changes) - RESTORE_FIELDS_SHOWN
        if hidden > 0:
            lines.append(f"  … and {hidden} more")
    others = plan.left - len(plan.records)
    if others > 0:
        lines.append(f"… and {counted(others, 'more record')}.")
    lines.extend(f"Cannot come back: {note}" for note in plan.lost)
    if plan.kind == "undo":
        lines.append("Audited; U (redo) brings it back.")
    else:
        lines.append("Audited; u undoes it again.")
    return title, "\n".join(lines)


class UndoProgress(OperationDialog["UndoResult"]):
    """Takes back a big batch chunk by chunk, with a bar; Escape stops between chunks."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Stop", id="undo_progress.cancel"),
    ]
    STARTING = "Starting…"
    GROUP = "write"

    class Advanced(Message):
        """This many of the batch's entries are taken back."""

        def __init__(self, done: int, total: int) -> None:
            super().__init__()
            self.done = done
            self.total = total

    def __init__(self, plan: UndoPlan, db: Database, actor: Actor) -> None:
        verb = "Undoing" if plan.kind == "undo" else "Redoing"
        super().__init__(f"{verb} the change to {counted(plan.left, 'record')}")
        self.plan = plan
        self.db = db
        self.actor = actor

    def operation(self, stop_if_asked: Callable[[], None]) -> UndoResult:
        """Take the batch back; each chunk's report may stop it (Escape, closing)."""

        def advanced(done: int, total: int) -> None:
            self.post_message(self.Advanced(done, total))
            stop_if_asked()

        return self.db.audit.take_back(self.plan, actor=self.actor, progress=advanced)

    @on(Advanced)
    def _advanced(self, message: Advanced) -> None:
        status = f"{message.done:,} of {message.total:,} taken back"
        self.show(message.done, message.total, status)


__all__ = ["UndoProgress", "undo_question"]
