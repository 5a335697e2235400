"""How an edit form keeps up with its record: it reads it fresh when it opens, says when a
colleague saves or deletes it meanwhile, and takes their values into the fields the admin has
not touched.

The form keeps, per field, what it loaded (the editor's value, to tell what the admin
touched) and the stored value (the ``base`` the data core merges against, see `data.merge`).
Taking a colleague's save moves both on for the untouched fields only: a field the admin
edited keeps its old base, so a colleague's change to it still shows as a conflict at save.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from textual import work
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static

from data.changes import Change
from data.database import Database
from data.errors import NotFound
from data.merge import field_values
from tui.screens.dialogs import wrapping
from tui.views import FieldSpec, ViewSpec
from tui.widgets.field_editors import read_editor, write_editor

if TYPE_CHECKING:
    from tui.app import AccessGuardApp

READ_GROUP = "form-read"


@dataclass(frozen=True)
class Pulled:
    """What taking a newer version into the form did, by field label."""

    taken: tuple[str, ...]
    """Fields whose value changed to theirs."""
    kept: tuple[str, ...]
    """Fields the admin edited that they changed too: the admin's value stays."""


def when(change: Change) -> str:
    """``04:12:03 UTC``: the time of day a change was saved."""
    return change.at.strftime("%H:%M:%S UTC")


def who_changed(changes: Iterable[Change], labels: dict[str, str]) -> str:
    """``bob changed Email, Role at 04:12:03 UTC; carol deleted it at ...``."""
    parts = []
    for change in changes:
        if change.action == "delete":
            parts.append(f"{change.actor} deleted it at {when(change)}")
        else:
            fields = ", ".join(labels.get(name, name) for name in change.fields) or "it"
            parts.append(f"{change.actor} changed {fields} at {when(change)}")
    return "; ".join(parts)


