"""Small typed dialogs: confirm, conflict, password, audit entry and help.

Each is a ``ModalScreen[...]`` that returns through ``dismiss``. Keys and buttons run the same
screen actions, and every button is labelled with its key, so the mouse is never needed and
never surprising. Stored text is shown through `tui.text` only: never parsed as markup.

The data core's validation loads the models (and so SQLAlchemy); the help and confirm
dialogs can open before the database has, so only the password checks import it, when used.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static
from textual.widgets.button import ButtonVariant

from data.audit_record import AuditRecord
from data.changes import Change
from data.entity import Entity, counted
from tui.text import safe, shown, visible
from tui.views import FieldSpec, ViewSpec, timestamp
from tui.widgets.footer import Footer
from tui.widgets.quick_edit import StagedEdit

if TYPE_CHECKING:
    from data.validation import Validator as DataValidator

ResultT = TypeVar("ResultT")
Resolution = Literal["edit", "theirs", "overwrite"]

MISMATCH = "passwords do not match"


def wrapping(value: str, style: str = "") -> Text:
    """Text made visible, never markup, wrapping at the widget's width.

    Line breaks stay line breaks (a message has paragraphs); every other control
    character is replaced by a visible stand-in.
    """
    lines = (Text(visible(line), style=style) for line in value.split("\n"))
    return Text("\n").join(lines)


def cell(value: str, style: str = "") -> Text:
    """Stored text on one line, cut with an ellipsis where the column ends."""
    text = safe(value, style)
    text.overflow = "ellipsis"
    return text


def key_button(
    label: str, key: str, action: str, *, variant: ButtonVariant = "default", id: str | None = None
) -> Button:
    """A compact button running the same screen action as ``key``, the key shown on it."""
    return Button(Text(f"{label} ({key})"), variant, action=f"screen.{action}", compact=True, id=id)


class FieldValidator(Validator):
    """A Textual validator around one data-core field validator.

    The form then says as you type exactly what the data core would say on save.
    """

    def __init__(self, check: DataValidator) -> None:
        super().__init__()
        self.check = check

    def validate(self, value: str) -> ValidationResult:
        """Success, or a failure carrying the data core's message for this value."""
        from data.validation import FieldError

        try:
            self.check(value)
        except FieldError as error:
            # The value is left out of the failure: it may be a password.
            return self.failure(str(error))
        return self.success()


class Dialog(ModalScreen[ResultT]):
    """A centred box: a title, a body, and a row of buttons that mirror the keys."""

    DEFAULT_CSS = """
    Dialog {
        align: center middle;
    }
    Dialog > .dialog {
        width: 76;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        padding: 0 1;
        border: round $primary;
        background: $surface;
    }
    Dialog .dialog--title {
        text-style: bold;
        margin-bottom: 1;
    }
    Dialog .dialog--scroll {
        height: auto;
        /* Grows with the terminal: 15 lines at 80x24, 27 at 120x40. */
        max-height: 65vh;
    }
    Dialog .dialog--buttons {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    Dialog .dialog--buttons Button {
        margin-left: 2;
    }
    """

    def __init__(self, title: str) -> None:
        super().__init__()
        self.dialog_title = title

    def compose(self) -> ComposeResult:
        """The box; subclasses fill in `compose_body` and `compose_buttons`."""
        with Vertical(classes="dialog"):
            yield Static(wrapping(self.dialog_title), classes="dialog--title")
            yield from self.compose_body()
            with Horizontal(classes="dialog--buttons"):
                yield from self.compose_buttons()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        """What the dialog says."""
        yield from ()

    def compose_buttons(self) -> ComposeResult:
        """One button per way out."""
        yield key_button("Close", "esc", "dismiss", id="dialog-close")


