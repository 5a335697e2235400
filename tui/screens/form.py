"""The one record form: new or edit, users or products, driven by a `ViewSpec`.

An edit form reads its record fresh when it opens (`tui.screens.form_sync`), remembers the
version and values it loaded, and saves only the fields the admin changed, against that base:
the data core merges with whatever colleagues saved meanwhile and refuses only the fields
both changed differently (`data.merge`). Never a version re-read just before saving, which
would silently overwrite a colleague's work. Every read and save runs in a thread worker and
comes back as a message; the UI thread never runs SQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, Switch, TextArea
from textual.worker import Worker, WorkerState

from data.actor import Actor
from data.database import Database
from data.errors import AccessGuardError, Conflict, Invalid
from tui.screens.dialogs import (
    ConfirmDialog,
    ConflictDialog,
    FieldValidator,
    PasswordDialog,
    Resolution,
    key_button,
    shown,
    wrapping,
)
from tui.screens.form_sync import KeepsUp
from tui.screens.form_write import FormWrite
from tui.text import describe_character, hidden_characters, safe, visible
from tui.views import FieldSpec, ViewSpec
from tui.widgets.field_editors import make_editor, read_editor
from tui.widgets.footer import Footer
from tui.widgets.relation_picker import RelationPicker
from tui.workers import ReportsWorkerFailures

if TYPE_CHECKING:
    from tui.app import AccessGuardApp

WRITE_GROUP = "form-write"
TYPED_KINDS = frozenset({"text", "email", "money", "count"})
DONE = frozenset({WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED})


class RecordForm(ReportsWorkerFailures, KeepsUp):
    """Create a record (``record`` None) or edit one; dismisses with the saved record.

    Dismisses with None when this form changed nothing in the database, and with the latest
    record when it did (a password set, then cancelled, still changed the user).
    """

    DEFAULT_CSS = """
    RecordForm {
        align: center middle;
    }
    RecordForm > #form-box {
        width: 78;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        padding: 0 1;
        border: round $primary;
        background: $panel;
    }
    RecordForm #form-title {
        text-style: bold;
    }
    RecordForm #form-summary, RecordForm #form-notice, RecordForm .form--error {
        display: none;
        color: $error;
        &.-shown {
            display: block;
        }
        &.-note {
            color: $warning;
        }
    }
    RecordForm #form-body {
        height: auto;
        max-height: 16;
        margin-top: 1;
    }
    RecordForm .form--row {
        height: auto;
    }
    RecordForm .form--label {
        width: 13;
        padding-right: 1;
    }
    RecordForm .form--row:focus-within > .form--label {
        text-style: reverse;
    }
    RecordForm .form--field {
        width: 1fr;
        height: auto;
    }
    RecordForm Switch {
        border: none;
        height: 1;
        padding: 0;
        &:focus {
            border: none;
        }
    }
    RecordForm .form--switch {
        height: 1;
    }
    RecordForm .form--state {
        width: auto;
        margin-left: 1;
    }
    RecordForm TextArea {
        height: 4;
    }
    RecordForm #form-buttons {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    RecordForm #form-buttons Button {
        margin-left: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="form.save"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("f3", "set_password", "Set password", id="form.set_password"),
        Binding("ctrl+l", "take_theirs", "Take their values", id="form.take_theirs"),
    ]

    class Saved(Message):
        """The record was written; ``password_error`` says why its new password was not,
        ``merged`` whose saves it merged with."""

        def __init__(
            self,
            record: Any,
            password_error: AccessGuardError | None = None,
            merged: str | None = None,
        ) -> None:
            super().__init__()
            self.record = record
            self.password_error = password_error
            self.merged = merged

    class SaveRefused(Message):
        """The data core refused some fields; nothing was written."""

        def __init__(self, error: Invalid) -> None:
            super().__init__()
            self.error = error

    class Conflicted(Message):
        """The record changed or vanished since the form loaded it; nothing was written."""

        def __init__(self, error: Conflict) -> None:
            super().__init__()
            self.error = error

    class PasswordSet(Message):
        """The user's password was set; ``record`` carries the user's new version."""

        def __init__(self, record: Any) -> None:
            super().__init__()
            self.record = record

    def __init__(self, view: ViewSpec, record: Any | None) -> None:
        super().__init__()
        self.view = view
        self.record = record
        self.version: int | None = record.version if record is not None else None
        self._loaded = self._raw(record)
        # Fields holding a value another tool stored past validation: saving is refused,
        # naming them, until each is given a valid value.
        self._malformed = self._malformed_of(record)
        self._pending_password: str | None = None
        self._busy = False
        self._wrote = False
        self.keep_up(record)

    # Reading the form

    @property
    def dirty(self) -> bool:
        """Whether anything in the form differs from what it loaded."""
        return self._pending_password is not None or self.values() != self._loaded

    def values(self) -> dict[str, Any]:
        """Every field as the admin has it now, before validation."""
        return {spec.name: read_editor(self._editor(spec.name)) for spec in self.view.fields}

    def _raw(self, record: Any | None) -> dict[str, Any]:
        """What the widgets show for ``record`` (the defaults for a new one)."""
        if record is None:
            return {spec.name: spec.default for spec in self.view.fields}
        return {spec.name: spec.initial(record) for spec in self.view.fields}

    def _changes(self) -> dict[str, Any]:
        """What to send: every filled-in field for a create, the edited ones for an update."""
        values = self.values()
        if self.record is None:
            return {name: self._data(name, value) for name, value in values.items() if value != ""}
        return {
            name: self._data(name, value)
            for name, value in values.items()
            if value != self._loaded[name]
        }

    def _data(self, name: str, value: Any) -> Any:
        # An empty relation names no record, which the data core spells None.
        if self._spec(name).kind == "relation" and not value:
            return None
        return value

    # Building it

    def compose(self) -> ComposeResult:
        """Title, a summary of refusals, one row per field, and the buttons."""
        with Vertical(id="form-box"):
            yield Static(safe(self._title()), id="form-title")
            yield Static(id="form-notice")
            yield Static(id="form-summary")
            with VerticalScroll(id="form-body"):
                for spec in self.view.fields:
                    yield self._row(spec)
            with Horizontal(id="form-buttons"):
                yield key_button("Save", "ctrl+s", "save", variant="primary", id="form-save")
                if self.view.has_password:
                    yield key_button("Set password…", "f3", "set_password", id="form-password")
                yield key_button("Cancel", "esc", "cancel", id="form-cancel")
        yield Footer()

    def _row(self, spec: FieldSpec) -> Widget:
        validator = self.view.entity.validators.get(spec.name)
        check = FieldValidator(validator) if validator and spec.kind in TYPED_KINDS else None
        editor = make_editor(spec, self._loaded[spec.name], check=check, new=self.record is None)
        if isinstance(editor, Switch):
            # The slider alone is a colour; "yes"/"no" beside it reads in any terminal.
            state = Static(shown(editor.value), id=f"state-{spec.name}", classes="form--state")
            editor = Horizontal(editor, state, classes="form--switch")
        return Horizontal(
            Label(spec.label, classes="form--label", markup=False),
            Vertical(
                editor,
                Static(id=f"error-{spec.name}", classes="form--error"),
                classes="form--field",
            ),
            classes="form--row",
        )

    def _title(self) -> str:
        if self.record is None:
            return f"New {self.view.names.entity}"
        return f"Edit {self.view.label(self.record)}"

    def on_mount(self) -> None:
        """Start in the first field, take the widgets' own reading as "loaded", and read
        the record fresh: the table's copy may be older than the database."""
        # A TextArea may normalise line endings; comparing against what the widgets hold
        # keeps an untouched form from counting as edited.
        self._loaded = self.values()
        for spec in self.view.fields:
            self._show_error(spec.name, None)  # flags stored text with hidden characters
        self._editor(self.view.fields[0].name).focus()
        self.read_fresh()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Only records with a secret field have passwords; their values are there to take
        only once a colleague's save was noticed."""
        if action == "set_password":
            return self.view.has_password
        if action == "take_theirs":
            return self.moved_on
        return True

    # Errors beside fields

    @on(Input.Changed, ".form--editor")
    def _typed(self, event: Input.Changed) -> None:
        result = event.validation_result
        failures = result.failure_descriptions if result is not None else []
        self._show_error(event.input.name, failures[0] if failures else None)

    @on(Input.Submitted)
    def _next_field(self) -> None:
        # Enter moves on, as in most terminal forms; ctrl+s is what saves.
        self.focus_next()

    @on(TextArea.Changed, ".form--editor")
    def _text_typed(self, event: TextArea.Changed) -> None:
        name = event.text_area.name
        validator = self.view.entity.validators.get(name or "")
        if validator is not None:
            result = FieldValidator(validator).validate(event.text_area.text)
            self._show_error(name, None if result.is_valid else result.failure_descriptions[0])

    @on(Select.Changed, ".form--editor")
    @on(Switch.Changed, ".form--editor")
    @on(RelationPicker.Changed, ".form--editor")
    def _chosen(self, event: Select.Changed | Switch.Changed | RelationPicker.Changed) -> None:
        if isinstance(event, Switch.Changed):
            self.query_one(f"#state-{event.switch.name}", Static).update(shown(event.value))
        self._show_error(event.control.name, None)

    def _show_error(self, name: str | None, message: str | None) -> None:
        """The reason beside field ``name``; with none, a note if it holds hidden characters."""
        if name is None:
            return
        label = self.query_one(f"#error-{name}", Static)
        note = None if message else self._malformed_note(name) or self._hidden_note(name)
        shown = f"{self._spec(name).label}: {message}" if message else note
        label.update(wrapping(shown) if shown else Text())
        label.set_class(shown is not None, "-shown")
        label.set_class(note is not None, "-note")

    def _malformed_note(self, name: str) -> str | None:
        """What is wrong with the stored value of field ``name``, while it is untouched."""
        stored = self._malformed.get(name)
        if stored is None or read_editor(self._editor(name)) != self._loaded[name]:
            return None
        from data.stored import describe

        return f"{self._spec(name).label} {describe(stored)}: enter a valid value"

    def _hidden_note(self, name: str) -> str | None:
        """A warning (not a refusal) naming characters in the field that nobody can see.

        A zero-width space or a right-to-left override is valid text, and is kept as
        stored, but "admin" and "adm<U+200B>in" must not look alike to the admin.
        """
        value = read_editor(self._editor(name))
        if not isinstance(value, str):
            return None
        hidden = hidden_characters(value, multiline=self._spec(name).kind == "multiline")
        if not hidden:
            return None
        named = ", ".join(describe_character(ch) for ch in hidden[:3])
        more = f" and {len(hidden) - 3} more" if len(hidden) > 3 else ""
        return f"{self._spec(name).label} holds characters that cannot be seen: {named}{more}"

    def _show_summary(self, message: str | None) -> None:
        summary = self.query_one("#form-summary", Static)
        summary.update(wrapping(message) if message else Text())
        summary.set_class(message is not None, "-shown")

    def _show_refusal(self, error: Invalid) -> None:
        """Each reason beside its field, and one line at the top naming them all."""
        names = {spec.name for spec in self.view.fields}
        labels = [self._spec(name).label for name in error.errors if name in names]
        parts = [f"check {', '.join(labels)}"] if labels else []
        for name, reason in error.errors.items():
            if name in names:
                self._show_error(name, reason)
            else:
                parts.append(reason if name == "record" else f"{name}: {reason}")
        self._show_summary("Not saved: " + "; ".join(parts))
        first = next((name for name in error.errors if name in names), None)
        if first is not None:
            self._editor(first).focus()

    def _clear_errors(self) -> None:
        self._show_summary(None)
        for spec in self.view.fields:
            self._show_error(spec.name, None)

    # Saving

    def action_save(self) -> None:
        """Save the form: a create, or an update against the version the form loaded."""
        if self._refuse_while_busy():
            return
        if self.gone:
            self._show_summary(self.deleted_reason())
            return
        changes = self._changes()
        if self.record is not None and not changes and not self._malformed:
            self.notify("Nothing to save: no field was changed.")
            self._close()
            return
        self._start_write(changes, expected_version=self.version)

    def _start_write(self, changes: dict[str, Any], *, expected_version: int | None) -> None:
        app = self._console_app()
        self._busy = True
        self._clear_errors()
        self._write(
            FormWrite(
                db=app.db,
                table=self.view.table(app.db),
                actor=app.actor,
                record_id=None if self.record is None else self.record.id,
                changes=changes,
                expected_version=expected_version,
                base=self.base,
                password=self._pending_password,
            )
        )

    @work(thread=True, group=WRITE_GROUP, exit_on_error=False, description="Saving a record")
    def _write(self, write: FormWrite) -> None:
        # Busy, Unavailable, ReadOnly... fail the worker: the app reports them, the form stays.
        try:
            record, merged = write.save()
        except Invalid as error:
            self.post_message(self.SaveRefused(error))
            return
        except Conflict as error:
            self.post_message(self.Conflicted(error))
            return
        self.post_message(self.Saved(*write.set_password(record), merged=merged))

    def on_record_form_saved(self, message: Saved) -> None:
        """Say so (and whose changes it merged with) and close with the record."""
        label = self.view.label(message.record)
        self.app.notify(visible(f"Saved {label}"), markup=False)
        if message.merged is not None:
            self.app.notify(visible(message.merged), title="Merged", markup=False, timeout=8)
        if message.password_error is not None:
            self.app.notify(
                visible(
                    f"{label} was saved, but its password was not set: {message.password_error}"
                ),
                title="Password not set",
                severity="warning",
                markup=False,
            )
        self.dismiss(message.record)

    def on_record_form_save_refused(self, message: SaveRefused) -> None:
        """Reasons beside the fields; the form keeps every value."""
        self._show_refusal(message.error)

    def on_record_form_conflicted(self, message: Conflicted) -> None:
        """Show only the fields both sides changed (base / yours / theirs) and let the
        admin decide; everything else merges."""
        error = message.error
        theirs = error.current
        fields = error.fields or (() if theirs is None else self.both_changed(theirs))

        def resolve(choice: Resolution | None) -> None:
            self._resolve(choice, theirs, fields)

        dialog = ConflictDialog(
            self.view,
            mine=self.values(),
            theirs=theirs,
            base=self._loaded,
            fields=fields,
            changes=error.changes,
            label=self.view.label(self.record),
        )
        self.app.push_screen(dialog, resolve)

    def _resolve(
        self, choice: Resolution | None, theirs: Any | None, fields: tuple[str, ...]
    ) -> None:
        if theirs is None:
            self._show_summary(self.deleted_reason())
        elif choice == "theirs":
            # Their values in the conflicting (and the untouched) fields, the admin's other
            # edits kept: nothing of theirs or of the admin's is lost, and ctrl+s saves.
            pulled = self.pull(theirs, take=fields)
            self._clear_errors()
            kept = "; your other edits are kept, ctrl+s saves them" if self.dirty else ""
            taken = ", ".join(pulled.taken) or "nothing new"
            self.show_notice(f"Took their values: {taken}{kept}.", note=True)
        elif choice == "overwrite":
            # Yours over theirs in the conflicting fields only, against their version, so a
            # third change in between is still caught; their other changes stay.
            self.pull(theirs, rebase=fields)
            self._start_write(self._changes(), expected_version=theirs.version)

    def rebased(self, record: Any) -> None:
        """The form moved on to ``record``: check its stored values afresh."""
        self._malformed = self._malformed_of(record)

    def _malformed_of(self, record: Any | None) -> dict[str, Any]:
        """The form's fields that hold a malformed value in ``record``."""
        if record is None:
            return {}
        from data.stored import malformed_fields

        editable = {spec.name for spec in self.view.fields}
        return {name: value for name, value in malformed_fields(record).items() if name in editable}

    @on(Worker.StateChanged)
    def _write_finished(self, event: Worker.StateChanged) -> None:
        if event.worker.group == WRITE_GROUP and event.state in DONE:
            self._busy = False

    def _refuse_while_busy(self) -> bool:
        if self._busy:
            self.notify("Still saving; wait a moment.", severity="warning")
        return self._busy

    # Passwords

    def action_set_password(self) -> None:
        """Choose a password: set at once for a stored user, after the create for a new one."""
        if not self.view.has_password or self._refuse_while_busy():
            return
        new = f"the new {self.view.names.entity}"
        who = new if self.record is None else self.view.label(self.record)
        self.app.push_screen(PasswordDialog(who), self._password_chosen)

    def _password_chosen(self, password: str | None) -> None:
        if password is None:
            return
        if self.record is None:
            self._pending_password = password
            self.query_one("#form-password", Button).label = Text("Password chosen ✓ (f3)")
            self.notify(f"The password will be set when the {self.view.names.entity} is saved.")
            return
        app = self._console_app()
        self._busy = True
        self._set_password(app.db, app.actor, self.record.id, password, self.version)

    @work(thread=True, group=WRITE_GROUP, exit_on_error=False, description="Setting a password")
    def _set_password(
        self, db: Database, actor: Actor, user_id: int, password: str, expected_version: int | None
    ) -> None:
        assert expected_version is not None
        store = self.view.table(db)
        record = store.set_secret(user_id, password, expected_version=expected_version, actor=actor)
        self.post_message(self.PasswordSet(record))

    def on_record_form_password_set(self, message: PasswordSet) -> None:
        """Adopt the user's new version, so the next save is checked against it."""
        self.record = message.record
        self.version = message.record.version
        self._wrote = True
        self.notify(f"Password set for {self.view.names.entity} {message.record.id}")

    # Leaving

    def action_cancel(self) -> None:
        """Close; ask first if anything would be lost."""
        if self._refuse_while_busy():
            return
        if not self.dirty:
            self._close()
            return
        subject = "this new record" if self.record is None else self.view.label(self.record)
        dialog = ConfirmDialog(
            "Discard changes?",
            f"Your changes to {subject} are not saved.",
            confirm_label="Discard",
            danger=True,
        )
        self.app.push_screen(dialog, self._discard)

    def _discard(self, yes: bool | None) -> None:
        if yes:
            self._close()

    def _close(self) -> None:
        self.dismiss(self.record if self._wrote else None)

    # Lookups

    def _editor(self, name: str) -> Widget:
        return self.editor(name)

    def _spec(self, name: str) -> FieldSpec:
        return self.field_spec(name)

    def _console_app(self) -> AccessGuardApp:
        return cast("AccessGuardApp", self.app)


__all__ = ["RecordForm"]
