"""The dry run of an import in the console: a progress bar over the file, and a cancel.

One check at a time: the dialog holds the screen while it runs, and on Escape it waits for
its worker to stop (at the next thousand rows) before it closes, so a second dry run can
never start beside a first one still reading.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import ProgressBar, Static
from textual.worker import Worker, WorkerState, get_current_worker

from data.errors import Invalid
from data.records import ImportProgress, ImportReport
from tui.screens.dialogs import Dialog, key_button
from tui.views import ViewSpec
from tui.workers import ReportsWorkerFailures

if TYPE_CHECKING:
    from data.actor import Actor
    from data.database import Database

STEPS = {
    "checking": "Checking every row",
    "matching": "Matching rows to stored records",
}


class CheckCancelled(Exception):
    """Escape during a dry run: the data core's import stops reading."""


@dataclass(frozen=True)
class CheckResult:
    """A finished dry run: its report, or why the file itself was refused."""

    path: str
    report: ImportReport | None
    problem: str = ""


class ImportCheck(ReportsWorkerFailures, Dialog[CheckResult | None]):
    """Runs the import's dry run with a progress bar; returns its result, or None if
    cancelled (Escape) or failed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel check", id="import_check.cancel"),
    ]

    class Advanced(Message):
        """The dry run has read this far."""

        def __init__(self, progress: ImportProgress) -> None:
            super().__init__()
            self.progress = progress

    class Finished(Message):
        """The dry run ended: its result, None if cancelled."""

        def __init__(self, result: CheckResult | None) -> None:
            super().__init__()
            self.result = result

    def __init__(self, view: ViewSpec, db: Database, actor: Actor, path: str) -> None:
        super().__init__(f"Checking {path}")
        self.view = view
        self.db = db
        self.actor = actor
        self.path = path
        self._stop = threading.Event()

    def compose_body(self) -> ComposeResult:
        """The bar and a line saying how far it is."""
        yield ProgressBar(total=100, show_eta=False, id="check-bar")
        yield Static("Opening the file…", id="check-status")

    def compose_buttons(self) -> ComposeResult:
        """Cancel only: the check ends by itself."""
        yield key_button("Cancel", "esc", "cancel", id="check-cancel")

    def on_mount(self) -> None:
        """Start at once."""
        self._check()

    @work(thread=True, exclusive=True, group="import-check", exit_on_error=False)
    def _check(self) -> None:
        from data.transfer import detect_format, import_records
        from tui.screens.transfer import open_import

        worker = get_current_worker()

        def advanced(progress: ImportProgress) -> None:
            if self._stop.is_set() or worker.is_cancelled:
                raise CheckCancelled
            self.post_message(self.Advanced(progress))

        try:
            with open_import(self.path) as source:
                report = import_records(
                    self.db,
                    self.view.names.entity,
                    source,
                    fmt=detect_format(self.path),
                    actor=self.actor,
                    dry_run=True,
                    progress=advanced,
                )
        except CheckCancelled:
            self.post_message(self.Finished(None))
            return
        except Invalid as refused:
            problem = "; ".join(
                reason if field == "file" else f"{field}: {reason}"
                for field, reason in refused.errors.items()
            )
            self.post_message(self.Finished(CheckResult(self.path, None, problem)))
            return
        except OSError as error:
            problem = f"{error.strerror or error}"
            self.post_message(self.Finished(CheckResult(self.path, None, problem)))
            return
        self.post_message(self.Finished(CheckResult(self.path, report)))

    @on(Advanced)
    def _advanced(self, message: Advanced) -> None:
        progress = message.progress
        fraction = progress.fraction
        bar = self.query_one("#check-bar", ProgressBar)
        if fraction is None:
            bar.update(total=None)
        else:
            bar.update(total=100, progress=round(fraction * 100))
        step = STEPS.get(progress.step, progress.step)
        status = f"{step}: {progress.rows:,} rows read"
        if self._stop.is_set():
            status = "Cancelling…"
        self.query_one("#check-status", Static).update(status)

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        self.dismiss(message.result)

    def action_cancel(self) -> None:
        """Stop at the next thousand rows; the dialog closes once the check has stopped."""
        self._stop.set()
        self.query_one("#check-status", Static).update("Cancelling…")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failure is reported by the app (a toast); the dialog closes."""
        super().on_worker_state_changed(event)
        if event.state == WorkerState.ERROR:
            self.dismiss(None)


__all__ = ["CheckResult", "ImportCheck"]