class ConfirmDialog(Dialog[bool]):
    """Yes or no. With ``danger`` the No button starts focused, so Enter is the safe answer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "dismiss(True)", "Yes", id="confirm.yes"),
        Binding("n", "dismiss(False)", "No", id="confirm.no"),
        Binding("escape", "dismiss(False)", "No", show=False, id="confirm.cancel"),
    ]

    def __init__(
        self, title: str, message: str, *, confirm_label: str = "Yes", danger: bool = False
    ) -> None:
        super().__init__(title)
        self.message = message
        self.confirm_label = confirm_label
        self.danger = danger

    def compose_body(self) -> ComposeResult:
        """The question, shown literally (it often names a stored record)."""
        yield Static(wrapping(self.message), id="confirm-message")

    def compose_buttons(self) -> ComposeResult:
        """Yes (labelled as the caller asked) and No."""
        variant: ButtonVariant = "error" if self.danger else "primary"
        yield key_button(
            self.confirm_label, "y", "dismiss(True)", variant=variant, id="confirm-yes"
        )
        yield key_button("No", "n", "dismiss(False)", id="confirm-no")

    def on_mount(self) -> None:
        """Focus the safe answer for a dangerous question, the expected one otherwise."""
        self.query_one("#confirm-no" if self.danger else "#confirm-yes").focus()


class ConflictDialog(Dialog[Resolution]):
    """After a save found that a colleague changed the same fields: those fields alone,
    base / yours / theirs side by side (everything else merged, or will).

    ``fields`` names the conflicting fields (empty: every field, marking where yours and
    theirs differ). ``base`` and ``mine`` are the form's values (as loaded, as edited);
    ``theirs`` None means someone deleted the record: only keep editing.
    """

    DEFAULT_CSS = """
    ConflictDialog #conflict-grid {
        grid-size: 4;
        grid-columns: 13 1fr 1fr 1fr;
        grid-gutter: 0 1;
        grid-rows: 1;
        height: auto;
        margin-top: 1;
    }
    ConflictDialog #conflict-grid > Static {
        /* A value too long for its column is cut with "…", so a cut is never mistaken
           for the whole value (Static ignores Rich's own overflow setting). */
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ConflictDialog .conflict--head {
        text-style: bold underline;
    }
    ConflictDialog .-differs {
        color: $warning;
        text-style: bold;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "dismiss('edit')", "Keep editing", id="conflict.edit"),
        Binding("escape", "dismiss('edit')", "Keep editing", show=False, id="conflict.cancel"),
        Binding("t", "dismiss('theirs')", "Take theirs", id="conflict.theirs"),
        Binding("o", "dismiss('overwrite')", "Overwrite", id="conflict.overwrite"),
    ]

    def __init__(
        self,
        view: ViewSpec,
        *,
        mine: Mapping[str, Any],
        theirs: Any | None,
        base: Mapping[str, Any],
        label: str,
        fields: Sequence[str] = (),
        changes: Sequence[Change] = (),
    ) -> None:
        entity = view.names.entity
        title = f"This {entity} was changed by someone else"
        if theirs is None:
            title = f"This {entity} was deleted by someone else"
        super().__init__(title)
        self.view = view
        self.mine = dict(mine)
        self.theirs = theirs
        self.base = dict(base)
        self.label = label
        self.fields = tuple(fields)
        self.changes = tuple(changes)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A deleted record has no "theirs" to take or overwrite."""
        if action == "dismiss" and parameters and parameters[0] != "edit":
            return self.theirs is not None
        return True

    def compose_body(self) -> ComposeResult:
        """What happened, what each choice does, and the versions side by side."""
        if self.theirs is None:
            message = (
                f"Someone else deleted {self.label} while you edited it. Nothing was saved; "
                "your edits are still in the form."
            )
        elif self.fields:
            names = ", ".join(self._field(name).label for name in self.fields)
            who = ", ".join(dict.fromkeys(change.actor for change in self.changes))
            message = (
                f"{who or 'Someone else'} changed {names} of {self.label} while you edited "
                f"{'them' if len(self.fields) > 1 else 'it'}, differently. Nothing was saved. "
                "Only these fields conflict; the rest merges. Take theirs keeps your other "
                "edits; Overwrite writes yours here and leaves their other changes alone."
            )
        else:
            message = (
                f"{self.label} was saved by someone else while you edited it. Rows marked ≠ "
                "are what Overwrite writes; Take theirs loads their values into the form."
            )
        yield Static(wrapping(message), id="conflict-message")
        with Grid(id="conflict-grid"):
            yield from self._cells()

    def _field(self, name: str) -> FieldSpec:
        return next(spec for spec in self.view.fields if spec.name == name)

    def _cells(self) -> Iterable[Widget]:
        theirs_title = "Theirs" if self.theirs is not None else "Theirs (deleted)"
        for title in ("Field", "Yours", theirs_title, "Original"):
            yield Label(title, classes="conflict--head", markup=False)
        shown_fields = (
            [self._field(name) for name in self.fields] if self.fields else self.view.fields
        )
        for field in shown_fields:
            yours = self.mine.get(field.name)
            theirs = field.initial(self.theirs) if self.theirs is not None else None
            differs = self.theirs is not None and yours != theirs
            classes = "-differs" if differs else ""
            marker = "≠ " if differs else "  "
            yield Static(cell(marker + field.label), classes=classes)
            for value in (yours, theirs, self.base.get(field.name)):
                text = shown(value)
                yield Static(cell(text) if text else Text("-", style="dim"), classes=classes)

    def compose_buttons(self) -> ComposeResult:
        """Keep editing always; take theirs and overwrite only while the record exists."""
        yield key_button("Keep editing", "e", "dismiss('edit')", id="conflict-edit")
        if self.theirs is not None:
            yield key_button("Take theirs", "t", "dismiss('theirs')", id="conflict-theirs")
            yield key_button(
                "Overwrite", "o", "dismiss('overwrite')", variant="warning", id="conflict-overwrite"
            )

    def on_mount(self) -> None:
        """Start on the choice that loses nothing."""
        self.query_one("#conflict-edit").focus()


class PasswordDialog(Dialog[str | None]):
    """A new password typed twice, masked, checked as you type; returns it or None.

    The value is never logged, put in a notification, or named in a worker description.
    """

    DEFAULT_CSS = """
    PasswordDialog Input {
        margin-bottom: 0;
    }
    PasswordDialog .password--error {
        color: $error;
        height: auto;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "accept", "Set password", id="password.accept"),
        Binding("escape", "dismiss(None)", "Cancel", id="password.cancel"),
    ]

    def __init__(self, who: str) -> None:
        from data.validation import password as validate_password

        super().__init__(f"Set the password of {who}")
        self.first = Input(
            password=True,
            placeholder="new password (at least 8 characters)",
            validators=[FieldValidator(validate_password)],
            valid_empty=True,
            id="password-new",
        )
        self.second = Input(password=True, placeholder="the same again", id="password-again")

    def compose_body(self) -> ComposeResult:
        """Two masked inputs, each with its reason under it."""
        yield Label("New password", markup=False)
        yield self.first
        yield Static(classes="password--error", id="password-new-error")
        yield Label("Again", markup=False)
        yield self.second
        yield Static(classes="password--error", id="password-again-error")

    def compose_buttons(self) -> ComposeResult:
        """Accept and cancel."""
        yield key_button("Set password", "ctrl+s", "accept", variant="primary", id="password-ok")
        yield key_button("Cancel", "esc", "dismiss(None)", id="password-cancel")

    def on_mount(self) -> None:
        """Start typing straight away."""
        self.first.focus()

    @on(Input.Changed)
    def _recheck(self) -> None:
        self._show_problems(final=False)

    @on(Input.Submitted, "#password-new")
    def _next(self) -> None:
        self.second.focus()

    @on(Input.Submitted, "#password-again")
    def _submitted(self) -> None:
        self.action_accept()

    def action_accept(self) -> None:
        """Return the password when both inputs agree and it is acceptable."""
        if self._show_problems(final=True):
            return
        self.dismiss(self.first.value)

    def _show_problems(self, *, final: bool) -> bool:
        """Say what is wrong beside each input, and whether anything is.

        An empty input is wrong only when accepting, not while the admin is still typing.
        """
        first, second = self.first.value, self.second.value
        problem = _password_problem(first) if first or final else None
        mismatch = MISMATCH if (second or final) and second != first else None
        self.query_one("#password-new-error", Static).update(Text(problem or ""))
        self.query_one("#password-again-error", Static).update(Text(mismatch or ""))
        if final and (problem or mismatch):
            (self.first if problem else self.second).focus()
        return bool(problem or mismatch)


