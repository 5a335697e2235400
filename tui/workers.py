"""One place where worker failures become messages an admin can act on.

``Worker.StateChanged`` does not bubble, so every widget or screen that starts database
workers mixes in `ReportsWorkerFailures`, which hands the event to the app's single handler.
"""

from __future__ import annotations

from textual.worker import Worker, WorkerState


class ReportsWorkerFailures:
    """Mixin for DOM nodes that run database workers."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Forward a failure to the app; successes are handled by the worker's own messages."""
        if event.state == WorkerState.ERROR:
            app = getattr(self, "app", None)
            if app is not None and hasattr(app, "report_worker_failure"):
                app.report_worker_failure(event.worker)
