"""Export and import on a record screen: the prompts, the progress screens, the toasts.

`TransferActions` is a part of `tui.screens.records.RecordScreen`. Export writes the rows of
the current view (search and sort) to a CSV or JSON file; import runs a dry run first
(`ImportCheck`), shows it for review (`ImportReview`), and writes only what the admin
applies. The reading and writing run in those screens' thread workers.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from data.records import PageRequest
from tui.screens.table_screen import TableScreen
from tui.text import visible
from tui.views import ViewSpec

if TYPE_CHECKING:
    from data.import_report import ImportReport
    from tui.screens.import_check import CheckResult


class TransferActions(TableScreen):
    """The export (x) and import (i) keys of a record screen."""

    view: ViewSpec

    def action_export(self) -> None:
        """Export every row of the current view (search and sort) to a CSV or JSON file."""
        from tui.screens.transfer import PathPrompt, export_default, export_path_problem

        request = self.table.query_state.request()
        plural = self.view.names.plural
        what = f"the {plural} matching “{request.search}”" if request.search else f"all {plural}"
        hint = f"Write {what}, in the order shown, to this file (.csv or .json)."
        if self.view.has_password:
            hint += " Password hashes are never exported."

        def ask(initial: str) -> None:
            prompt = PathPrompt(
                f"Export {plural}", hint, initial, check=export_path_problem, confirm="Export"
            )
            self.app.push_screen(prompt, chosen)

        def chosen(path: str | None) -> None:
            if path is None:
                return
            if not os.path.lexists(os.path.expanduser(path)):
                self._start_export(request, path)
                return

            def decided(replace: bool | None) -> None:
                # "No" goes back to the name, to choose another, as an editor's save-as does.
                if replace:
                    self._start_export(request, path)
                else:
                    ask(path)

            from tui.screens.dialogs import ConfirmDialog  # first needed here, not at start

            question = ConfirmDialog(
                "Replace the file?",
                f"{path} already exists. Replace it with this export?",
                confirm_label="Replace",
                danger=True,
            )
            self.app.push_screen(question, decided)

        ask(export_default(self.view))

    def _start_export(self, request: PageRequest, path: str) -> None:
        from tui.screens.transfer import ExportProgress

        def done(count: int | None) -> None:
            if count is None:
                self.notify("Export cancelled: no file written.", title="Not exported", timeout=4)
                return
            written = f"{self.view.names.counted(count)} written to {path}"
            if self.app.is_web:
                # In a browser (accessguard --web) the file is on the server: send it down too.
                self.app.deliver_text(path, save_filename=os.path.basename(path))
                written += " on the server, and sent to your browser as a download"
            self.notify(visible(f"{written}."), title="Exported", timeout=6, markup=False)

        self.app.push_screen(ExportProgress(self.view, self.console.db, request, path), done)

    def action_import(self) -> None:
        """Import a CSV or JSON file: a dry run first, reviewed before anything is written."""
        from tui.screens.import_check import ImportCheck
        from tui.screens.transfer import PathPrompt, import_default, import_path_problem

        key = self.view.key_name
        prompt = PathPrompt(
            f"Import {self.view.names.plural}",
            f"Read this file (.csv or .json); a row with an id updates that "
            f"{self.view.names.entity}, others are matched by {key}. A dry run shows what "
            "would change before anything is written.",
            import_default(self.view),
            check=import_path_problem,
            confirm="Check",
        )

        def chosen(path: str | None) -> None:
            if path is not None:
                self.app.push_screen(
                    ImportCheck(self.view, self.console.db, self.console.actor, path),
                    self._review,
                )

        self.app.push_screen(prompt, chosen)

    def _review(self, result: CheckResult | None) -> None:
        """Review a finished dry run (None: it was cancelled)."""
        from tui.screens.transfer import import_outcome
        from tui.screens.transfer_review import ImportReview

        if result is None:
            return
        if result.report is None:
            self.notify(
                visible(f"{result.path}: {result.problem}"),
                title="Not imported",
                severity="error",
                timeout=10,
                markup=False,
            )
            return

        def done(report: ImportReport | None) -> None:
            if report is None:
                return
            title, text = import_outcome(self.view, report)
            if report.applied:
                self.notify(text, title=title, timeout=8, markup=False)
            else:
                self.notify(text, title=title, severity="error", timeout=8, markup=False)
            self.table.reload()

        review = ImportReview(
            self.view, self.console.db, self.console.actor, result.path, result.report
        )
        self.app.push_screen(review, done)


__all__ = ["TransferActions"]