def _password_problem(value: str) -> str | None:
    from data.validation import FieldError
    from data.validation import password as validate_password

    try:
        validate_password(value)
    except FieldError as error:
        return f"Password {error}"
    return None


def change_lines(entry: AuditRecord, *, leave_out: Collection[str] = ()) -> list[Text]:
    """One line per field an audit entry touched, ``name: old → new``, shown as text, but
    for the fields in ``leave_out``; the audit entry dialog and the record view's history
    both list changes so."""
    changes = {name: change for name, change in entry.changes.items() if name not in leave_out}
    if not changes:
        return [Text("(no field values recorded)", style="italic")]
    lines = []
    for name, (old, new) in changes.items():
        line = Text.assemble((visible(name), "bold"), ": ")
        line.append(visible(shown(old) or "-"))
        line.append(" → ")
        line.append(visible(shown(new) or "-"))
        lines.append(line)
    return lines


class AuditEntryDialog(Dialog[None]):
    """One audit entry in full: who, when, from where, and every field's old and new value."""

    DEFAULT_CSS = """
    AuditEntryDialog #audit-facts {
        grid-size: 2;
        grid-columns: 9 1fr;
        grid-rows: 1;
        height: auto;
        margin-bottom: 1;
    }
    AuditEntryDialog .audit--name {
        text-style: bold;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close", id="audit_entry.close"),
        Binding("enter", "dismiss", "Close", show=False, id="audit_entry.close_enter"),
    ]

    def __init__(self, entry: AuditRecord) -> None:
        super().__init__(f"Audit entry {entry.id}")
        self.entry = entry

    def compose_body(self) -> ComposeResult:
        """The facts, then the changes, all in one scrollable area."""
        with VerticalScroll(classes="dialog--scroll", id="audit-scroll"):
            with Grid(id="audit-facts"):
                for name, value in self._facts():
                    yield Label(name, classes="audit--name", markup=False)
                    yield Static(cell(value))
            yield Label("Changes", classes="audit--name", markup=False)
            for line in self._changes():
                yield Static(line, classes="audit--change")

    def _facts(self) -> list[tuple[str, str]]:
        entry = self.entry
        record = entry.entity if entry.record_id is None else f"{entry.entity} {entry.record_id}"
        login = [] if entry.db_login is None else [("DB login", entry.db_login)]
        return [
            ("Time", f"{timestamp(entry.at)} UTC"),
            ("Actor", entry.actor),
            *login,
            ("Source", entry.source),
            ("Action", entry.action),
            ("Record", record),
            ("Batch", entry.batch),
            ("Reverts", "-" if entry.reverts_id is None else f"entry {entry.reverts_id}"),
        ]

    def _changes(self) -> list[Text]:
        return change_lines(self.entry)

    def on_mount(self) -> None:
        """Arrow keys scroll a long entry."""
        self.query_one("#audit-scroll").focus()


class StagedEditsDialog(Dialog[bool]):
    """The review of staged quick edits: each record, each field old → new, and the count.

    Yes commits them all in one transaction; no (or Escape) keeps them staged.
    """

    DEFAULT_CSS = """
    StagedEditsDialog .staged--record {
        text-style: bold;
    }
    StagedEditsDialog .staged--change {
        padding-left: 2;
    }
    StagedEditsDialog #staged-count {
        margin-top: 1;
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "dismiss(True)", "Commit", id="staged_review.commit"),
        Binding("ctrl+s", "dismiss(True)", "Commit", show=False, id="staged_review.commit_s"),
        Binding("n", "dismiss(False)", "Keep staged", id="staged_review.keep"),
        Binding("escape", "dismiss(False)", "Keep staged", show=False, id="staged_review.cancel"),
    ]

    def __init__(self, edits: Sequence[StagedEdit], names: Entity) -> None:
        records = names.counted(len({edit.record_id for edit in edits}))
        super().__init__(f"Commit {counted(len(edits), 'staged edit')} to {records}?")
        self.edits = tuple(edits)
        self.records = records

    def compose_body(self) -> ComposeResult:
        """Record by record, in the order first staged; then what committing means."""
        by_record: dict[int, list[StagedEdit]] = {}
        for edit in self.edits:
            by_record.setdefault(edit.record_id, []).append(edit)
        with VerticalScroll(classes="dialog--scroll", id="staged-scroll"):
            for edits in by_record.values():
                yield Static(cell(edits[0].label), classes="staged--record")
                for edit in edits:
                    line = Text.assemble((visible(edit.title), "bold"), ": ")
                    line.append(visible(edit.old))
                    line.append(" → ")
                    line.append(visible(edit.new), style="bold")
                    line.no_wrap = True
                    line.overflow = "ellipsis"
                    yield Static(line, classes="staged--change")
        yield Static(
            Text(
                f"{counted(len(self.edits), 'edit')} to {self.records}, saved in one "
                "transaction: all of them or none. u undoes them afterwards."
            ),
            id="staged-count",
        )

    def compose_buttons(self) -> ComposeResult:
        """Commit, or keep them staged."""
        yield key_button("Commit", "y", "dismiss(True)", variant="primary", id="staged-commit")
        yield key_button("Keep staged", "n", "dismiss(False)", id="staged-keep")

    def on_mount(self) -> None:
        """Arrow keys scroll a long review."""
        self.query_one("#staged-scroll").focus()


