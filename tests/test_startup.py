"""Starting the console: its first frame before the data core loads, its rows once it opens.

The console is built by the command line's own `console_app`, or run as ``python -m tui``
under Textual's headless driver, over real databases.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import threading
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from textual.message import Message

from data.config import normalise_url
from data.database import Database
from data.schema import upgrade
from tests.console_support import (
    CONSOLE_ACTOR,
    child_console_environment,
    demo_database,
    settle,
    sql_on_the_ui_thread,
    table,
    table_lines,
)
from tests.needs import server_admin_url
from tui.app import AccessGuardApp, DatabaseOpener
from tui.cli import main
from tui.cli.console import console_app
from tui.cli.database import open_database
from tui.screens.audit import AuditScreen
from tui.screens.form import RecordForm
from tui.screens.records import RecordScreen
from tui.screens.table_screen import StatusLine
from tui.text import shorten_middle

REPO = Path(__file__).resolve().parent.parent
SIZE = (80, 24)
SECRET = "s3cretpw"

# Runs `accessguard --db URL` and notes, at every frame drawn, what is loaded and on screen;
# it quits at the first frame with rows and prints the first frame and that one as JSON.
FRAME_SPY = textwrap.dedent(
    """
    import dataclasses
    import json
    import sys

    from textual.app import App

    frames = []
    draw = App._display

    def spy(self, screen, renderable):
        if renderable is not None:
            from tui.widgets.record_table import RecordTable

            tables = list(screen.query(RecordTable))
            # A copy: the opener's thread may be importing while this runs.
            modules = sys.modules.copy()
            frames.append({
                "loaded": sorted(
                    name for name in modules if name.split(".")[0] in ("sqlalchemy", "alembic")
                ),
                "screen": screen.id,
                "status": str(screen.query_one("#status-line").render()),
                "header": tables[0].render_line(0).text if tables else "",
                "rows": any(table.cursor_record is not None for table in tables),
                "dataclasses": sorted(
                    f"{name}.{value.__name__}"
                    for name, module in modules.items()
                    if name.split(".")[0] in ("tui", "data", "models") and module is not None
                    for value in list(vars(module).values())
                    if isinstance(value, type)
                    and value.__module__ == name
                    and dataclasses.is_dataclass(value)
                ),
            })
            if frames[-1]["rows"]:
                self.exit()
        draw(self, screen, renderable)

    App._display = spy
    from tui.cli import main

    code = main(["--db", sys.argv[1]])
    print(json.dumps({"code": code, "first": frames[0], "with_rows": frames[-1]}))
    """
)


def _status(app: AccessGuardApp) -> str:
    return str(app.screen.query_one(StatusLine).render())


def _ends_with(status: str, text: str) -> bool:
    """Whether the status line ends with ``text`` as it fits 80 columns: a long URL is cut
    in its middle, keeping the database's name."""
    tabs, bar, shown = status.rpartition("│ ")
    return bool(bar) and shown == shorten_middle(text, 80 - len(tabs) - len(bar))


# The first frame