class KeepsUp(ModalScreen[Any | None]):
    """The part of `tui.screens.form.RecordForm` that follows its record in the database."""

    view: ViewSpec
    record: Any | None
    version: int | None
    _loaded: dict[str, Any]

    class Read(Message):
        """The record as the database holds it now (None: it was deleted); ``pull`` says
        whether the admin asked for their values (else the form has just opened)."""

        def __init__(self, record: Any | None, *, pull: bool) -> None:
            super().__init__()
            self.record = record
            self.pull = pull

    def keep_up(self, record: Any | None) -> None:
        """Start from ``record`` (the table's copy, or None for a new record)."""
        self._base: dict[str, Any] = (
            field_values(self.view.entity.declared, record) if record is not None else {}
        )
        self._noticed: list[Change] = []
        self._deleted: Change | None = None
        self._gone = False
        # Audit entries already told: a change can arrive twice (the watcher and a direct
        # post, a NOTIFY and a poll), and once taken it must not be announced again.
        self._told: set[int] = set()

    @property
    def base(self) -> dict[str, Any]:
        """Per field, the stored value the admin's edits are compared with at save."""
        return dict(self._base)

    @property
    def gone(self) -> bool:
        """Whether the record is known to be deleted: saving cannot succeed."""
        return self._gone

    def read_fresh(self, *, pull: bool = False) -> None:
        """Read the record from the database in a worker (never the table's copy)."""
        if self.record is None:
            return
        self._read(self._console_app_of().db, self.record.id, pull)

    @work(thread=True, group=READ_GROUP, exclusive=True, exit_on_error=False)
    def _read(self, db: Database, record_id: int, pull: bool) -> None:
        try:
            record = self.view.table(db).get(record_id)
        except NotFound:
            record = None
        self.post_message(self.Read(record, pull=pull))

    def on_keeps_up_read(self, message: Read) -> None:
        """Take what was read into the untouched fields; say so if the admin asked."""
        if message.record is None:
            self._gone = True
            self.show_notice(
                f"This {self.view.names.entity} no longer exists: someone deleted it. "
                "It cannot be saved; Esc closes the form."
            )
            return
        pulled = self.pull(message.record)
        if message.pull:
            self._noticed.clear()
            self.refresh_bindings()
            self.show_notice(self._pulled_note(pulled), note=True)
        elif pulled.kept:
            # Typed into before the fresh read arrived, over a value that had changed.
            self.show_notice(
                f"Saved meanwhile: {', '.join(pulled.kept)} changed since the table was read; "
                "your value stays, and saving will ask which to keep."
            )

    def _pulled_note(self, pulled: Pulled) -> str:
        version = f"version {self.version}"
        taken = f"Took their {', '.join(pulled.taken)}" if pulled.taken else "Nothing to take"
        note = f"{taken} ({version})."
        if pulled.kept:
            note += (
                f" You changed {', '.join(pulled.kept)} too: your value stays, and saving "
                "will ask which to keep."
            )
        return note

    def pull(
        self, record: Any, *, take: Collection[str] = (), rebase: Collection[str] = ()
    ) -> Pulled:
        """Move the form on to ``record``: untouched fields (and ``take``) get its values
        and base; touched ones keep the admin's value and their base, except ``rebase``,
        whose base becomes ``record``'s (the admin chose to write over it)."""
        shown = {spec.name: spec.initial(record) for spec in self.view.fields}
        stored = field_values(self.view.entity.declared, record)
        taken: list[str] = []
        kept: list[str] = []
        for spec in self.view.fields:
            name = spec.name
            editor = self.editor(name)
            touched = read_editor(editor) != self._loaded[name]
            theirs_moved = stored.get(name) != self._base.get(name)
            if touched and name not in take:
                if name in rebase:
                    self._base[name] = stored.get(name)
                elif theirs_moved and read_editor(editor) != shown[name]:
                    kept.append(spec.label)
                continue
            # Only what they changed moves: a field they left alone stays as the widget
            # holds it (a stored value no widget can show, a role outside the list, stays
            # as the form first showed it).
            if theirs_moved or name in take:
                if read_editor(editor) != shown[name]:
                    write_editor(editor, shown[name])
                    taken.append(spec.label)
                self._loaded[name] = read_editor(editor)
            self._base[name] = stored.get(name)
        self.record = record
        self.version = record.version
        self.rebased(record)
        self._gone = False
        return Pulled(taken=tuple(taken), kept=tuple(kept))

    def rebased(self, record: Any) -> None:
        """Hook: the form's record moved on to ``record``."""

    def both_changed(self, record: Any) -> tuple[str, ...]:
        """The fields the admin edited that ``record`` holds differently from the base."""
        stored = field_values(self.view.entity.declared, record)
        return tuple(
            spec.name
            for spec in self.view.fields
            if read_editor(self.editor(spec.name)) != self._loaded[spec.name]
            and stored.get(spec.name) != self._base.get(spec.name)
        )

    # A colleague's save, noticed by the console

    def on_access_guard_app_records_changed(self, message: AccessGuardApp.RecordsChanged) -> None:
        """Say at once, in the form, who changed or deleted its record, when, and what."""
        if self.record is None:
            return
        ours = self._console_app_of().actor.source
        mine = [
            change
            for change in message.changes
            if change.entity == self.view.entity.entity
            and change.record_id == self.record.id
            and change.source != ours
            and change.entry_id not in self._told
        ]
        if not mine:
            return
        self._told.update(change.entry_id for change in mine)
        for change in mine:
            if change.action == "delete":
                self._deleted = change
                self._gone = True
            else:
                self._noticed.append(change)
        self.refresh_bindings()
        self.show_notice(self._moved_note())

    def _moved_note(self) -> str:
        labels = {spec.name: spec.label for spec in self.view.fields}
        if self._deleted is not None:
            return (
                f"Deleted meanwhile: {who_changed([self._deleted], labels)}. This "
                f"{self.view.names.entity} cannot be saved any more; Esc closes the form."
            )
        said = who_changed(self._noticed[-3:], labels)
        earlier = len(self._noticed) - 3
        more = f" (and {earlier} earlier)" if earlier > 0 else ""
        return (
            f"Saved meanwhile: {said}{more}. ctrl+l takes their values into the fields you "
            "have not touched."
        )

    @property
    def moved_on(self) -> bool:
        """Whether a colleague's save was noticed and not yet taken into the form."""
        return bool(self._noticed) and not self._gone

    def action_take_theirs(self) -> None:
        """Read the record again and take their values into the untouched fields."""
        if self.moved_on:
            self.read_fresh(pull=True)

    def deleted_reason(self) -> str:
        """Why a save of a deleted record is refused, naming who deleted it if known."""
        if self._deleted is not None:
            labels = {spec.name: spec.label for spec in self.view.fields}
            return f"Not saved: {who_changed([self._deleted], labels)}."
        return f"Not saved: this {self.view.names.entity} was deleted by someone else."

    # The notice line

    def show_notice(self, text: str | None, *, note: bool = False) -> None:
        """The line under the title that stays until the next notice (not a toast)."""
        notice = self.query_one("#form-notice", Static)
        notice.update(wrapping(text) if text else "")
        notice.set_class(text is not None, "-shown")
        notice.set_class(note, "-note")

    # Lookups

    def editor(self, name: str) -> Widget:
        """The widget editing field ``name``."""
        return self.query_one(f"#field-{name}")

    def field_spec(self, name: str) -> FieldSpec:
        """The form field called ``name``."""
        return next(spec for spec in self.view.fields if spec.name == name)

    def _console_app_of(self) -> AccessGuardApp:
        return cast("AccessGuardApp", self.app)


__all__ = ["READ_GROUP", "KeepsUp", "Pulled", "when", "who_changed"]
