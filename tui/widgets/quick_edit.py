"""Quick edits: one cell changed in place (F2), staged until the admin reviews and commits.

The editor is a bar under the table rather than an input over the cell: at 80x24 the
cells are 6 to 26 cells wide, too narrow to type a price or an email into, and the bar
has room to say which record and field it edits and, when the data core refuses the value,
why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Static

from tui.text import safe
from tui.widgets.stored_text import StoredTextInput

HINT = "Enter stages the edit · Esc drops it · nothing is saved before ctrl+s"


@dataclass(frozen=True)
class StagedEdit:
    """One cell's new value, waiting for the review.

    ``version`` is the record's version when its first edit was staged and ``base`` its
    stored values then (`data.merge.field_values`): the commit merges with colleagues'
    saves since, and is refused only if one changed the same field differently. ``raw`` is
    what was typed (the data core validates it again when committing); ``old`` and ``new``
    are the cell as shown.
    """

    record_id: int
    version: int
    label: str
    field: str
    title: str
    column: str
    old: str
    new: str
    raw: str
    base: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False)


class QuickEditor(Vertical):
    """The one-line editor F2 opens: which cell, the value, and a hint or the error."""

    DEFAULT_CSS = """
    QuickEditor {
        display: none;
        height: auto;
        background: $panel;
        padding: 0 1;
    }
    QuickEditor > Horizontal {
        height: 1;
    }
    QuickEditor #quick-edit-label {
        width: auto;
        max-width: 45%;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        text-style: bold;
        padding-right: 1;
    }
    QuickEditor #quick-edit-input {
        width: 1fr;
    }
    QuickEditor #quick-edit-note {
        height: 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    QuickEditor #quick-edit-note.error {
        color: $text-error;
        text-style: bold;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "drop", "Drop edit", id="quick_edit.drop"),
    ]

    class Submitted(Message):
        """Enter was pressed: stage ``value`` (if the data core accepts it)."""

        def __init__(self, value: str) -> None:
            super().__init__()
            self.value = value

    class Dropped(Message):
        """Escape was pressed: the edit is dropped, nothing staged."""

    def compose(self) -> ComposeResult:
        """The cell's name and the value on one line, a hint or the error below."""
        with Horizontal():
            yield Static(id="quick-edit-label")
            yield StoredTextInput(compact=True, id="quick-edit-input")
        yield Static(HINT, id="quick-edit-note")

    @property
    def is_open(self) -> bool:
        """Whether a cell is being edited."""
        return self.display

    @property
    def input(self) -> Input:
        """The value being typed."""
        return self.query_one("#quick-edit-input", Input)

    def open(self, label: str, value: str) -> None:
        """Edit ``value`` of the cell called ``label`` (stored text: shown literally)."""
        self.query_one("#quick-edit-label", Static).update(safe(f"{label}:"))
        self.show_note(HINT)
        self.input.value = value
        self.input.cursor_position = len(value)
        self.display = True
        self.input.focus()

    def show_note(self, text: str, *, error: bool = False) -> None:
        """The hint, or why the value was refused (the edit stays open for correction)."""
        note = self.query_one("#quick-edit-note", Static)
        note.set_class(error, "error")
        note.update(Text(text))

    def close(self) -> None:
        """Hide the bar (the caller puts the keyboard back in the table)."""
        self.display = False

    @on(Input.Submitted, "#quick-edit-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Submitted(event.value))

    def action_drop(self) -> None:
        """Escape: forget what was typed."""
        self.post_message(self.Dropped())


__all__ = ["HINT", "QuickEditor", "StagedEdit"]
