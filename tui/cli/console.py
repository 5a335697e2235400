"""The console: run in this terminal until the admin quits or a signal closes it, or
served to a browser with ``--web``.

Textual and the data core are imported only once the console starts, so that the first
frame is drawn before SQLAlchemy is loaded (the database opens in a worker).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn

from data.actor import Actor
from data.config import URL_ENV_VAR, configured_url
from data.redact import redact
from tui.cli.admin import config_settings
from tui.cli.database import configured, open_database
from tui.cli.output import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, PROG, flush_or_silence, warn

if TYPE_CHECKING:
    from asyncio import AbstractEventLoop

    from data.database import Database
    from data.records import Page, PageRequest
    from tui.app import AccessGuardApp, ConsoleOptions
    from tui.settings import Settings

# How long a closing console waits for database work still running in its workers (a save)
# before the process ends anyway: under the 5 s an admin or a service manager will wait.
EXIT_GRACE_S = 3.0
# After a closing signal the process ends within this, even if the console cannot close.
EXIT_DEADLINE_S = 4.0
# Signals that close the console as q does: kill's default, the SSH link dropping, and an
# interrupt sent from outside (at the console's keyboard, ctrl+c is a key, not a signal).
# (Windows has no SIGHUP, and its event loops take no signal handlers.)
CLOSING_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)


def console_command(args: argparse.Namespace, cli_url: str | None, notices: Sequence[str]) -> int:
    """Open the console (or serve it with --web) with the config file's settings."""
    settings = config_settings(console=True)
    raw_url = configured(cli_url, settings)
    if args.web:  # served to a browser: it needs no terminal of its own
        return serve_web(args, raw_url)
    # Garbage collection is held (`tui.cli.main`) until the database is open: the app
    # resumes it then.
    return _console(args, raw_url, settings, notices)


def _console(
    args: argparse.Namespace, raw_url: str, settings: Settings, notices: Sequence[str]
) -> int:
    """The console in this terminal, with its theme and keys checked first."""
    # Read while Textual loads, so that the first frame can draw the first rows.
    ahead = read_ahead(raw_url, settings.page_size, demo=args.demo)
    from tui.app import ConsoleOptions, theme_names

    if args.theme is not None and args.theme not in theme_names():
        known = ", ".join(sorted(theme_names()))
        warn(f"{PROG}: error: unknown theme {args.theme!r} for --theme (known: {known})")
        return EXIT_USAGE
    options = ConsoleOptions.choose(settings, theme=args.theme)
    return run_console(
        raw_url,
        read_only=args.read_only,
        demo=args.demo,
        warnings=notices,
        options=options,
        mouse=not args.no_mouse,
        ahead=ahead,
    )


NO_TERMINAL = (
    "the console needs a terminal (its input and output are not one); run a command instead "
    f"(`{PROG} --help` lists them), or serve it to a browser with --web"
)


def has_terminal() -> bool:
    """Whether the console has a terminal to draw on and read keys from.

    Drawn into a pipe, it would wait for keys that never come. A Textual driver chosen in
    $TEXTUAL_DRIVER (textual-serve's web driver for --web's sessions, a headless one) needs
    none.
    """
    if os.environ.get("TEXTUAL_DRIVER"):
        return True
    return sys.stdin.isatty() and sys.stdout.isatty()


WEB_EXTRA_MISSING = "--web needs the optional textual-serve package: pip install 'accessguard[web]'"


