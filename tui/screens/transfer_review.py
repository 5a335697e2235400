"""The review of an import's dry run, before anything is written: the counts, then every
row the import would change with its field diffs (the first 1,000, and how many more), and
every refused row with its line, field and reason, in one scrollable, searchable list.

Apply all (``a``) with a refused row says why it cannot, and offers the refused rows
(``v``) and the valid rows alone (``V``). The list is built once from the report (the data
core keeps at most `data.transfer.CHANGED_KEPT` and `data.transfer.REFUSED_KEPT` rows), so
a search is a filter over at most two thousand rows, on the UI thread, with no SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, ProgressBar, Static
from textual.worker import Worker, WorkerState

from data.entity import counted
from data.import_report import ImportReport, ImportRow
from tui.import_diffs import detail_lines, heading
from tui.screens.dialogs import Dialog, key_button
from tui.text import visible
from tui.views import ViewSpec
from tui.widgets.stored_text import StoredTextInput
from tui.workers import ReportsWorkerFailures

if TYPE_CHECKING:
    from data.actor import Actor
    from data.database import Database


@dataclass(frozen=True)
class ListedRow:
    """One row of the review's list: its heading, its detail lines (diffs or reasons,
    indented, a long one wrapping under itself), and what a search looks in (folded)."""

    row: ImportRow
    text: Text
    details: Text
    folded: str

    def renderables(self) -> list[RenderableType]:
        """The heading, then the details under it."""
        if not self.details:
            return [self.text]
        return [self.text, Padding(self.details, (0, 0, 0, 4))]

    @property
    def refused(self) -> bool:
        """Whether the row is refused."""
        return self.row.outcome == "refused"


def listed_rows(report: ImportReport, *, unit: str, entity: str) -> list[ListedRow]:
    """The refused rows first (they stop the import), then the rows to change, each with
    its heading and its detail lines (diffs or reasons), made visible, never markup."""
    listed = []
    for row in (*report.refused, *report.changed):
        top = heading(row, unit=unit, entity=entity)
        details = detail_lines(row)
        text = Text(visible(top), style="bold")
        lines = Text("\n").join(Text(visible(detail)) for detail in details)
        listed.append(ListedRow(row, text, lines, "\n".join((top, *details)).casefold()))
    return listed


class ImportReview(ReportsWorkerFailures, Dialog[ImportReport | None]):
    """The dry run's verdict, row by row; then apply all (nothing refused), apply the
    valid rows only (the admin's choice), or cancel. Returns the applied report, or None."""

    DEFAULT_CSS = """
    /* The whole height: the list takes what the counts and the buttons leave (12 lines
       at 80x24), and the buttons and the footer stay in view. */
    ImportReview > .dialog {
        height: 100%;
    }
    ImportReview #import-rows {
        height: 1fr;
        border: round $primary;
        padding: 0 1;
    }
    ImportReview #import-rows:focus {
        border: round $accent;
    }
    ImportReview #import-status {
        color: $error;
        text-style: bold;
        height: auto;
        display: none;
    }
    ImportReview #import-status.said {
        display: block;
    }
    ImportReview #import-search {
        display: none;
    }
    ImportReview #import-search.searching {
        display: block;
    }
    ImportReview #import-bar {
        margin-top: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "apply(False)", "Apply all", id="import.apply_all"),
        Binding("v", "refused_only", "Refused rows", id="import.refused"),
        Binding("V", "apply(True)", "Apply valid rows", id="import.apply_valid"),
        Binding("slash", "search", "Search", id="import.search"),
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
        self.refused_only = False
        self.search = ""
        self.rows = listed_rows(report, unit=self._unit, entity=view.names.entity)

    @property
    def changes(self) -> int:
        """Rows the import would write."""
        return self.report.count("add") + self.report.count("update")

    @property
    def _unit(self) -> str:
        return "object" if Path(self.path).suffix.lower() == ".json" else "line"

    def compose_body(self) -> ComposeResult:
        """Counts, the rows (refused, then to change), a search, and why not (if asked)."""
        yield Static(self._summary(), id="import-summary")
        with VerticalScroll(id="import-rows"):
            yield Static(id="import-list")
        yield Static(id="import-listing")
        yield StoredTextInput(
            placeholder="Search the rows (Enter keeps it, Esc clears)",
            id="import-search",
            compact=True,
        )
        yield Static(id="import-status")
        bar = ProgressBar(total=None, show_eta=False, id="import-bar")
        bar.display = False  # shown while the import is applied
        yield bar

    def compose_buttons(self) -> ComposeResult:
        """Apply all, the refused rows and apply the valid rows (when some are refused),
        cancel."""
        yield key_button("Apply all", "a", "apply(False)", variant="primary", id="import-all")
        if self.report.refused:
            yield key_button("Refused", "v", "refused_only", id="import-refused")
            yield key_button(
                "Apply valid", "V", "apply(True)", variant="warning", id="import-valid"
            )
        yield key_button("Cancel", "esc", "cancel", id="import-cancel")

    def on_mount(self) -> None:
        """List the rows; the keyboard goes to the list, to scroll it."""
        self._show_rows()
        self._enable()
        self.query_one("#import-rows").focus()

    # What the review says

    def _summary(self) -> Text:
        report = self.report
        text = Text("Dry run, nothing written yet:\n", style="bold")
        counts = (
            ("add", "to add"),
            ("update", "to update"),
            ("unchanged", "unchanged"),
            ("refused", "refused"),
        )
        text.append(", ".join(f"{report.count(o):,} {label}" for o, label in counts))
        text.append(f" (matched by id, else by {self.view.key_name}).\n")
        if report.count("refused"):
            text.append(
                f"Nothing can be applied as a whole while a {self._unit} is refused.",
                style="bold",
            )
        elif self.changes:
            text.append(f"a applies the {counted(self.changes, 'change')} in one transaction.")
        else:
            text.append("Nothing to change: the stored records already say this.")
        return text

    def _show_rows(self) -> None:
        """Fill the list with the rows the view and search let through, and say which."""
        needle = self.search.casefold()
        shown = [
            listed
            for listed in self.rows
            if (listed.refused or not self.refused_only) and needle in listed.folded
        ]
        body: RenderableType = Group(*(part for listed in shown for part in listed.renderables()))
        if not shown:
            body = Text(self._nothing_listed(), style="italic")
        self.query_one("#import-list", Static).update(body)
        self.query_one("#import-listing", Static).update(self._listing(len(shown)))

    def _nothing_listed(self) -> str:
        if self.search:
            return visible(f"No row matches “{self.search}”.")
        if self.refused_only:
            return "No row is refused."
        return "No row changes anything."

    def _listing(self, shown: int) -> Text:
        """``3 rows listed.``, what the search matched, and what the report left out."""
        report = self.report
        among = [listed for listed in self.rows if listed.refused or not self.refused_only]
        what = "refused rows (v shows all)" if self.refused_only else "rows"
        if self.search:
            verb = "matches" if shown == 1 else "match"
            said = f"{shown:,} of {len(among):,} {what} {verb} “{self.search}”"
        elif self.refused_only:
            said = f"{counted(shown, 'refused row')} listed (v shows all)"
        else:
            said = f"{counted(shown, 'row')} listed"
        parts = [visible(said)]
        # The report keeps the first rows of each kind and counts them all.
        if report.changed_left_out:
            parts.append(
                f"{report.changed_left_out:,} more to change, not listed "
                f"(the first {len(report.changed):,} are)"
            )
        if report.refused_left_out:
            parts.append(
                f"{report.refused_left_out:,} more refused, not listed "
                f"(the first {len(report.refused):,} are)"
            )
        return Text("; ".join(parts) + ".", style="dim")

    def _say(self, problem: str) -> None:
        status = self.query_one("#import-status", Static)
        status.update(Text(problem))
        status.set_class(bool(problem), "said")

    # Looking

    def action_refused_only(self) -> None:
        """Show only the refused rows, or everything again."""
        self.refused_only = not self.refused_only
        self._say("")
        self._show_rows()
        self.query_one("#import-rows", VerticalScroll).scroll_home(animate=False)
        self.refresh_bindings()

    def action_search(self) -> None:
        """Open the search line (typing filters the list as you go)."""
        search = self.query_one("#import-search", Input)
        search.add_class("searching")
        search.focus()

    @on(Input.Changed, "#import-search")
    def _searched(self, event: Input.Changed) -> None:
        self.search = event.value.strip()
        self._show_rows()
        self.query_one("#import-rows", VerticalScroll).scroll_home(animate=False)

    @on(Input.Submitted, "#import-search")
    def _search_kept(self) -> None:
        self.query_one("#import-rows").focus()

    def _clear_search(self) -> None:
        search = self.query_one("#import-search", Input)
        search.value = ""
        search.remove_class("searching")
        self.search = ""
        self._show_rows()
        self.query_one("#import-rows").focus()

    # Applying

    def _enable(self) -> None:
        # Apply all stays pressable while rows are refused: it says why it cannot apply.
        can_say = self.changes or self.report.count("refused")
        self.query_one("#import-all", Button).disabled = self.applying or not can_say
        for button in self.query("#import-valid").results(Button):
            button.disabled = not self._can_apply(valid_only=True)
        for button in self.query("#import-refused").results(Button):
            button.disabled = self.applying
        self.query_one("#import-cancel", Button).disabled = self.applying

    def _can_apply(self, *, valid_only: bool) -> bool:
        if self.applying or not self.changes:
            return False
        return bool(self.report.count("refused")) == valid_only

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Apply all whenever there is something to write (refused rows: it says why
        not); the valid rows and the refused rows only with rows refused; nothing while
        the import is being applied."""
        if self.applying:
            return None if action in ("apply", "cancel", "refused_only") else True
        refused = bool(self.report.count("refused"))
        if action == "apply":
            if parameters and parameters[0]:
                return False if not refused else self._can_apply(valid_only=True) or None
            return True if self.changes or refused else None
        if action == "refused_only":
            return refused
        return True

    def action_cancel(self) -> None:
        """Clear the search if one is open; else close without writing."""
        if self.query_one("#import-search", Input).has_class("searching"):
            self._clear_search()
            return
        self.dismiss(None)

    def action_apply(self, valid_only: bool) -> None:
        """Apply in one transaction, showing that it runs; with refused rows, apply all
        says why it cannot, and what can be done instead."""
        if not valid_only and self.report.count("refused"):
            self._say(self._why_not())
            return
        if not self._can_apply(valid_only=valid_only):
            return
        self.applying = True
        self._enable()
        self.refresh_bindings()
        self.query_one("#import-bar").display = True
        count = self.report.count("add") + self.report.count("update")
        self._say("")
        self.query_one("#import-summary", Static).update(
            f"Applying {counted(count, 'change')} in one transaction…"
        )
        self._apply(valid_only)

    def _why_not(self) -> str:
        refused = self.report.count("refused")
        rows = counted(refused, f"refused {self._unit}")
        text = f"Not applied: an import is all or nothing, and {rows} would be left out. "
        text += "v shows it" if refused == 1 else "v shows them"
        if self.changes:
            text += f"; V applies the {counted(self.changes, 'valid change')} only"
        return text + "."

    @work(thread=True, exclusive=True, group="import", exit_on_error=False)
    def _apply(self, valid_only: bool) -> None:
        from tui.screens.transfer import import_file

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


__all__ = ["ImportReview", "ListedRow", "listed_rows"]
