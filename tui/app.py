"""The AccessGuard console: a Textual app over the data core, every query in a worker thread."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.worker import Worker

from data.actor import Actor
from data.audit import UndoResult
from data.database import Database
from data.errors import AccessGuardError
from tui.screens.dialogs import HelpScreen
from tui.screens.records import AuditScreen, RecordScreen, TableScreen
from tui.views import PRODUCTS_VIEW, USERS_VIEW
from tui.workers import ReportsWorkerFailures


def _stylesheet() -> Path:
    """styles.tcss: beside this module in a wheel, at the repository root in a checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "styles.tcss"
    return packaged if packaged.exists() else here.parent / "styles.tcss"


# Keys that belong to the screens, not to forms and dialogs ("anywhere outside a form").
OUTSIDE_FORMS = frozenset({"switch", "undo", "quit", "help"})


class AccessGuardApp(ReportsWorkerFailures, App[None]):
    """Users, Products and Audit screens over one `Database` handed in by the caller."""

    CSS_PATH = _stylesheet()
    TITLE = "AccessGuard"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        # The status line shows 1 2 3 as tabs, so the footer keeps its room for the rest.
        Binding("1", "switch('users')", "Users", show=False, id="app.users"),
        Binding("2", "switch('products')", "Products", show=False, id="app.products"),
        Binding("3", "switch('audit')", "Audit log", show=False, id="app.audit"),
        Binding("u", "undo", "Undo", id="app.undo"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    class Undone(Message):
        """An undo finished."""

        def __init__(self, result: UndoResult) -> None:
            super().__init__()
            self.result = result

    def __init__(self, db: Database, *, actor: Actor, read_only: bool = False) -> None:
        super().__init__()
        self.db = db
        self.actor = actor
        self.read_only = read_only

    def on_mount(self) -> None:
        """Users first; each screen keeps its place while another is shown."""
        self.add_mode("users", partial(RecordScreen, USERS_VIEW))
        self.add_mode("products", partial(RecordScreen, PRODUCTS_VIEW))
        self.add_mode("audit", AuditScreen)
        self.switch_mode("users")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Screen keys sleep while a form or dialog is open; undo sleeps when read-only."""
        if action in OUTSIDE_FORMS and isinstance(self.screen, ModalScreen):
            return False
        return not (action == "undo" and self.read_only)

    def action_switch(self, mode: str) -> None:
        """Show the Users, Products or Audit screen."""
        if self.current_mode != mode:
            self.switch_mode(mode)

    def action_help(self) -> None:
        """Every key that works on this screen, with what it does."""
        self.push_screen(HelpScreen(f"Keys: {self._screen_title()}", self.screen_keys()))

    def screen_keys(self) -> list[tuple[str, str]]:
        """(keys, description) for every enabled binding of the current screen.

        Keys of one action are shown together ("j, ↓"); the screen's own actions come
        first, then the focused widget's (moving), then the app's, then Textual's own.
        """
        grouped: dict[tuple[int, str], list[str]] = {}
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.description or not active.enabled:
                continue
            rank = self._help_rank(active.node, binding)
            grouped.setdefault((rank, binding.description), []).append(
                self.get_key_display(binding)
            )
        ordered = sorted(grouped.items(), key=lambda item: item[0][0])
        return [(", ".join(dict.fromkeys(keys)), description) for (_, description), keys in ordered]

    def _help_rank(self, node: object, binding: Binding) -> int:
        """Where a key goes in help: ours (they carry ids) before Textual's own (tab, copy)."""
        if binding.id is None:
            return 3
        if node is self.screen:
            return 0
        return 1 if node is self.screen.focused else 2

    def _screen_title(self) -> str:
        screen = self.screen
        return screen.title_text if isinstance(screen, TableScreen) else "AccessGuard"

    # Undo

    def action_undo(self) -> None:
        """Undo the last change made in this console, from the audit trail."""
        self._undo()

    @work(thread=True, group="write", exit_on_error=False, description="undo the last change")
    def _undo(self) -> None:
        self.post_message(self.Undone(self.db.audit.undo_last(actor=self.actor)))

    @on(Undone)
    def _undone(self, message: Undone) -> None:
        self.notify(message.result.summary, title="Undone", timeout=6)
        screen = self.screen
        if isinstance(screen, TableScreen):
            screen.refresh_data()

    # Failures (the app's own workers, like undo's, come here through ReportsWorkerFailures)

    def report_worker_failure(self, worker: Worker[object]) -> None:
        """The single place a failed database worker is turned into a message."""
        self.report_error(worker.error)

    def report_error(self, error: BaseException | None) -> None:
        """Show ``error`` as a toast with a title and what to do; never crash the console."""
        if isinstance(error, AccessGuardError):
            self.notify(error.message, title=error.title, severity="error", timeout=8, markup=False)
            return
        self.log.error(repr(error))
        self.notify(
            f"{type(error).__name__}: {error}. The console keeps running; try again.",
            title="Unexpected error",
            severity="error",
            timeout=8,
            markup=False,
        )

    # The command palette: every action of the current screen, by its description.

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Textual's own commands plus every key binding active on ``screen``."""
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description or not active.enabled or binding.action in seen:
                continue
            seen.add(binding.action)
            key = self.get_key_display(binding)
            yield SystemCommand(
                binding.description,
                f"Key: {key}",
                partial(self.run_action, binding.action, active.node),
            )