def web_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve runs for each browser session: this console, without
    --web and without the URL (the child reads it from $DATABASE_URL, out of ps's sight)."""
    import shlex

    words = [sys.executable, "-m", "tui"]
    if args.read_only:
        words.append("--read-only")
    if args.demo:
        words.append("--demo")
    if args.theme:
        words += ["--theme", args.theme]
    return shlex.join(words)


def web_server(args: argparse.Namespace, raw_url: str) -> Any:
    """The guarded textual-serve server for the console (`SystemExit` 2 without the extra).

    The URL goes to the children through the environment, never their command line.
    """
    try:
        from tui.web import console_server
    except ImportError:
        warn(f"{PROG}: {WEB_EXTRA_MISSING}")
        raise SystemExit(EXIT_USAGE) from None
    os.environ[URL_ENV_VAR] = raw_url
    return console_server(web_command(args), port=args.port, announce=_announce_web)


def _announce_web(url: str) -> None:
    warn(
        f"{PROG}: serving the console at {url} (ctrl+c stops); open this address: "
        "its token is this run's key, so share it with no one"
    )


def serve_web(args: argparse.Namespace, raw_url: str) -> int:
    """Serve the console in a browser on 127.0.0.1 until interrupted."""
    try:
        server = web_server(args, raw_url)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    try:
        server.serve()
    except OSError as error:  # the port is taken (or not ours to bind)
        warn(f"{PROG}: cannot serve on port {args.port}: {error.strerror or error}; try --port N")
        return EXIT_REFUSED
    return EXIT_OK


class FirstPageAhead:
    """The opening screen's first page, read by a thread from the moment the console
    starts (`data.first_page`: a plain SQLite file only), while Textual loads.

    The table finds it ready when it mounts (`ready`), so the first frame draws the first
    rows; a screen that asks for another page, or asks sooner, reads or waits (`read`).
    """

    def __init__(self, raw_url: str | None, page_size: int | None) -> None:
        # Imported here, before the thread starts: two threads importing the same modules
        # at once could each see the other's half-loaded.
        from data.first_page import read_first_page
        from data.records import PAGE_SIZE, PageRequest
        from tui.views import opening_view

        self._read = partial(read_first_page, configured_url(raw_url))
        self._asked = (opening_view().key, PageRequest(limit=page_size or PAGE_SIZE))
        self._page: Page[Any] | None = None
        self._done = threading.Event()
        threading.Thread(target=self._read_ahead, name="first page", daemon=True).start()

    def _read_ahead(self) -> None:
        try:
            self._page = self._read(*self._asked)
        except Exception:  # only ever a head start: the data core reads the page anyway
            self._page = None
        finally:
            self._done.set()

    def ready(self, plural: str, request: PageRequest) -> Page[Any] | None:
        """The page, if it is the one read ahead and the read is done; never waits."""
        if (plural, request) != self._asked or not self._done.is_set():
            return None
        return self._page

    def read(self, plural: str, request: PageRequest) -> Page[Any] | None:
        """The page: the one read ahead (waiting for it), or read now."""
        if (plural, request) != self._asked:
            return self._read(plural, request)
        self._done.wait()
        return self._page


def read_ahead(raw_url: str | None, page_size: int | None, *, demo: bool) -> FirstPageAhead | None:
    """The first page, being read ahead; None with --demo, which may fill an empty database
    first: its rows come with the data core."""
    return None if demo else FirstPageAhead(raw_url, page_size)


def console_app(
    raw_url: str | None,
    *,
    read_only: bool,
    demo: bool,
    warnings: Sequence[str] = (),
    options: ConsoleOptions | None = None,
    ahead: FirstPageAhead | None = None,
) -> AccessGuardApp:
    """The console over the database the command line names, opened after its first frame.

    Until the app's opener (`open_database`, in a worker) is done, the status line names
    the database as configured, password masked. ``warnings`` are shown once it is open,
    with any the database itself gives (a file other users can read). ``ahead`` is the
    first page being read already; without it (and without --demo) the read starts here.
    """
    # Imported here: the scripting commands never pay for loading Textual.
    from tui.app import AccessGuardApp, DatabaseOpener

    def open_for_the_console(progress: Callable[[str], None]) -> Database:
        return open_database(
            raw_url, read_only=read_only, demo=demo, create=demo, progress=progress
        )

    if ahead is None:
        ahead = read_ahead(raw_url, options.page_size if options else None, demo=demo)
    opener = DatabaseOpener(
        where=redact(configured_url(raw_url)),
        open=open_for_the_console,
        warnings=tuple(warnings),
        first_page=None if ahead is None else ahead.read,
        first_page_ready=None if ahead is None else ahead.ready,
    )
    # 12 random hex digits name this console in the audit log (os.urandom, not uuid: that
    # module and the platform module it loads cost the first frame ~2 ms).
    actor = Actor.from_environment(source=f"console:{os.urandom(6).hex()}")
    return AccessGuardApp(opener, actor=actor, read_only=read_only, options=options)


def run_console(
    raw_url: str | None,
    *,
    read_only: bool,
    demo: bool,
    warnings: Sequence[str] = (),
    options: ConsoleOptions | None = None,
    mouse: bool = True,
    ahead: FirstPageAhead | None = None,
) -> int:
    """Run the console until the admin quits, or a signal closes it.

    SIGTERM, SIGHUP (the SSH link dropped) and SIGINT close the console as ``q`` does, with
    the terminal restored, and the exit status is 128 + the signal's number. Database work
    still running in a worker (a save) gets `EXIT_GRACE_S` to finish; then the process ends
    anyway, and the database keeps that change whole or not at all.

    If the database cannot be opened, the console exits and the failure is raised here, with
    the terminal restored, so `main` reports it exactly as it would for any command. Without
    a terminal (`has_terminal`) it says so and returns 2.
    """
    import asyncio

    if not has_terminal():
        warn(f"{PROG}: {NO_TERMINAL}")
        return EXIT_USAGE
    app = console_app(
        raw_url, read_only=read_only, demo=demo, warnings=warnings, options=options, ahead=ahead
    )
    # A loop of our own: asyncio.run's, once the console has closed, waits for every worker
    # thread for as long as it takes, and a write stuck on a lock or a dead link would keep
    # the process (and its terminal) for minutes.
    loop = asyncio.new_event_loop()
    try:
        with _closing_on_signals(loop, app):
            app.run(loop=loop, mouse=mouse)
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()  # lets idle worker threads go, without waiting for busy ones
    finished = _wait_for_workers(EXIT_GRACE_S)
    if app.is_open:
        app.db.dispose()
    if app.open_failure is not None:
        raise app.open_failure
    status = app.return_code or EXIT_OK
    if not finished:
        with suppress(OSError):  # after a hang-up there is no terminal left to tell
            warn(
                f"{PROG}: closed while a database operation was still running; a change "
                "in progress is saved whole or not at all (the audit log shows which)"
            )
        _end_now(status)
    flush_or_silence()
    return status


@contextmanager
def _closing_on_signals(loop: AbstractEventLoop, app: AccessGuardApp) -> Iterator[None]:
    """While the console runs, `CLOSING_SIGNALS` close it (status 128 + the signal).

    Left to their defaults, SIGTERM and SIGHUP end the process on the spot, leaving the
    admin's terminal in raw mode with the mouse still reporting, and a save in flight is
    rolled back even when it was a moment from done. The process still ends within
    `EXIT_DEADLINE_S` of the signal, closed or not.
    """

    def close(signum: int) -> None:
        status = 128 + signum
        app.exit(return_code=status)
        # The process must end even if the console cannot close: after a hang-up, Textual's
        # output thread dies on the lost terminal and its next write blocks the console
        # for good. So whatever it is doing by then, it ends at the deadline.
        deadline = threading.Timer(EXIT_DEADLINE_S, _end_now, (status,))
        deadline.daemon = True
        deadline.start()

    handled: list[int] = []
    for signum in CLOSING_SIGNALS:
        with suppress(NotImplementedError):
            loop.add_signal_handler(signum, close, signum)
            handled.append(signum)
    try:
        yield
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


def _wait_for_workers(seconds: float) -> bool:
    """Wait up to ``seconds`` for the console's worker threads; whether they all finished."""
    deadline = time.monotonic() + seconds
    me = threading.current_thread()
    others = [t for t in threading.enumerate() if t is not me and not t.daemon]
    for thread in others:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in others)


def _end_now(status: int) -> NoReturn:
    """End the process without waiting for worker threads still inside a database call.

    Python cannot interrupt them, and joins them at exit however long they take. Ending the
    process closes their connections: the server, or SQLite's journal, rolls back whatever
    they had not committed.
    """
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)