class HelpScreen(Dialog[None]):
    """Every key of a screen with what it does; the caller reads them from its bindings."""

    DEFAULT_CSS = """
    HelpScreen #help-keys {
        grid-size: 2;
        grid-columns: 14 1fr;
        grid-rows: 1;
        height: auto;
    }
    HelpScreen .help--key {
        text-style: bold;
        color: $primary;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close", id="help.close"),
        Binding("question_mark", "dismiss", "Close", show=False, id="help.close_question"),
        Binding("q", "dismiss", "Close", show=False, id="help.close_q"),
    ]

    def __init__(self, title: str, keys: Sequence[tuple[str, str]]) -> None:
        super().__init__(title)
        self.keys = tuple(keys)

    def compose_body(self) -> ComposeResult:
        """Two columns, scrollable when the list is longer than the screen."""
        with VerticalScroll(classes="dialog--scroll", id="help-scroll"), Grid(id="help-keys"):
            for key, description in self.keys:
                yield Static(cell(key), classes="help--key")
                yield Static(cell(description))

    def on_mount(self) -> None:
        """Arrow keys scroll a long list."""
        self.query_one("#help-scroll").focus()


__all__ = [
    "AuditEntryDialog",
    "ConfirmDialog",
    "ConflictDialog",
    "Dialog",
    "FieldValidator",
    "HelpScreen",
    "PasswordDialog",
    "Resolution",
    "StagedEditsDialog",
    "change_lines",
    "key_button",
    "shown",
]
