"""The AccessGuard console: a Textual app over the data core, every query in a worker thread.

The app can be handed its `Database` ready (tests do) or a `DatabaseOpener`, which it runs in
a thread worker once the first frame is on screen: loading SQLAlchemy, connecting and checking
the schema take longer than drawing the whole console, so the admin sees the Users screen
(saying what is being opened) at once, and the rows as soon as the database is open.
Nothing imported here loads SQLAlchemy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from textual import events, on, work
from textual.actions import ActionParseResult
from textual.app import ScreenStackError, SystemCommand
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.reactive import var
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, get_current_worker

from data.actor import Actor
from data.entity import counted
from data.errors import AccessGuardError, OutcomeUnknown
from tui.collector import CHECK_EVERY_S, IdleCollector
from tui.live import LiveWatch
from tui.screens.records import RecordScreen
from tui.screens.table_screen import TableScreen
from tui.text import visible
from tui.toasts import place_toasts, place_toasts_over
from tui.undo_keys import UndoKeys
from tui.views import opening_view, screen_tabs, views
from tui.widgets.record_table import RecordTable
from tui.workers import ReportsWorkerFailures

if TYPE_CHECKING:
    from rich.console import RenderableType

    from data.changes import Change
    from data.database import Database
    from data.records import Page, PageRequest
    from tui.settings import Settings


def _stylesheet() -> Path:
    """styles.tcss: beside this module in a wheel, at the repository root in a checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "styles.tcss"
    return packaged if packaged.exists() else here.parent / "styles.tcss"


def theme_names() -> frozenset[str]:
    """The themes the console offers: Textual's built-in ones (``ansi-dark`` among them)."""
    from textual.theme import BUILTIN_THEMES

    return frozenset(BUILTIN_THEMES)


def console_bindings() -> Iterator[Binding]:
    """Every `Binding` declared by the console's own classes, screens and dialogs alike."""
    # Every screen and widget module imported first: the console imports some only when
    # first shown (dialogs, the audit log), and their classes must exist to be found.
    import importlib
    import pkgutil

    import tui.screens
    import tui.widgets

    for package in (tui.screens, tui.widgets):
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{module.name}")

    pending: list[type] = [DOMNode]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("tui."):
            for binding in cls.__dict__.get("BINDINGS", ()):
                if isinstance(binding, Binding):
                    yield binding


def binding_ids() -> frozenset[str]:
    """Every binding id of the console's own classes: what the config file's [keys] may name."""
    return frozenset(binding.id for binding in console_bindings() if binding.id is not None)


class ConsoleOptions(NamedTuple):
    """How the console fits the admin: theme, keys, rows per read (from flags and config)."""

    theme: str | None = None
    # Where the palette's theme choice is remembered (None: nowhere, as in most tests).
    state_path: Path | None = None
    # The config file's theme, noted with a palette choice: editing the file later wins.
    config_theme: str | None = None
    keymap: Mapping[str, str] = MappingProxyType({})
    page_size: int | None = None
    # Others' changes show on their own; off only in the snapshot tests (`tui.live`).
    live: bool = True

    @classmethod
    def choose(cls, settings: Settings, *, theme: str | None) -> ConsoleOptions:
        """--theme, else the palette's last choice (unless the config file's theme changed
        since), else the config file's theme, else Textual's default."""
        from tui.paths import state_path
        from tui.settings import remembered_state

        state = state_path()
        remembered = remembered_state(state)
        if theme is None and remembered is not None:
            chosen, over = remembered
            if over == settings.theme and chosen in theme_names():
                theme = chosen
        return cls(
            theme=theme or settings.theme,
            state_path=state,
            config_theme=settings.theme,
            keymap=dict(settings.keys),
            page_size=settings.page_size,
        )


# Keys that belong to the screens, not to forms and dialogs ("anywhere outside a form").
OUTSIDE_FORMS = frozenset({"switch", "undo", "redo", "quit", "help"})

Progress = Callable[[str], None]
FirstPage = Callable[[str, "PageRequest"], "Page[Any] | None"]