def _spied_start(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """Start `accessguard --db URL` on a demo file under `FRAME_SPY`: the URL, and what the
    spy saw (its exit code, its first frame, its first frame with rows)."""
    path = tmp_path / "console.db"
    demo_database(path).dispose()
    url = f"sqlite:///{path}"
    done = subprocess.run(
        [sys.executable, "-c", FRAME_SPY, url],
        cwd=tmp_path,
        env=child_console_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(done.stdout)
    return url, seen


def test_the_first_frame_is_drawn_before_sqlalchemy_is_loaded(tmp_path: Path) -> None:
    url, seen = _spied_start(tmp_path)
    first, with_rows = seen["first"], seen["with_rows"]
    assert first["loaded"] == []
    assert first["screen"] == "users-screen"
    assert _ends_with(first["status"], f"Opening {url}…")
    assert all(title in first["header"] for title in ("ID", "Name", "Email", "Role"))
    # The first rows come before the data core (`data.first_page`), read while Textual
    # loaded: in the first frame, or, if that read lost the race, in a later one. Either
    # way the data core starts loading only after they are drawn.
    assert with_rows["rows"]
    assert with_rows["loaded"] == []
    assert _ends_with(with_rows["status"], f"Opening {url}…")
    assert seen["code"] == 0


def test_the_first_rows_define_only_the_data_cores_own_dataclasses(tmp_path: Path) -> None:
    """On Python 3.11 each frozen dataclass costs every start its definition (six methods
    compiled from text, 2-6 M instructions): the console's own value types on the way to
    the first rows are NamedTuples, and what the first frame does not read waits in
    modules it does not load (docs/design.md). A new dataclass here is a start-up cost:
    move it off this path, or name it below knowingly."""
    _url, seen = _spied_start(tmp_path)
    assert seen["with_rows"]["rows"]
    assert seen["with_rows"]["dataclasses"] == [
        "data.records.Count",
        "data.records.Cursor",
        "data.records.Page",
        "data.records.PageRequest",
        "models.plain.Malformed",
    ]


async def test_a_closing_signal_right_after_the_first_frame_ends_the_console_cleanly(
    tmp_path: Path,
) -> None:
    # A signal that lands as the very first frame is handed over (once drawn while the app
    # still mounted its first screen) must end the console with its status (128 + 15), not
    # a mount error.
    path = tmp_path / "console.db"
    demo_database(path).dispose()
    app = console_app(f"sqlite:///{path}", read_only=False, demo=False)
    # Its own spy, not `tests.bench.frames.stamp_frames`: that counts only frames written
    # outside a batch, and the race is with the very first one Textual hands over.
    draw = app._display
    frames: list[object] = []

    def signalled_at_the_first_frame(screen: Any, renderable: Any) -> None:
        draw(screen, renderable)
        if renderable is not None and not frames:
            # As `_closing_on_signals` does: from the event loop, between two messages.
            asyncio.get_running_loop().call_soon(partial(app.exit, return_code=143))
        frames.append(renderable)

    setattr(app, "_display", signalled_at_the_first_frame)  # noqa: B010 - this app only
    await app.run_async(headless=True, size=SIZE)
    assert frames
    assert app.return_code == 143
    if app.is_open:
        app.db.dispose()


@pytest.mark.parametrize("turns", [0, 1, 5, 25])
async def test_a_closing_signal_as_the_console_starts_ends_it_cleanly(
    tmp_path: Path, turns: int
) -> None:
    # The app mounts before its first screen's widgets do: a signal that lands in between
    # (``turns`` turns of the event loop into the start) must end the console with its
    # status, not with a mount error (Textual's NoMatches, exit status 1).
    path = tmp_path / "console.db"
    demo_database(path).dispose()
    app = console_app(f"sqlite:///{path}", read_only=False, demo=False)
    loop = asyncio.get_running_loop()

    def signalled_after(turns_left: int) -> None:
        if turns_left:
            loop.call_soon(signalled_after, turns_left - 1)
        else:  # as `_closing_on_signals` does: from the event loop, between two messages
            app.exit(return_code=143)

    loop.call_soon(signalled_after, turns)
    await app.run_async(headless=True, size=SIZE)
    assert app.return_code == 143
    if app.is_open:
        app.db.dispose()


def test_clearing_the_selection_before_any_screen_is_up_does_nothing(tmp_path: Path) -> None:
    # On Python 3.12+ an Input of the first screen would mount (and clear the selection)
    # before that screen is on the stack: no screen yet, nothing to clear, and no crash.
    app = console_app(f"sqlite:///{tmp_path / 'none.db'}", read_only=False, demo=False)
    app.clear_selection()
    assert app.screen_stack == []


# Opening, and what the console shows once it has


async def test_the_console_opens_a_database_and_shows_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "console.db"
    demo_database(path).dispose()
    url = f"sqlite:///{path}"
    app = console_app(url, read_only=False, demo=False)
    with sql_on_the_ui_thread(Engine) as offenders:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            assert app.is_open
            assert table(app).total == 30
            assert _ends_with(_status(app), url)
            assert "Row 1 of 30" in str(app.screen.query_one("#position-line").render())
            await pilot.press("2")
            await settle(app, pilot)
            assert table(app).total == 40
        app.db.dispose()
    assert offenders == []


async def test_demo_fills_an_empty_file_and_shows_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    steps: list[str] = []

    def note_steps(message: Message) -> None:
        if isinstance(message, AccessGuardApp.Opening):
            steps.append(message.status)

    app = console_app(url, read_only=False, demo=True)
    async with app.run_test(size=SIZE, message_hook=note_steps) as pilot:
        await settle(app, pilot)
        assert steps == [f"Filling {url} with demo data…"]
        assert table(app).total == 100
        assert table_lines(app)[1].split()[0] == "1"
        await pilot.press("2")
        await settle(app, pilot)
        assert table(app).total == 300
    app.db.dispose()


async def test_keys_pressed_while_the_database_opens_wait_for_it_or_do_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "console.db"
    demo_database(path).dispose()
    go_ahead = threading.Event()

    def open_when_told(progress: Any) -> Database:
        go_ahead.wait(timeout=30)
        return open_database(f"sqlite:///{path}", read_only=False)

    opener = DatabaseOpener(where="the test's file", open=open_when_told)
    app = AccessGuardApp(opener, actor=CONSOLE_ACTOR)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2", "3", "1", "G")
            # The keys that would change data do nothing: no form, dialog or undo.
            await pilot.press("n", "e", "d", "space", "D", "u", "enter")
            # Every key handled while the database is still opening: under load, one held
            # back behind the key before it (`KeysInOrder`) would otherwise come after.
            await app.keys_handed_on()
            await pilot.pause()
            assert not app.is_open
            assert isinstance(app.screen, RecordScreen)
            assert _status(app).endswith("│ Opening the test's file…")
            assert [n.message for n in app._notifications] == []

            go_ahead.set()
            await settle(app, pilot)
            assert app.is_open
            # G, pressed while opening, took the cursor to the last user once rows came.
            assert table(app).cursor_row == 29
            assert table(app).cursor_record.id == 30
            assert _ends_with(_status(app), f"sqlite:///{path}")
            # Screens first shown while opening have their rows and the database's name too.
            await pilot.press("3")
            await settle(app, pilot)
            assert isinstance(app.screen, AuditScreen)
            assert table(app).cursor_record is not None
            assert _ends_with(_status(app), f"sqlite:///{path}")
            await pilot.press("1", "n")
            await settle(app, pilot)
            assert isinstance(app.screen, RecordForm)
            assert [n.message for n in app._notifications] == []
    finally:
        go_ahead.set()
    app.db.dispose()


# Failing to open


def _future_schema_file(tmp_path: Path) -> str:
    """A SQLite file whose schema a newer AccessGuard wrote."""
    url = f"sqlite:///{tmp_path / 'future.db'}"
    db = Database.connect(normalise_url(url))
    try:
        upgrade(db.engine)
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    finally:
        db.dispose()
    return url


def _missing_postgres_database(_tmp_path: Path) -> str:
    """A PostgreSQL database that does not exist, with a password in its URL."""
    server = server_admin_url("postgresql")
    where = f"{server.host}:{server.port or 5432}"
    return f"postgresql://{server.username}:{SECRET}@{where}/ag_missing_{uuid.uuid4().hex[:12]}"


def _unsupported_url(_tmp_path: Path) -> str:
    return f"oracle://scott:{SECRET}@127.0.0.1/orders"


@pytest.mark.parametrize(
    ("make_url", "reason"),
    [
        pytest.param(_future_schema_file, "newer AccessGuard", id="schema-from-the-future"),
        pytest.param(
            _missing_postgres_database,
            "Database unavailable",
            id="no-such-postgres-database",
            marks=pytest.mark.servers("postgresql"),
        ),
        pytest.param(_unsupported_url, "Bad database URL", id="unsupported-url"),
    ],
)
def test_a_database_that_cannot_be_opened_ends_the_console_as_a_command_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_url: Any, reason: str
) -> None:
    url = make_url(tmp_path)
    command = main(["--db", url, "users", "list"])
    said = capsys.readouterr().err
    console = subprocess.run(
        [sys.executable, "-m", "tui", "--db", url],
        cwd=tmp_path,
        env=child_console_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (console.returncode, console.stderr) == (command, said)
    assert console.returncode in (1, 2)
    # One line says why; a password typed into --db is also warned about (ps shows it).
    assert len([line for line in said.splitlines() if ": warning: " not in line]) == 1
    assert reason in said
    assert SECRET not in said
    assert "Traceback" not in said
