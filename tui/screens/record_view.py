"""The record view: one record whole, every field untruncated, and its recent history.

`v` on a table screen (and Enter where the console cannot edit) opens it. It is driven by the
entity's declaration alone (`tui.views.ViewSpec`): every declared field in its order, a
relation named by the record it points at, a secret only as "set" / "not set", then the
audit trail's latest entries about the record, newest first. It reads the record fresh, in a
worker, when it opens: the row under the cursor may be older than the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Label, Static
from textual.worker import Worker, WorkerState

from data.audit_record import AuditRecord
from data.entity import CLOCK_FIELDS, Field
from tui.app import AccessGuardApp
from tui.malformed import malformed_cell
from tui.screens.dialogs import Dialog, HelpScreen, change_lines, key_button, wrapping
from tui.text import cell_len, visible
from tui.views import ViewSpec, shown_as, timestamp, view_named, yes_no
from tui.workers import ReportsWorkerFailures

if TYPE_CHECKING:
    from data.database import Database

# The latest entries shown; the audit log (3) has the rest, a search away.
HISTORY_LIMIT = 20


@dataclass(frozen=True)
class RecordSheet:
    """What the view shows, read in one worker: the record (None when it is no longer in the
    database), the names of the records its relations point at, and its latest audit entries,
    newest first (``more``: older ones exist)."""

    record: Any | None
    named: dict[str, str]
    history: tuple[AuditRecord, ...]
    more: bool


def read_sheet(db: Database, view: ViewSpec, record_id: int) -> RecordSheet:
    """Read the record, what its relations name and its history, fresh. From a worker only."""
    # Loaded here, in the worker: the console's first frame never waits for the data core.
    from data.audit_filters import AuditFilter
    from data.errors import NotFound
    from data.records import PageRequest

    try:
        record = db.table(view.key).get(record_id)
    except NotFound:
        record = None  # deleted: its history still says what it was and who deleted it
    named = {} if record is None else _relation_names(db, view, record)
    where = AuditFilter(entity=view.names.entity, record_id=record_id)
    page = db.audit.page(PageRequest(limit=HISTORY_LIMIT), where)
    return RecordSheet(record, named, tuple(page.records), page.has_next)


def _relation_names(db: Database, view: ViewSpec, record: Any) -> dict[str, str]:
    """Relation field -> the display name of the record it points at (its ``display``
    field), for the relations that point at one."""
    from data.errors import NotFound

    named = {}
    for item in view.names.relations:
        target_id = getattr(record, item.stored_as)
        if target_id is None:
            continue
        target = view_named(item.to).names
        try:
            found = db.table(item.to).get(target_id)
        except NotFound:
            continue  # unlinked since the record was read: the key it had is still shown
        if target.display_field != target.natural_key:
            named[item.name] = str(getattr(found, target.display_field))
    return named


def field_rows(view: ViewSpec, record: Any, named: dict[str, str]) -> list[tuple[str, Text]]:
    """(label, value) for the ID, every declared field in order, then the bookkeeping;
    ``named`` holds the names `read_sheet` found for the relations."""
    rows = [("ID", Text(str(record.id)))]
    for item in view.names.fields:
        rows.append((item.title, _value(item, record, named)))
    for name in CLOCK_FIELDS:
        at = Text(f"{timestamp(getattr(record, name))} UTC")
        rows.append((name.replace("_", " ").capitalize(), at))
    rows.append(("Version", Text(str(record.version))))
    return rows


def _value(item: Field, record: Any, named: dict[str, str]) -> Text:
    """One field's whole value, as text: never markup, control characters shown."""
    key = shown_as(item)
    malformed = malformed_cell(record, key)
    value = getattr(record, key)
    if malformed is not None:  # and why, as the form says it beside the field
        why = f"stored past validation: {visible(value.reason)}"
        return Text.assemble(visible(malformed), "\n", (why, "dim"))
    if item.kind == "secret":
        return Text("set" if value else "not set")
    if item.kind == "flag":
        return Text(yes_no(value))
    if item.kind == "relation":
        return _relation(item, record, named.get(item.name))
    if value is None or value == "":
        return Text("-", style="dim")
    if item.kind == "multiline":
        return wrapping(str(value))  # its line breaks are the admin's
    return Text(visible(str(value)))


