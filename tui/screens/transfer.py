"""Export and import from the console: a path prompt, an export with a progress bar, and
the review of an import's dry run before anything is written.

The dialogs run their file and database work in thread workers that call one data-core
operation each (`data.transfer.export_file`, `data.transfer.import_records`); what they
learn comes back as messages. Stored text (keys, reasons) is shown through `tui.text`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, ProgressBar, Static
from textual.worker import Worker, WorkerState

from data.entity import counted
from data.errors import Invalid
from data.records import ImportProgress, ImportReport, PageRequest
from tui.screens.dialogs import Dialog, key_button, wrapping
from tui.screens.progress import Failed, ProgressDialog
from tui.text import safe
from tui.views import ViewSpec
from tui.widgets.stored_text import StoredTextInput
from tui.workers import ReportsWorkerFailures

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


class ImportReview(ReportsWorkerFailures, Dialog[ImportReport | None]):
    """The dry run's verdict; then apply all (nothing refused), apply the valid rows only
    (the admin's choice), or cancel. Returns the applied import's report, or None."""

    DEFAULT_CSS = """
    ImportReview #import-refused {
        height: auto;
        max-height: 10;
        border: round $error;
        padding: 0 1;
    }
    ImportReview #import-bar {
        margin-top: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "apply(False)", "Apply all", id="import.apply_all"),
        Binding("v", "apply(True)", "Apply valid rows", id="import.apply_valid"),
        Binding("escape", "cancel", "Cancel", id="import.cancel"),
    ]

    class Applied(Message):
        """The import ran; ``report`` says what it wrote."""

        def __init__(self, report: ImportReport) -> None:
            super().__init__()
            self.report = report

    def __init__(
        self,
        view: ViewSpec,
        db: Database,
        actor: Actor,
        path: str,
        report: ImportReport,
    ) -> None:
        super().__init__(f"Import {path} into {view.names.plural}?")
        self.view = view
        self.db = db
        self.actor = actor
        self.path = path
        self.report = report
        self.applying = False

    @property
    def changes(self) -> int:
        """Rows the import would write."""
        return self.report.count("add") + self.report.count("update")

    def compose_body(self) -> ComposeResult:
        """Counts, then every refused row's line, field and reason."""
        yield Static(self._summary(), id="import-summary")
        refused = self.report.refused
        if refused:
            with VerticalScroll(id="import-refused"):
                yield Static(self._refusals(), id="import-refusals")
        bar = ProgressBar(total=None, show_eta=False, id="import-bar")
        bar.display = False  # shown while the import is applied
        yield bar

    def _summary(self) -> Text:
        report, unit = self.report, self._unit
        text = Text("Dry run, nothing written yet:\n", style="bold")
        counts = (
            ("add", "to add"),
            ("update", "to update"),
            ("unchanged", "unchanged"),
            ("refused", "refused"),
        )
        text.append(", ".join(f"{report.count(o):,} {label}" for o, label in counts))
        key = self.view.key_name
        text.append(f" (matched by {key}).\n")
        if report.refused:
            changes = counted(self.changes, "valid change")
            valid = f" v applies the {changes} only." if self.changes else ""
            text.append(
                f"Nothing can be applied as a whole while a {unit} is refused.{valid}",
                style="bold",
            )
        elif self.changes:
            text.append(f"a applies the {counted(self.changes, 'change')} in one transaction.")
        else:
            text.append("Nothing to change: the stored records already say this.")
        return text

    @property
    def _unit(self) -> str:
        return "object" if Path(self.path).suffix.lower() == ".json" else "line"

    def _refusals(self) -> Text:
        # The report keeps the first refused rows (data.transfer.REFUSED_KEPT) and counts all.
        lines = [
            safe(f"{self._unit} {row.line}: {field}: {reason}")
            for row in self.report.refused
            for field, reason in row.errors.items()
        ]
        if self.report.refused_left_out:
            more = self.report.refused_left_out
            more_rows = counted(more, "more row")
            lines.append(Text(f"… and {more_rows} (accessguard import --dry-run lists all)"))
        return Text("\n").join(lines)

    def compose_buttons(self) -> ComposeResult:
        """Apply all (only when nothing is refused), apply the valid rows, cancel."""
        yield key_button("Apply all", "a", "apply(False)", variant="primary", id="import-all")
        if self.report.refused:
            yield key_button(
                "Apply valid rows", "v", "apply(True)", variant="warning", id="import-valid"
            )
        yield key_button("Cancel", "esc", "cancel", id="import-cancel")

    def on_mount(self) -> None:
        """Disable what cannot be done; focus the refusals (to scroll) or the safe way out."""
        self._enable()
        if self.report.refused:
            self.query_one("#import-refused").focus()
        else:
            self.query_one("#import-all" if self.changes else "#import-cancel").focus()

    def _enable(self) -> None:
        self.query_one("#import-all", Button).disabled = not self._can_apply(valid_only=False)
        for button in self.query("#import-valid").results(Button):
            button.disabled = not self._can_apply(valid_only=True)
        self.query_one("#import-cancel", Button).disabled = self.applying

    def _can_apply(self, *, valid_only: bool) -> bool:
        if self.applying or not self.changes:
            return False
        return bool(self.report.refused) == valid_only

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Apply all only with nothing refused; apply valid rows only with some refused;
        nothing while the import is being applied."""
        if action == "apply":
            valid_only = bool(parameters and parameters[0])
            if valid_only and not self.report.refused:
                return False
            return True if self._can_apply(valid_only=valid_only) else None
        if action == "cancel":
            return None if self.applying else True
        return True

    def action_cancel(self) -> None:
        """Close without writing."""
        self.dismiss(None)

    def action_apply(self, valid_only: bool) -> None:
        """Apply in one transaction, showing that it runs."""
        if not self._can_apply(valid_only=valid_only):
            return
        self.applying = True
        self._enable()
        self.refresh_bindings()
        self.query_one("#import-bar").display = True
        count = self.report.count("add") + self.report.count("update")
        self.query_one("#import-summary", Static).update(
            f"Applying {counted(count, 'change')} in one transaction…"
        )
        self._apply(valid_only)

    @work(thread=True, exclusive=True, group="import", exit_on_error=False)
    def _apply(self, valid_only: bool) -> None:
        report = import_file(
            self.view, self.db, self.actor, self.path, dry_run=False, valid_only=valid_only
        )
        self.post_message(self.Applied(report))

    @on(Applied)
    def _applied(self, message: Applied) -> None:
        self.dismiss(message.report)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failure (a conflict, the database gone) is reported by the app; nothing was
        written, and the dialog closes."""
        super().on_worker_state_changed(event)
        if event.state == WorkerState.ERROR:
            self.dismiss(None)


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
    "ImportReview",
    "PathPrompt",
    "export_default",
    "export_path_problem",
    "import_default",
    "import_file",
    "import_outcome",
    "import_path_problem",
    "open_import",
]
