"""A dialog that runs one long data operation with a progress bar, a status line and a
cancel: the export (`tui.screens.transfer.ExportProgress`), the import's dry run
(`tui.screens.import_check.ImportCheck`) and a big undo (`tui.screens.undo.UndoProgress`).

The operation runs in a thread worker and tells its progress through a callback; the
callback given to `operation` raises `Stopped` once the admin pressed Escape or the console
is closing, which ends the operation the way it cleans up after any error (an export
removes its temporary file). The dialog closes only when its worker says it has ended.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from textual import on
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import ProgressBar, Static
from textual.worker import Worker, WorkerState, get_current_worker

from tui.screens.dialogs import Dialog, ResultT, key_button
from tui.text import visible
from tui.views import ViewSpec
from tui.workers import ReportsWorkerFailures

if TYPE_CHECKING:
    from data.database import Database


class Stopped(Exception):
    """Escape, or the console closing: the operation stops at its next progress report."""


class Failed(Exception):
    """The operation could not be done; ``problem`` says why, for a toast."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class OperationDialog(ReportsWorkerFailures, Dialog[ResultT | None]):
    """A bar, a status line and Cancel (Escape) around one operation, which starts at
    once. Returns its result, or None if cancelled or failed."""

    STARTING = "Starting…"
    GROUP = "progress"  # the worker group: one operation of a kind at a time
    FAILED_TITLE = "Not done"

    class Finished(Message):
        """The operation ended: its result (None if stopped), and why if it failed."""

        def __init__(self, result: object, problem: str | None = None) -> None:
            super().__init__()
            self.result = result
            self.problem = problem

    def __init__(self, title: str) -> None:
        super().__init__(title)
        self._stop = threading.Event()

    def compose_body(self) -> ComposeResult:
        """The bar and a line saying how far it is."""
        yield ProgressBar(total=None, show_eta=False, id="progress-bar")
        yield Static(self.STARTING, id="progress-status")

    def compose_buttons(self) -> ComposeResult:
        """Cancel only: the operation ends by itself."""
        yield key_button("Cancel", "esc", "cancel", id="progress-cancel")

    def on_mount(self) -> None:
        """Start at once, in a thread worker."""
        self.run_worker(
            self._run, thread=True, exclusive=True, group=self.GROUP, exit_on_error=False
        )

    def operation(self, stop_if_asked: Callable[[], None]) -> ResultT:
        """Do the work (in the worker thread), calling ``stop_if_asked`` with each progress
        report; raise `Failed` to say why it cannot be done."""
        raise NotImplementedError

    def _run(self) -> None:
        worker = get_current_worker()

        def stop_if_asked() -> None:
            if self._stop.is_set() or worker.is_cancelled:
                raise Stopped

        try:
            result = self.operation(stop_if_asked)
        except Stopped:
            self.post_message(self.Finished(None))
        except Failed as failed:
            self.post_message(self.Finished(None, failed.problem))
        else:
            self.post_message(self.Finished(result))

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        if message.problem is not None:
            self.notify(
                visible(message.problem), title=self.FAILED_TITLE, severity="error", markup=False
            )
        self.dismiss(cast("ResultT | None", message.result))

    def show(self, done: int | None, total: int | None, status: str) -> None:
        """Move the bar (no ``total``: how much is left is unknown) and say ``status``."""
        bar = self.query_one("#progress-bar", ProgressBar)
        bar.update(total=total, progress=done or 0)
        if self._stop.is_set():
            status = "Cancelling…"
        self.query_one("#progress-status", Static).update(status)

    def action_cancel(self) -> None:
        """Stop at the next progress report; the dialog closes once the worker has ended."""
        self._stop.set()
        self.query_one("#progress-status", Static).update("Cancelling…")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failure is reported by the app (a toast); the dialog closes."""
        super().on_worker_state_changed(event)
        if event.state == WorkerState.ERROR:
            self.dismiss(None)


class ProgressDialog(OperationDialog[ResultT]):
    """An `OperationDialog` over ``view``'s records and the file ``path`` (export, import)."""

    def __init__(self, title: str, *, view: ViewSpec, db: Database, path: str) -> None:
        super().__init__(title)
        self.view = view
        self.db = db
        self.path = path


__all__ = ["OperationDialog", "ProgressDialog", "Stopped"]