def _relation(item: Field, record: Any, name: str | None) -> Text:
    """``Ana Lima <ana@example.com>, user 12``: whom a relation names, by name and id."""
    target_id = getattr(record, item.stored_as)
    if target_id is None:
        return Text("-", style="dim")
    key = getattr(record, shown_as(item))
    target = view_named(item.to).names
    who = f"{name} <{key}>" if name is not None else str(key)
    return Text(visible(f"{who}, {target.entity} {target_id}"))


def _title(view: ViewSpec, sheet: RecordSheet) -> str:
    """``Product 2 <VIC-21393>``: the record as messages name it, capitalised."""
    label = view.label(sheet.record)
    return label[:1].upper() + label[1:]


def history_lines(entry: AuditRecord) -> Iterable[Text]:
    """One entry of the history: when, who and what, then each field before → after."""
    yield Text.assemble(
        (f"{timestamp(entry.at)} UTC", "bold"),
        "  ",
        visible(entry.actor),
        "  ",
        (entry.action, "bold"),
        (f"  entry {entry.id}", "dim"),
    )
    # A create records the new record's created_at: the entry's own time says it already.
    yield from change_lines(entry, leave_out=CLOCK_FIELDS)


class RecordScroll(VerticalScroll):
    """The view's scrolling body: arrows and j / k, pages, both ends."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "scroll_down", "Scroll down", show=False, id="record_view.down"),
        Binding("k,up", "scroll_up", "Scroll up", show=False, id="record_view.up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="record_view.page_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="record_view.page_up"),
        Binding("g,home", "scroll_home", "Top", show=False, id="record_view.top"),
        Binding("G,end", "scroll_end", "Bottom", show=False, id="record_view.bottom"),
        # Nothing is wider than the view (values wrap): no sideways keys in help.
        Binding("left", "scroll_left", show=False, id="record_view.left"),
        Binding("right", "scroll_right", show=False, id="record_view.right"),
        Binding("ctrl+pageup", "page_left", show=False, id="record_view.page_left"),
        Binding("ctrl+pagedown", "page_right", show=False, id="record_view.page_right"),
    ]


class RecordView(ReportsWorkerFailures, Dialog[Any | None]):
    """One record whole, with its history; returns the record to edit (``e``), or None."""

    DEFAULT_CSS = """
    RecordView > .dialog {
        width: 100;
        height: 1fr;
    }
    RecordView #record-scroll {
        height: 1fr;
    }
    RecordView .record--fields {
        grid-size: 2;
        grid-rows: auto;
        grid-gutter: 0 1;
        height: auto;
    }
    RecordView .record--name, RecordView .record--heading {
        text-style: bold;
    }
    RecordView .record--heading {
        margin-top: 1;
    }
    RecordView .record--entry {
        margin-top: 1;
    }
    RecordView .record--change {
        padding-left: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close", id="record_view.close"),
        Binding("q", "dismiss(None)", "Close", show=False, id="record_view.close_q"),
        Binding("e", "edit", "Edit", id="record_view.edit"),
        Binding("question_mark", "help", "Help", id="record_view.help"),
    ]

    class Read(Message):
        """The record, its relations' names and its history were read."""

        def __init__(self, sheet: RecordSheet) -> None:
            super().__init__()
            self.sheet = sheet

    def __init__(self, view: ViewSpec, record_id: int, *, label: str, editable: bool) -> None:
        super().__init__(label[:1].upper() + label[1:])
        self.view = view
        self.record_id = record_id
        self.editable = editable
        self.sheet: RecordSheet | None = None

    @property
    def console(self) -> AccessGuardApp:
        """The app, typed."""
        return cast("AccessGuardApp", self.app)

    def compose_body(self) -> ComposeResult:
        """The scrolling body; filled once the record is read."""
        with RecordScroll(id="record-scroll"):
            yield Static(Text(f"Reading {self.view.names.entity} {self.record_id}…"))

    def compose_buttons(self) -> ComposeResult:
        """Edit (where editing is allowed) and close."""
        if self.editable:
            yield key_button("Edit", "e", "edit", variant="primary", id="record-edit")
        yield key_button("Close", "esc", "dismiss(None)", id="record-close")

    def on_mount(self) -> None:
        """Read the record; the keys scroll the body meanwhile."""
        self.query_one(RecordScroll).focus()
        self._read()

    @work(thread=True, exclusive=True, group="record-view", exit_on_error=False)
    def _read(self) -> None:
        self.post_message(self.Read(read_sheet(self.console.db, self.view, self.record_id)))

    @on(AccessGuardApp.RecordsChanged)
    def _changed_elsewhere(self, message: AccessGuardApp.RecordsChanged) -> None:
        """Someone changed this record while it is on view: read it again."""
        entity = self.view.names.entity
        if any((c.entity, c.record_id) == (entity, self.record_id) for c in message.changes):
            self._read()

    @on(Read)
    async def _show(self, message: Read) -> None:
        self.sheet = sheet = message.sheet
        if sheet.record is not None:
            self.query_one(".dialog--title", Static).update(wrapping(_title(self.view, sheet)))
        body = self.query_one(RecordScroll)
        await body.remove_children()
        await body.mount_all(self._body(sheet))
        self.refresh_bindings()

    def _body(self, sheet: RecordSheet) -> list[Widget]:
        widgets: list[Widget] = []
        names = self.view.names
        if sheet.record is None:
            gone = f"This {names.entity} is no longer in the database."
            widgets.append(Static(Text(gone, style="bold")))
        else:
            rows = field_rows(self.view, sheet.record, sheet.named)
            cells: list[Widget] = []
            for label, value in rows:
                cells += [Label(label, classes="record--name", markup=False), Static(value)]
            grid = Grid(*cells, classes="record--fields")
            # The label column is as wide as the longest label: nothing cut, nothing wasted.
            grid.styles.grid_columns = f"{max(cell_len(label) for label, _ in rows)} 1fr"
            widgets.append(grid)
        widgets.append(Static(self._history_heading(sheet), classes="record--heading"))
        if not sheet.history:
            none = "No audit entry names it (a seed writes one entry for all it adds)."
            widgets.append(Static(Text(none, style="italic")))
        for entry in sheet.history:
            head, *changes = history_lines(entry)
            widgets.append(Static(head, classes="record--entry"))
            widgets.extend(Static(line, classes="record--change") for line in changes)
        return widgets

    def _history_heading(self, sheet: RecordSheet) -> Text:
        heading = Text("History, newest first")
        if sheet.more:
            search = f"{self.view.names.entity} {self.record_id}"
            heading.append(
                f" (the latest {HISTORY_LIMIT}; 3 and /{search} list them all)", style="dim"
            )
        return heading

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Edit is gone where editing is not allowed, asleep until the record is read."""
        if action != "edit":
            return True
        if not self.editable:
            return False
        return True if self.sheet is not None and self.sheet.record is not None else None

    def action_edit(self) -> None:
        """Close the view and edit the record as it was just read."""
        if self.editable and self.sheet is not None and self.sheet.record is not None:
            self.dismiss(self.sheet.record)

    def action_help(self) -> None:
        """Every key of the view."""
        self.app.push_screen(HelpScreen("Keys: record view", self.console.screen_keys()))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed read says so in the view, and the app says why (a toast)."""
        if event.state == WorkerState.ERROR:
            body = self.query_one(RecordScroll)
            body.remove_children()
            body.mount(Static(Text("The record could not be read (see the message).")))
        super().on_worker_state_changed(event)


__all__ = ["HISTORY_LIMIT", "RecordScroll", "RecordSheet", "RecordView", "field_rows", "read_sheet"]