class DatabaseOpener(NamedTuple):
    """How the console opens its database after showing its first frame.

    ``where`` names the database on the status line until it is open (any password masked).
    ``open`` runs in a worker thread: it loads the data core, connects, checks the schema
    (and fills demo data, if asked), telling each step through ``progress``, and returns the
    `Database`, or raises what the console exits with (the command line reports it).
    """

    where: str
    open: Callable[[Progress], Database]
    # Shown as warnings once the database is open (a password in --db that ps shows).
    warnings: tuple[str, ...] = ()
    # The first page of a table (plural, request), read before the data core loads; None
    # when it cannot be read equal to the data core's (`data.first_page`: SQLite only).
    first_page: FirstPage | None = None
    # The same, answered at once: the page if it was read ahead already, else None. A
    # table that finds it when it mounts draws it in the console's first frame.
    first_page_ready: FirstPage | None = None


class DatabaseNotOpened(Exception):
    """A read waited for the database, but the console closed or failed to open it first."""


class AccessGuardApp(ReportsWorkerFailures, UndoKeys):
    """Users, Products and Audit screens over one `Database` handed in by the caller."""

    CSS_PATH = _stylesheet()
    TITLE = "AccessGuard"
    ENABLE_COMMAND_PALETTE = True
    # The screen the console opens on (Users).
    DEFAULT_MODE: ClassVar[str] = opening_view().key

    BINDINGS: ClassVar[list[BindingType]] = [
        # The status line shows 1 2 3 as tabs, so the footer keeps its room for the rest.
        # The number keys of the screens are bound per registered entity (`_bind_screens`).
        Binding("u", "undo", "Undo", id="app.undo"),
        # U beside u, as S beside s; ctrl+r as in vim and many editors. Not in the footer
        # (its room is taken): help (?) and the palette list it.
        Binding("U,ctrl+r", "redo", "Redo", show=False, id="app.redo"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
        # What a terminal user presses to leave; Textual's own ctrl+c only says "press ^q".
        # No description: the footer and help keep one Quit entry (q).
        Binding("ctrl+c", "quit", show=False, priority=True, id="app.quit_ctrl_c"),
    ]

    # The database's place on the status line: its URL (password masked) once open, what is
    # being done to open it before that.
    database_status: var[str] = var("")
    # Said on the status line while a save waits for another writer's lock (SQLite).
    write_status: var[str] = var("")

    class RecordsChanged(Message):
        """Changes committed elsewhere (another console, the CLI, an import) were noticed.

        The app hands a copy to every screen on its stack: tables keep their cursor and mark
        the rows, an open form says its record moved on.
        """

        def __init__(self, changes: tuple[Change, ...]) -> None:
            super().__init__()
            self.changes = changes

    class WriterWaited(Message):
        """A write of this console started (True) or stopped (False) waiting for the lock."""

        def __init__(self, waiting: bool) -> None:
            super().__init__()
            self.waiting = waiting

    class Opening(Message):
        """The opener moved on to another step (``Filling ... with demo data…``)."""

        def __init__(self, status: str) -> None:
            super().__init__()
            self.status = status

    class FirstPageRead(Message):
        """The opener's first page of the screen's table was read (None: it could not be)."""

        def __init__(self, table: RecordTable, page: Page[Any] | None) -> None:
            super().__init__()
            self.table = table
            self.page = page

    class Opened(Message):
        """The opener has the database ready; ``warnings`` are for the admin to see."""

        def __init__(self, db: Database, warnings: tuple[str, ...] = ()) -> None:
            super().__init__()
            self.db = db
            self.warnings = warnings

    def __init__(
        self,
        database: Database | DatabaseOpener,
        *,
        actor: Actor,
        read_only: bool = False,
        options: ConsoleOptions | None = None,
    ) -> None:
        super().__init__()
        # Each screen keeps its place while another is shown, in a mode of its own. The first
        # (`DEFAULT_MODE`) starts as Textual's default screen (`get_default_screen`), the
        # way a bare app's does, and is added as a mode once mounted (`on_mount`).
        for view in views():
            if view.key != self.DEFAULT_MODE:
                self.add_mode(view.key, partial(RecordScreen, view))
        self.add_mode("audit", _audit_screen)
        self._bind_screens()
        self.actor = actor
        self.read_only = read_only
        self.options = options or ConsoleOptions()
        if self.options.keymap:
            self.set_keymap(dict(self.options.keymap))
        if self.options.theme is not None:
            self.theme = self.options.theme
        # Why opening failed; the console has exited (return code 1) and the caller reports it.
        self.open_failure: BaseException | None = None
        self._db: Database | None = None
        # Set once the database is open, or once it never will be: reads wait for it.
        self._settled = threading.Event()
        # Keys pressed on a first page shown before the database opened, that need it: run
        # once it is open (each with the screen it was pressed on).
        self._held: list[tuple[Screen[Any], Callable[[], object]]] = []
        self._opener: DatabaseOpener | None = None
        self._opening: Worker[None] | None = None
        self._collector = IdleCollector()
        self._writes_waiting = 0
        self._stop_listening: Callable[[], None] | None = None
        self._live: LiveWatch | None = None
        # An exit asked for before the app and its first screen have mounted (`exit`), done
        # once both have: what is still mounting.
        self._still_mounting = {"app", "first screen"}
        self._exit_when_mounted: Callable[[], None] | None = None
        if isinstance(database, DatabaseOpener):
            self._opener = database
            self.database_status = f"Opening {database.where}…"
        else:
            self._use(database)

    @property
    def db(self) -> Database:
        """The open database (the console asks for it only once `is_open`)."""
        if self._db is None:
            raise RuntimeError("the database is not open yet")
        return self._db

    @property
    def is_open(self) -> bool:
        """Whether the database is open: before that, keys that need it do nothing."""
        return self._db is not None

    def wait_for_database(self) -> Database:
        """The database, waiting while it opens. For worker threads only, never the UI's.

        Raises `DatabaseNotOpened` if the console closes, or fails to open it, first.
        """
        self._settled.wait()
        if self._db is None:
            raise DatabaseNotOpened
        return self._db

    def _use(self, db: Database) -> None:
        self._db = db
        self.database_status = db.url
        self._settled.set()

    def _bind_screens(self) -> None:
        """Bind each screen's number key (``1`` Users, ``3`` Audit log): one per registered
        entity, so they are bound here, per app, not in the class's fixed BINDINGS. They come
        first, as the status line shows them; the ids let a keymap rebind them."""
        bindings = self._bindings.key_to_bindings
        screens = {
            tab.key: [
                Binding(
                    tab.key, f"switch('{tab.mode}')", tab.title, show=False, id=f"app.{tab.mode}"
                )
            ]
            for tab in screen_tabs()
        }
        self._bindings.key_to_bindings = {**screens, **bindings}

    def get_default_screen(self) -> Screen[Any]:
        """The first entity's screen, which the console opens on.

        Started as a mode (in ``MODES``), Textual 8.2.8 would wait for it to mount inside
        the app's first batch of updates, draw a frame it then throws away, and restyle every
        node once more: the first rows came 30 ms later (docs/benchmark.md).
        """
        return RecordScreen(opening_view())

    def on_mount(self) -> None:
        """Remember the admin's theme changes, place toasts, watch for changes."""
        # The first screen's mode, that `switch_mode` can come back to: it keeps its stack.
        self.add_mode(self.DEFAULT_MODE, partial(RecordScreen, opening_view()))
        # From now on a theme change is the admin's (the palette's "Change theme"): remembered.
        self.watch(self, "theme", self._remember_theme, init=False)
        # Toasts already up follow the admin onto a dialog: placed there too.
        self.screen_change_signal.subscribe(
            self, lambda screen: self.call_after_refresh(self._place_toasts, screen)
        )
        self._collector.start()
        self.set_interval(CHECK_EVERY_S, self._collector.collect_if_idle)
        from data.lock_wait import listen

        self._stop_listening = listen(self._tell_writer_waited)
        if self._db is not None:
            self._go_live(self._db)
        self._done_mounting("app")

    def screen_mounted(self) -> None:
        """A table screen has mounted (the first one completes the console's start)."""
        self._done_mounting("first screen")

    def _done_mounting(self, part: str) -> None:
        self._still_mounting.discard(part)
        if not self._still_mounting and self._exit_when_mounted is not None:
            exit_now, self._exit_when_mounted = self._exit_when_mounted, None
            exit_now()

    def clear_selection(self) -> None:
        """Clear the text selection of the screen shown, if there is one yet.

        On Python 3.12 and later Textual runs new tasks eagerly, so the first screen's
        widgets can mount before that screen is on the stack; an Input among them (none
        today: the search box mounts with the first /) clears the selection as it mounts,
        and Textual 8.2.8 lets only `NoScreen` pass, not the empty stack's
        `ScreenStackError`.
        """
        with suppress(ScreenStackError):
            super().clear_selection()

    def exit(
        self, result: None = None, return_code: int = 0, message: RenderableType | None = None
    ) -> None:
        """Exit; before the app and its first screen have mounted, as soon as they have.

        The app mounts before its first screen's widgets do, and Textual (8.2.8) fails their
        mount if the app exits meanwhile: a closing signal that came as the console started
        would end in a crash, not its status.
        """
        if not self._still_mounting:
            super().exit(result, return_code, message)
        else:
            self._exit_when_mounted = partial(super().exit, result, return_code, message)

    async def on_event(self, event: events.Event) -> None:
        """Note every key and mouse event: full garbage collections wait for a pause."""
        if isinstance(event, events.InputEvent):
            self._collector.noticed_input()
        await super().on_event(event)

    def on_ready(self) -> None:
        """The first frame is on screen: show the table's first page read without the data
        core, if the opener can; then open the database, if it is not open yet.

        Not sooner: importing the data core in a thread would compete with drawing it (and
        with drawing those first rows).
        """
        opener = self._opener
        if opener is None:
            self._collector.settle_after_start()
            return
        tables = self.screen.query(RecordTable)
        request = tables.first().awaiting_first_page if tables else None
        if (
            opener.first_page is None
            or request is None
            or not isinstance(self.screen, RecordScreen)
        ):
            self._start_opening()  # nothing to read ahead, or its rows were in that frame
            return
        self._read_first_page(opener.first_page, self.screen.view.key, tables.first(), request)

    def first_page_ready(self, plural: str, request: PageRequest) -> Page[Any] | None:
        """The first page of ``plural`` for ``request`` if the opener has read it already
        (`DatabaseOpener.first_page_ready`), without waiting; else None."""
        opener = self._opener
        if self.is_open or opener is None or opener.first_page_ready is None:
            return None
        return opener.first_page_ready(plural, request)

    def _start_opening(self) -> None:
        if self._opener is not None and self._opening is None:
            self._opening = self._open(self._opener)

    @work(thread=True, exit_on_error=False, description="read the first page")
    def _read_first_page(
        self, first_page: FirstPage, plural: str, table: RecordTable, request: PageRequest
    ) -> None:
        try:
            page = first_page(plural, request)
        except Exception:  # only ever a head start: the data core reads the page anyway
            page = None
        self.post_message(self.FirstPageRead(table, page))

    @on(FirstPageRead)
    def _show_first_page(self, message: FirstPageRead) -> None:
        if message.page is not None and message.table.show_preview(message.page):
            # The data core loads once those rows are drawn: under one GIL, loading it
            # beside the drawing would slow the drawing down. Two refreshes: the table's
            # repaint reaches its screen by a message, which one may still precede.
            self.call_after_refresh(self.call_after_refresh, self._start_opening)
        else:
            self._start_opening()

    def on_unmount(self) -> None:
        """Release reads still waiting for a database that will not open now; hand full
        garbage collections back to CPython."""
        self._settled.set()
        self._collector.stop()
        if self._stop_listening is not None:
            self._stop_listening()
        if self._live is not None:
            self._live.stop(wait_s=1.0)

    @work(thread=True, exit_on_error=False, description="open the database")
    def _open(self, opener: DatabaseOpener) -> None:
        db = opener.open(self._tell_opening_step)
        if get_current_worker().is_cancelled:
            # The console closed while the database was opening: nobody else will close it.
            db.dispose()
            return
        # The file's permissions are read here, off the screen's thread, like everything else.
        self.post_message(self.Opened(db, (*opener.warnings, *db.exposure_warnings())))

    def _tell_opening_step(self, status: str) -> None:
        """From the opener's thread: say what it is doing now."""
        self.post_message(self.Opening(status))

    def _tell_writer_waited(self, waiting: bool) -> None:
        """From a writing thread: it started or stopped waiting for the lock."""
        self.post_message(self.WriterWaited(waiting))

    @on(WriterWaited)
    def _writer_waited(self, message: WriterWaited) -> None:
        self._writes_waiting = max(0, self._writes_waiting + (1 if message.waiting else -1))
        self.write_status = "Saving… waiting for another writer" if self._writes_waiting else ""

    @on(Opening)
    def _show_opening_step(self, message: Opening) -> None:
        self.database_status = message.status

    @on(Opened)
    def _opened(self, message: Opened) -> None:
        self._use(message.db)
        self._go_live(message.db)
        for warning in message.warnings:
            # A warning may quote the database file's path, which the admin may not have typed.
            self.notify(
                visible(warning), title="Warning", severity="warning", timeout=20, markup=False
            )
        self._collector.settle_after_start()
        # The keys that need the database wake up in the footer, help and palette.
        self.refresh_bindings()
        held, self._held = self._held, []
        for screen, run in held:
            if screen is self.screen:  # pressed on a screen since left: not for this one
                self.call_next(run)

    # Live views

    @property
    def live(self) -> LiveWatch | None:
        """The watcher of others' changes, once started (None: not live)."""
        return self._live

    def _go_live(self, db: Database) -> None:
        """Start waiting for others' changes (read-only consoles too), once per console."""
        if self._live is None and self.options.live:
            self._live = LiveWatch(db)
            self._live.start(self, self.RecordsChanged)

    @on(RecordsChanged)
    def _records_changed(self, message: RecordsChanged) -> None:
        """Hand the changes to every screen on the stack (a form and the table under it)."""
        for screen in self.screen_stack:
            forwarded = self.RecordsChanged(message.changes)
            forwarded.stop()  # handled by the screen, never bubbled back up to the app
            screen.post_message(forwarded)

    @property
    def first_page_shown(self) -> bool:
        """Whether the screen shows rows read before the database opened (`data.first_page`)."""
        screen = self.screen
        return not self.is_open and isinstance(screen, TableScreen) and screen.table.previewed

    def when_open(self, run: Callable[[], object]) -> None:
        """Run ``run`` once the database is open (now, if it is), if this screen still shows."""
        if self.is_open:
            self.call_next(run)
        else:
            self._held.append((self.screen, run))

    async def run_action(
        self,
        action: str | ActionParseResult,
        default_namespace: DOMNode | None = None,
        namespaces: Mapping[str, DOMNode] | None = None,
    ) -> bool:
        """Run ``action``; one that waits for the database, pressed on rows shown before it
        opened, runs once it is open rather than not at all: the admin saw a record and
        acted on it (with no rows shown, such keys do nothing until then, as ever)."""
        namespace = self if default_namespace is None else default_namespace
        if (
            isinstance(action, str)
            and self.first_page_shown
            and self._check_action_state(action, namespace) is None
        ):
            self.when_open(partial(super().run_action, action, default_namespace, namespaces))
            return True
        return await super().run_action(action, default_namespace, namespaces)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Screen keys sleep while a form or dialog is open; undo and redo sleep when
        read-only. Until the database is open, they are shown disabled and do nothing.
        """
        if action in OUTSIDE_FORMS and isinstance(self.screen, ModalScreen):
            return False
        if action in ("undo", "redo"):
            if self.read_only:
                return False
            return True if self.is_open else None
        return True

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Textual's toast, kept off the cursor's row and the status and position lines."""
        self._place_toasts(self.screen)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def _place_toasts(self, screen: Screen[Any]) -> None:
        """Keep ``screen``'s toasts clear of the table screen's cursor row and lower lines."""
        table_screen = next(
            (each for each in reversed(self.screen_stack) if isinstance(each, TableScreen)), None
        )
        # A screen shown for the first time has no table yet: its toasts are placed when
        # its cursor first moves.
        tables = table_screen.query(RecordTable) if table_screen is not None else None
        if not tables:
            return
        if screen is table_screen:
            place_toasts(screen, tables.first())
        else:
            place_toasts_over(screen, tables.first())

    def _remember_theme(self, theme: str) -> None:
        from tui.settings import remember_theme

        path = self.options.state_path
        if path is None:
            return
        try:
            remember_theme(path, theme, over=self.options.config_theme)
        except OSError as error:
            self.notify(
                visible(f"The theme could not be remembered in {path}: {error.strerror or error}"),
                title="Theme",
                severity="warning",
                markup=False,
            )

    def action_switch(self, mode: str) -> None:
        """Show the Users, Products or Audit screen (asking first if edits are staged)."""
        if self.current_mode == mode:
            return
        screen = self.screen
        if isinstance(screen, RecordScreen) and screen.staged:
            title = next(tab.title for tab in screen_tabs() if tab.mode == mode)

            def leave() -> None:
                screen.drop_staged()
                self.switch_mode(mode)

            self._ask_to_drop_staged(screen, f"Drop them and go to {title}?", leave)
            return
        self.switch_mode(mode)

    async def action_quit(self) -> None:
        """Quit (asking first if edits are staged: they were never saved)."""
        screen = self.screen
        if isinstance(screen, RecordScreen) and screen.staged:
            self._ask_to_drop_staged(screen, "Drop them and quit?", self.exit)
            return
        self.exit()

    def _ask_to_drop_staged(
        self, screen: RecordScreen, question: str, then: Callable[[], None]
    ) -> None:
        """Run ``then`` only if the admin agrees to lose the staged edits; n or Escape
        keeps them (and the screen)."""
        count = len(screen.staged)
        edits = counted(count, "staged edit")
        verb = "has" if count == 1 else "have"

        def decided(yes: bool | None) -> None:
            if yes:
                then()

        from tui.screens.dialogs import ConfirmDialog  # first needed here, not at start

        self.push_screen(
            ConfirmDialog(
                "Unsaved staged edits",
                f"{edits} to {screen.view.names.plural} {verb} not been saved "
                f"(ctrl+s reviews and saves them). {question}",
                confirm_label="Drop",
                danger=True,
            ),
            decided,
        )

    def show_narrowed(
        self,
        mode: str,
        filters: tuple[tuple[str, Any], ...],
        label: str,
        *,
        keep_id: int | None = None,
    ) -> None:
        """Switch to the records screen ``mode`` showing only what ``filters`` keep, the
        filter named by ``label`` on its position line until Escape clears it."""
        self.switch_mode(mode)
        screen = self.screen
        if isinstance(screen, RecordScreen):
            screen.narrow(filters, label, keep_id=keep_id)

    def action_help(self) -> None:
        """Every key that works on this screen, with what it does."""
        from tui.screens.dialogs import HelpScreen  # first needed here, not at start

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

    # Failures (the app's own workers, like undo's, come here through ReportsWorkerFailures)

    def report_worker_failure(self, worker: Worker[object]) -> None:
        """The single place a failed database worker is turned into a message.

        A failure to open the database ends the console (return code 1): without a database
        there is nothing to show, and the caller reports why once the terminal is restored.
        """
        if worker is self._opening:
            self.open_failure = worker.error
            self._settled.set()
            self.exit(return_code=1)
            return
        if isinstance(worker.error, DatabaseNotOpened):
            return  # the console is closing; the opener's own failure, if any, is what counts
        self.report_error(worker.error)

    def report_error(self, error: BaseException | None) -> None:
        """Show ``error`` as a toast with a title and what to do; never crash the console.

        A data error says what happened and what to do. A commit whose outcome is unknown
        also reloads the tables on screen, so what they show is what was stored. Anything
        else is a bug: its traceback goes to the error log (`tui.errorlog`, no local
        variables), and the toast names the error and where the log is.
        """
        if isinstance(error, OutcomeUnknown):
            self._reload_tables()
            self.notify(
                visible(f"{error.message} Reloaded what is on screen from the database."),
                title=error.title,
                severity="error",
                timeout=12,
                markup=False,
            )
            return
        if isinstance(error, AccessGuardError):
            # Driver text can quote stored data: made visible like any other stored text.
            self.notify(
                visible(error.message), title=error.title, severity="error", timeout=8, markup=False
            )
            return
        self.log.error(repr(error))
        logged = self._logged(error)
        self.notify(
            visible(f"{_first_line(error)}. The console keeps running; try again. {logged}"),
            title="Unexpected error",
            severity="error",
            timeout=12,
            markup=False,
        )

    def _logged(self, error: BaseException | None) -> str:
        """Log ``error``'s traceback and say where; or say why it could not be logged."""
        from tui.errorlog import log_error

        if error is None:
            return ""
        try:
            return f"Details: {log_error(error)}"
        except OSError as failure:
            return f"(The error log could not be written: {failure.strerror or failure}.)"

    def _reload_tables(self) -> None:
        """Re-read every table on the screen stack (under an open form, say)."""
        for screen in self.screen_stack:
            if isinstance(screen, TableScreen):
                screen.refresh_data()

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


def _audit_screen() -> Screen[Any]:
    """The audit log's screen, imported when first shown: the first frame is the Users
    screen's, and the audit log brings the dialogs with it."""
    from tui.screens.audit import AuditScreen

    return AuditScreen()


def _first_line(error: BaseException | None) -> str:
    """``Type: first line of the message``, shortened; never fails, whatever the error."""
    from data.redact import redact

    if error is None:
        return "An unknown error"
    try:
        text = str(error)
    except Exception:  # a broken __str__ must not break the report of its own failure
        text = ""
    # Masked before it is cut, so a cut cannot leave a password without its "@".
    first = redact((text.strip().splitlines() or [""])[0])
    if len(first) > 200:
        first = first[:199] + "…"
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
