"""The dry run of an import in the console: a progress bar over the file, and a cancel.

One check at a time: the dialog holds the screen while it runs, and on Escape it waits for
its worker to stop (at the next thousand rows) before it closes (`ProgressDialog`), so a
second dry run can never start beside a first one still reading.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message

from data.entity import counted
from data.errors import Invalid
from data.import_report import ImportProgress, ImportReport
from tui.screens.progress import ProgressDialog
from tui.views import ViewSpec

if TYPE_CHECKING:
    from data.actor import Actor
    from data.database import Database

STEPS = {
    "checking": "Checking every row",
    "matching": "Matching rows to stored records",
}


@dataclass(frozen=True)
class CheckResult:
    """A finished dry run: its report, or why the file itself was refused."""

    path: str
    report: ImportReport | None
    problem: str = ""


class ImportCheck(ProgressDialog[CheckResult]):
    """Runs the import's dry run with a progress bar; returns its result, or None if
    cancelled (Escape) or failed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel check", id="import_check.cancel"),
    ]
    STARTING = "Opening the file…"
    GROUP = "import-check"

    class Advanced(Message):
        """The dry run has read this far."""

        def __init__(self, progress: ImportProgress) -> None:
            super().__init__()
            self.progress = progress

    def __init__(self, view: ViewSpec, db: Database, actor: Actor, path: str) -> None:
        super().__init__(f"Checking {path}", view=view, db=db, path=path)
        self.actor = actor

    def operation(self, stop_if_asked: Callable[[], None]) -> CheckResult:
        """The dry run; a file refused as a whole is a result too (the review says why)."""
        from tui.screens.transfer import import_file

        def advanced(progress: ImportProgress) -> None:
            stop_if_asked()
            self.post_message(self.Advanced(progress))

        try:
            report = import_file(
                self.view, self.db, self.actor, self.path, dry_run=True, progress=advanced
            )
        except Invalid as refused:
            problem = "; ".join(
                reason if field == "file" else f"{field}: {reason}"
                for field, reason in refused.errors.items()
            )
            return CheckResult(self.path, None, problem)
        except OSError as error:
            return CheckResult(self.path, None, f"{error.strerror or error}")
        return CheckResult(self.path, report)

    @on(Advanced)
    def _advanced(self, message: Advanced) -> None:
        progress = message.progress
        fraction = progress.fraction
        step = STEPS.get(progress.step, progress.step)
        status = f"{step}: {counted(progress.rows, 'row')} read"
        if fraction is None:
            self.show(None, None, status)
        else:
            self.show(round(fraction * 100), 100, status)


__all__ = ["CheckResult", "ImportCheck"]
