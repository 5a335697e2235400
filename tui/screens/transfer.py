"""Export and import from the console: a path prompt, an export with a progress bar, and
what an import runs and says (its review is `tui.screens.transfer_review`).

The dialogs run their file and database work in thread workers that call one data-core
operation each (`data.transfer.export_file`, `data.transfer.import_records`); what they
learn comes back as messages. Stored text (keys, reasons) is shown through `tui.text`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input, Static

from data.entity import counted
from data.errors import Invalid
from data.import_report import ImportProgress, ImportReport
from data.records import PageRequest
from tui.screens.dialogs import Dialog, key_button, wrapping
from tui.screens.progress import Failed, ProgressDialog
from tui.text import safe
from tui.views import ViewSpec
from tui.widgets.stored_text import StoredTextInput

if TYPE_CHECKING:
    from data.actor import Actor
    from data.database import Database

PathCheck = Callable[[str], str | None]


def local_now() -> datetime:
    """The local time that stamps a default export name (tests fix it)."""
    return datetime.now()


def export_default(view: ViewSpec) -> str:
    """``./users-20260102-030405.csv``: a new file in the current directory."""
    return f"./{view.key}-{local_now():%Y%m%d-%H%M%S}.csv"


def import_default(view: ViewSpec) -> str:
    """The newest export of these records in the current directory, else ``./users.csv``."""
    found = [
        path
        for pattern in (f"{view.key}*.csv", f"{view.key}*.json")
        for path in Path.cwd().glob(pattern)
        if path.is_file()
    ]
    if not found:
        return f"./{view.key}.csv"
    newest = max(found, key=lambda path: (path.stat().st_mtime, path.name))
    return f"./{newest.name}"


def _format_problem(path: str) -> str | None:
    if Path(path).suffix.lower() not in (".csv", ".json"):
        return "the name must end in .csv or .json (that is the format)"
    return None


def export_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be exported to, or None."""
    if not path:
        return "type a file name"
    from data.replace import target_problem

    target = Path(path).expanduser()
    if target.is_dir() and not target.is_symlink():
        return "that is a folder; add a file name"
    if not target.parent.is_dir():
        return f"there is no folder {str(target.parent)!r}"
    return target_problem(target) or _format_problem(path)


def import_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be imported from, or None."""
    if not path:
        return "type a file name"
    target = Path(path).expanduser()
    if not target.is_file():
        return "there is no such file"
    return _format_problem(path)


class PathPrompt(Dialog[str | None]):
    """A file name, typed or accepted as offered; returns it, or None on Escape."""

    DEFAULT_CSS = """
    PathPrompt #path-error {
        color: $error;
        height: auto;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="path.cancel"),
    ]

    def __init__(
        self, title: str, hint: str, default: str, *, check: PathCheck, confirm: str
    ) -> None:
        super().__init__(title)
        self.hint = hint
        self.default = default
        self.check = check
        self.confirm = confirm

    def compose_body(self) -> ComposeResult:
        """What the file is for, the name, and why it will not do (if it will not)."""
        yield Static(wrapping(self.hint), id="path-hint")
        # The offered name may be a file found in the folder, named by anyone: drawn visible.
        yield StoredTextInput(value=self.default, id="path-input", select_on_focus=False)
        yield Static(id="path-error")

    def compose_buttons(self) -> ComposeResult:
        """Go ahead, or cancel."""
        yield key_button(self.confirm, "enter", "submit", variant="primary", id="path-ok")
        yield key_button("Cancel", "esc", "dismiss(None)", id="path-cancel")

    def on_mount(self) -> None:
        """The keyboard goes to the name, at its end."""
        self.query_one("#path-input", Input).focus()

    @on(Input.Submitted, "#path-input")
    def _submitted(self) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        """Return the name if it will do; else say why under it."""
        path = self.query_one("#path-input", Input).value.strip()
        problem = self.check(path)
        if problem is not None:
            self.query_one("#path-error", Static).update(safe(problem))
            return
        self.dismiss(path)


class ExportProgress(ProgressDialog[int]):
    """Writes the view's rows to a file with a progress bar; returns the count, or None if
    cancelled (Escape) or failed. The file appears only once complete."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel export", id="export.cancel"),
    ]
    STARTING = "Counting the rows…"
    GROUP = "export"
    FAILED_TITLE = "Not exported"

    class Advanced(Message):
        """``written`` rows of ``total`` are in the file."""

        def __init__(self, written: int, total: int) -> None:
            super().__init__()
            self.written = written
            self.total = total

    def __init__(self, view: ViewSpec, db: Database, request: PageRequest, path: str) -> None:
        super().__init__(f"Exporting {view.names.plural} to {path}", view=view, db=db, path=path)
        self.request = request

    def operation(self, stop_if_asked: Callable[[], None]) -> int:
        """Count, then export; Escape or the console closing removes the file."""
        from data.transfer import detect_format, export_file

        table = self.view.table(self.db)
        total = table.count(self.request.search, self.request.filters)
        self.post_message(self.Advanced(0, total))

        def advanced(written: int) -> None:
            stop_if_asked()
            self.post_message(self.Advanced(written, total))

        try:
            return export_file(
                self.db,
                self.view.names.entity,
                Path(self.path).expanduser(),
                fmt=detect_format(self.path),
                request=self.request,
                progress=advanced,
            )
        except Invalid as refused:  # not a regular file, or replaced meanwhile
            raise Failed("; ".join(refused.errors.values())) from None
        except OSError as error:  # a full disk, a folder without write permission
            raise Failed(f"{error.strerror or error}: {self.path}") from None

    @on(Advanced)
    def _advanced(self, message: Advanced) -> None:
        total = max(message.total, message.written)
        written = f"{message.written:,} of {self.view.names.counted(total)} written"
        self.show(message.written, total, written)


def import_outcome(view: ViewSpec, report: ImportReport) -> tuple[str, str]:
    """The toast after an import: its title and text."""
    added, updated = report.count("add"), report.count("update")
    refused = report.count("refused")
    if not report.applied:
        rows = counted(refused, "row")
        return "Not imported", f"Nothing imported: {rows} refused (the file changed?)."
    unchanged = report.count("unchanged")
    text = f"{view.names.counted(added)} added, {updated:,} updated, {unchanged:,} unchanged."
    if refused:
        text += f" {counted(refused, 'refused row')} left out."
    return "Imported", text


def open_import(path: str) -> BinaryIO:
    """Open ``path`` for import, as bytes: the import decodes them (and drops a
    spreadsheet's byte-order mark), pinning a byte that is not UTF-8 to its line."""
    return open(Path(path).expanduser(), "rb")


def import_file(
    view: ViewSpec,
    db: Database,
    actor: Actor,
    path: str,
    *,
    dry_run: bool,
    valid_only: bool = False,
    progress: Callable[[ImportProgress], None] | None = None,
) -> ImportReport:
    """`data.transfer.import_records` of the file ``path`` into ``view``'s records (in a
    worker thread: it reads the file and the database)."""
    from data.transfer import detect_format, import_records

    with open_import(path) as source:
        return import_records(
            db,
            view.names.entity,
            source,
            fmt=detect_format(path),
            actor=actor,
            dry_run=dry_run,
            valid_only=valid_only,
            progress=progress,
        )


__all__ = [
    "ExportProgress",
    "PathPrompt",
    "export_default",
    "export_path_problem",
    "import_default",
    "import_file",
    "import_outcome",
    "import_path_problem",
    "open_import",
]
