"""What the admin sees: every screen, dialog and state at 80x24, the main ones at 120x40 too.

One table (`CASES`) drives one test: a case is a name, the keys an admin presses, and the
sizes. The few states keys alone cannot reach (another console's change, stored text no
form accepts, a database still opening) add a step of their own.

Everything that could differ between runs, machines or Python versions is fixed: demo data
from a fixed seed, audit times, a relative SQLite path (the status line reads the same
everywhere), the export's default file name, the clock toasts expire by, cursor blink.
Update the SVGs only after opening the report and agreeing with every changed cell.
"""

from __future__ import annotations

import contextlib
import csv
import io
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, TextArea
from textual.widgets._toast import Toast
from textual.worker import WorkerFailed, get_current_worker

import tui.screens.transfer
from data.actor import Actor
from data.changes import Change
from data.config import normalise_url
from data.database import Database
from data.errors import Invalid
from data.records import PageRequest
from data.seed import seed_demo
from data.transfer import export_records
from models import Product, User
from tests.console_support import (
    CONSOLE_ACTOR,
    FIXED_TIME,
    current,
    freeze_audit_times,
    insert_raw_user,
    settle,
    table_lines,
    wait_until,
    watch_workers,
)
from tests.migrated import copy_sqlite_at_head
from tui.app import AccessGuardApp, ConsoleOptions, DatabaseOpener
from tui.screens.progress import OperationDialog
from tui.screens.records import RecordScreen
from tui.screens.transfer import ExportProgress
from tui.widgets.relation_picker import RelationPicker

SMALL = (80, 24)
LARGE = (120, 40)
Compare = Callable[..., bool]
Steps = Callable[[Pilot[Any]], Awaitable[None]]
SNAPSHOT_URL = "sqlite:///snapshots.db"
# Live views off: a picture must not depend on whether the watcher looked before it was
# taken. The live case turns them on and waits for what they show.
STILL = ConsoleOptions(live=False)


@dataclass(frozen=True)
class Case:
    """One picture: ``presses`` on the console over the fixed data, at each of ``sizes``.

    ``app`` builds a console other than the plain one (read-only, a theme, still opening);
    ``prepare`` changes the data or the clock first; ``then`` does what keys cannot, after
    the presses; ``settled`` is False only for a frame taken while a worker must still run.
    """

    name: str
    presses: tuple[str, ...] = ()
    sizes: tuple[tuple[int, int], ...] = (SMALL,)
    app: Callable[[Database], AccessGuardApp] | None = None
    prepare: Callable[[Database, pytest.MonkeyPatch], None] | None = None
    then: Steps | None = None
    settled: bool = True


def typed(text: str) -> tuple[str, ...]:
    """The key presses that type ``text`` (the pilot names the keys of punctuation)."""
    return tuple(text)


# Data and consoles


@pytest.fixture
def snap_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """Fixed demo data at a relative path (the status line shows the same URL everywhere)."""
    monkeypatch.chdir(tmp_path)
    copy_sqlite_at_head(tmp_path / "snapshots.db")  # migrating each picture's own cost ~0.4 s
    db = Database.connect(normalise_url(SNAPSHOT_URL))
    seed_demo(db, users=40, products=60, seed=3, actor=CONSOLE_ACTOR)
    _a_morning_of_changes(db)
    freeze_audit_times(db)
    yield db
    db.dispose()


@pytest.fixture(autouse=True)
def still_toasts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Toasts stay until the picture is taken, however slow the machine: their clock is
    frozen and their expiry timer does nothing (a toast that left already is a race)."""
    monkeypatch.setattr("textual.notifications.time", lambda: 1_767_225_600.0)
    monkeypatch.setattr(Toast, "_expire", lambda self: None)


def _a_morning_of_changes(db: Database) -> None:
    """A few audited changes, so the audit log has something to show."""
    colleague = Actor(os_user="bob", sudo_user="root", client_addr="10.0.0.8", source="cli")
    created = db.users.create(
        {"name": "Nadia Haddad", "email": "nadia@example.com", "role": "editor"}, actor=colleague
    )
    product = db.products.get(3)
    db.products.update(
        3, {"price": "19.99", "stock": 12}, expected_version=product.version, actor=CONSOLE_ACTOR
    )
    db.users.update(created.id, {"role": "admin"}, expected_version=1, actor=CONSOLE_ACTOR)
    doomed = db.products.get(5)
    db.products.delete(5, expected_version=doomed.version, actor=colleague)


def read_only_console(_db: Database) -> AccessGuardApp:
    """A console over its own read-only connection to the same file."""
    reader = Database.connect(normalise_url(SNAPSHOT_URL), read_only=True)
    return AccessGuardApp(reader, actor=CONSOLE_ACTOR, read_only=True, options=STILL)


def themed(theme: str) -> Callable[[Database], AccessGuardApp]:
    """A console in ``theme``."""

    def build(db: Database) -> AccessGuardApp:
        return AccessGuardApp(
            db, actor=CONSOLE_ACTOR, options=ConsoleOptions(theme=theme, live=False)
        )

    return build


def opening_console(db: Database) -> AccessGuardApp:
    """A console whose database is still opening: its opener waits until the console
    closes (which cancels it), so the picture is the first frame an admin sees."""

    def open_at_close(progress: Callable[[str], None]) -> Database:
        get_current_worker().cancelled_event.wait()
        return db

    return AccessGuardApp(
        DatabaseOpener(SNAPSHOT_URL, open_at_close), actor=CONSOLE_ACTOR, options=STILL
    )


# Steps keys cannot take


async def still_opening(pilot: Pilot[Any]) -> None:
    """The Users screen is up and says what it is opening (its rows wait for the database)."""
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, RecordScreen) and app.screen.is_mounted)


async def colleague_saves_first(pilot: Pilot[Any]) -> None:
    """While the form is open, another console saves the same user; then ours saves."""
    app = pilot.app
    assert isinstance(app, AccessGuardApp)
    record = current(app)
    colleague = Actor(os_user="bob", source="console:colleague")
    app.db.users.update(
        record.id,
        {"name": "Their Name", "role": "editor"},
        expected_version=record.version,
        actor=colleague,
    )
    await press(pilot, "ctrl+u", *typed("My Name"), "ctrl+s")


async def colleague_deletes_first(pilot: Pilot[Any]) -> None:
    """While the form is open, another console deletes the user; then ours saves."""
    app = pilot.app
    assert isinstance(app, AccessGuardApp)
    record = current(app)
    colleague = Actor(os_user="bob", source="console:colleague")
    app.db.users.delete(record.id, expected_version=record.version, actor=colleague)
    await press(pilot, *typed("!"), "ctrl+s")


async def colleague_saves_while_the_form_is_open(pilot: Pilot[Any]) -> None:
    """Another console saves the user's email and role while ours edits the name; the live
    views tell the app (the message they post, for that real save), which tells the form
    and marks the row under it."""
    app = pilot.app
    assert isinstance(app, AccessGuardApp)
    record = current(app)
    await press(pilot, "ctrl+u", *typed("My Name"))
    colleague = Actor(os_user="bob", source="console:colleague")
    app.db.users.update(
        record.id,
        {"email": "bob.changed@example.com", "role": "editor"},
        expected_version=record.version,
        actor=colleague,
    )
    change = Change(
        entry_id=0,
        entity="user",
        record_id=record.id,
        action="update",
        actor=colleague.label,
        source=colleague.source,
        at=FIXED_TIME,
        fields=("email", "role"),
    )
    app.post_message(AccessGuardApp.RecordsChanged((change,)))


async def colleague_saves_another_field_first(pilot: Pilot[Any]) -> None:
    """Another console saves the user's email; ours renames and saves: the two merge."""
    app = pilot.app
    assert isinstance(app, AccessGuardApp)
    record = current(app)
    colleague = Actor(os_user="bob", source="console:colleague")
    app.db.users.update(
        record.id,
        {"email": "bob.changed@example.com"},
        expected_version=record.version,
        actor=colleague,
    )
    await press(pilot, "ctrl+u", *typed("My Name"), "ctrl+s")


def live_console(db: Database) -> AccessGuardApp:
    """A console with live views on (every other picture has them off)."""
    return AccessGuardApp(db, actor=CONSOLE_ACTOR)


def marks_stay(_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Changed rows stay marked until the picture is taken, however slow the machine."""
    monkeypatch.setattr("tui.screens.table_screen.MARK_S", 3_600.0)


async def colleague_renames_one(pilot: Pilot[Any]) -> None:
    """Another console renames the user two rows below the cursor; the console shows it
    on its own, marked, with who did it on the position line."""
    app = pilot.app
    assert isinstance(app, AccessGuardApp)
    record = app.db.users.get(current(app).id + 2)
    colleague = Actor(os_user="bob", source="console:colleague")
    app.db.users.update(
        record.id, {"name": "Renamed By Bob"}, expected_version=record.version, actor=colleague
    )
    await wait_until(pilot, lambda: any("Renamed By Bob" in line for line in table_lines(app)))
    await settle(app, pilot)


async def owner_matches_show(pilot: Pilot[Any]) -> None:
    """The picker's matches arrive after its debounce: wait for the list, not for time."""
    picker = pilot.app.screen.query_one(RelationPicker)
    await wait_until(pilot, lambda: picker.matches.has_class("-open"))
    await settle(pilot.app, pilot)


def markup_and_escapes(db: Database, _monkeypatch: pytest.MonkeyPatch) -> None:
    """Names another tool stored: markup, a click action, terminal escapes, a bidi override."""
    insert_raw_user(db, 901, "[bold]x[/] [link=x]y", "markup@example.com")
    insert_raw_user(db, 902, "[@click=app.quit]", "click@example.com")
    insert_raw_user(db, 903, "evil\x1b]0;pwn\x07\x1b[2J\x9bz", "escape@example.com")
    insert_raw_user(db, 904, "bidi \u202eevil\u202c", "bidi@example.com")


def records_at_a_fixed_time(db: Database, _monkeypatch: pytest.MonkeyPatch) -> None:
    """The records this morning's changes touched carry the time they ran; the record view
    shows it: the fixed time instead (seeded records' times are fixed by their seed)."""
    with db.sessions.begin() as session:
        for model in (User, Product):
            for column in (model.created_at, model.updated_at):
                session.execute(
                    update(model).where(column > FIXED_TIME).values({column.key: FIXED_TIME})
                )


def export_named_for_a_fixed_time(_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The export's default file name carries the time: a fixed one."""
    monkeypatch.setattr(tui.screens.transfer, "local_now", lambda: datetime(2026, 1, 2, 3, 4, 5))


def export_held_part_way(_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large export a quarter of the way through: no worker starts, only its news."""
    export_named_for_a_fixed_time(_db, monkeypatch)

    def part_way(self: ExportProgress) -> None:
        self.post_message(ExportProgress.Advanced(15_000, 60_000))

    monkeypatch.setattr(OperationDialog, "on_mount", part_way)


def a_fixed_products_file(db: Database, _monkeypatch: pytest.MonkeyPatch) -> None:
    """products-fixed.csv: one changed price, one refused stock, one new product."""
    first, second = list(db.products.stream(PageRequest(limit=2)))[:2]
    Path("products-fixed.csv").write_text(
        "sku,name,price,stock\n"
        f"{first.sku},{first.name},{first.price + 1},{first.stock}\n"
        f"{second.sku},{second.name},{second.price},-3\n"
        "NEW-1,Brand New,4.50,10\n",
        encoding="utf-8",
    )


def an_edited_users_export(db: Database, _monkeypatch: pytest.MonkeyPatch) -> None:
    """users-edited.csv: an export of the users with one email corrected, one role changed,
    and a new user (no id) added at the end."""
    out = io.StringIO(newline="")
    export_records(db, "users", out, fmt="csv")
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    rows[1][2] = "corrected@example.org"
    rows[3][3] = "admin"
    rows.append(["", "Zoe New", "zoe@example.com", "editor", "true", "false", "", ""])
    with Path("users-edited.csv").open("w", encoding="utf-8", newline="") as edited:
        csv.writer(edited).writerows(rows)


# The table

BOTH = (SMALL, LARGE)
TO_STOCK = ("l", "l", "l", "l")  # from ID on Products
TO_OWNER = ("l", "l", "l", "l", "l", "l")
STAGED = (
    *("2", *TO_STOCK, "f2", "ctrl+u", "4", "2", "enter", "j", "j", "h"),
    *("f2", "ctrl+u", "9", "full_stop", "9", "9", "enter", "j", "l", "f2", "ctrl+u", "7"),
    *("enter", "j"),
)

CASES = [
    # The three screens and their states
    Case("users", sizes=BOTH),
    Case("products", ("2",), sizes=BOTH),
    Case("audit", ("3",), sizes=BOTH),
    Case("opening_frame", app=opening_console, then=still_opening, settled=False, sizes=BOTH),
    Case("users_sorted_by_email", ("l", "l", "S"), sizes=BOTH),
    Case("marked_rows", ("space", "j", "j", "space", "j", "space"), sizes=BOTH),
    Case("active_search", ("slash", *typed("rossi"), "enter"), sizes=BOTH),
    Case("search_without_matches", ("slash", *typed("zzqx"), "enter")),
    Case("audit_about_one_user", ("3", "slash", *typed("user 41"), "enter"), sizes=BOTH),
    Case("user_filter", ("2", *TO_OWNER, "enter"), sizes=BOTH),
    Case("products_of_owner", ("j", "o")),
    Case("stored_markup_and_escapes", ("G",), prepare=markup_and_escapes, sizes=BOTH),
    Case("read_only", app=read_only_console, sizes=BOTH),
    Case("read_only_enter_views", ("enter",), app=read_only_console),
    Case("ansi_dark", app=themed("ansi-dark")),
    Case("ansi_light", app=themed("ansi-light")),
    Case("help", ("question_mark",), sizes=BOTH),
    Case("help_products", ("2", "question_mark")),
    Case("help_audit", ("3", "question_mark")),
    Case("palette", ("ctrl+p",), sizes=BOTH),
    Case(
        "live_changed_row",
        ("j",),
        app=live_console,
        prepare=marks_stay,
        then=colleague_renames_one,
    ),
    # Forms
    Case("new_user_form", ("n",), sizes=BOTH),
    Case("new_product_form", ("2", "n"), sizes=BOTH),
    Case("edit_user_form", ("e",), sizes=BOTH),
    Case("edit_product_form", ("2", "j", "e"), sizes=BOTH),
    Case(
        "refused_save",
        ("n", *typed("   "), "tab", *typed("not-an-email"), "ctrl+s"),
        sizes=BOTH,
    ),
    Case(
        "owner_picker_list",
        ("2", "n", "tab", "tab", "tab", "tab", "tab", *typed("ross")),
        then=owner_matches_show,
    ),
    Case("password_dialog", ("n", "f3")),
    Case("discard_changes_confirm", ("e", *typed("x"), "escape")),
    Case("conflict_dialog", ("e",), then=colleague_saves_first, sizes=BOTH),
    Case("deleted_while_editing", ("e",), then=colleague_deletes_first),
    Case("form_told_of_a_colleagues_save", ("e",), then=colleague_saves_while_the_form_is_open),
    Case("merged_save_toast", ("e",), then=colleague_saves_another_field_first),
    Case("saved_toast", ("e", "ctrl+u", *typed("Min-jun Miller"), "ctrl+s")),
    # Dialogs and toasts over the screens
    Case("delete_confirm", ("d",), sizes=BOTH),
    Case("product_delete_confirm", ("2", "d")),
    Case("bulk_delete_confirm", ("space", "j", "space", "j", "space", "D")),
    Case("audit_entry", ("3", "enter"), sizes=BOTH),
    # The record view: the user a colleague created and we promoted, a product with an owner
    # and a change, stored escapes, its keys, and a deleted record from the audit log
    Case("record_view", ("G", "v"), prepare=records_at_a_fixed_time, sizes=BOTH),
    Case("record_view_product", ("2", "j", "j", "v"), prepare=records_at_a_fixed_time, sizes=BOTH),
    Case("record_view_escapes", ("G", "k", "v"), prepare=markup_and_escapes),
    Case("record_view_help", ("v", "question_mark")),
    Case("record_view_deleted", ("3", "v")),
    Case("restore_confirm", ("3", "R")),
    Case("restore_update_confirm", ("3", "j", "R")),
    Case("undo_confirm", ("u",)),
    Case("toasts_undone_and_nothing_to_undo", ("u", "enter", "u", "enter", "u")),
    # Quick edits
    Case("quick_edit_bar", ("2", *TO_STOCK, "f2")),
    Case("quick_edit_refused", ("2", *TO_STOCK, "f2", "ctrl+u", "minus", "3", "enter")),
    Case("staged_cells", STAGED),
    Case("staged_review", (*STAGED, "ctrl+s")),
    Case("staged_edits_confirm", (*STAGED, "3")),
    # Export and import
    Case("export_prompt", ("2", "x"), prepare=export_named_for_a_fixed_time),
    Case(
        "export_progress",
        ("2", "x", "ctrl+u", *typed("./products.csv"), "enter"),
        prepare=export_held_part_way,
    ),
    Case(
        "export_finished",
        ("2", "x", "ctrl+u", *typed("./products.csv"), "enter"),
        prepare=export_named_for_a_fixed_time,
    ),
    Case("import_path_prompt", ("2", "i")),
    Case("import_review", ("2", "i", "enter"), prepare=a_fixed_products_file),
    Case("import_applied", ("2", "i", "enter", "V"), prepare=a_fixed_products_file),
    Case("import_apply_refused", ("2", "i", "enter", "a"), prepare=a_fixed_products_file),
    Case("import_refused_rows", ("2", "i", "enter", "v"), prepare=a_fixed_products_file),
    Case(
        "import_review_search",
        ("2", "i", "enter", "slash", *typed("brand")),
        prepare=a_fixed_products_file,
    ),
    Case("import_review_by_id", ("i", "enter"), prepare=an_edited_users_export),
]


def _params() -> Iterator[Any]:
    for case in CASES:
        for width, height in case.sizes:
            yield pytest.param(case, (width, height), id=f"{case.name}-{width}x{height}")


async def press(pilot: Pilot[Any], *keys: str) -> None:
    """Press ``keys`` one by one, letting the console settle after each."""
    for key in keys:
        await pilot.press(key)
        await settle(pilot.app, pilot)


def drive(case: Case) -> Steps:
    """Settle, press the case's keys, take its extra step, settle, stop cursors blinking."""

    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        if case.settled:
            await settle(app, pilot)
            await press(pilot, *case.presses)
        if case.then is not None:
            await case.then(pilot)
        if case.settled:
            await settle(app, pilot)
        for widget in app.screen.query(Input):
            widget.cursor_blink = False
        for area in app.screen.query(TextArea):
            area.cursor_blink = False
        await pilot.pause()

    return run


@pytest.mark.parametrize(("case", "size"), list(_params()))
def test_snapshot(
    snap_compare: Compare,
    snap_db: Database,
    monkeypatch: pytest.MonkeyPatch,
    case: Case,
    size: tuple[int, int],
) -> None:
    if case.prepare is not None:
        case.prepare(snap_db, monkeypatch)
    app = (case.app or _plain)(snap_db)
    watch_workers(app)
    try:
        assert snap_compare(app, terminal_size=size, run_before=drive(case))
    finally:
        if app.read_only:
            app.db.dispose()


def _plain(db: Database) -> AccessGuardApp:
    return AccessGuardApp(db, actor=CONSOLE_ACTOR, options=STILL)


# The waiting every picture relies on (`settle`), on a bare Textual app


class _Bare(App[None]):
    """An app with nothing on it: the workers are the test's."""


def _refused() -> None:
    raise Invalid({"email": "is not a valid address"})


def _broken() -> None:
    raise ZeroDivisionError("a bug in a worker")


async def test_settle_fails_on_a_worker_bug_even_one_that_ended_before_it_looked() -> None:
    app = _Bare()
    watch_workers(app)
    async with app.run_test() as pilot:
        worker = app.run_worker(_broken, thread=True, exit_on_error=False, description="broken")
        with contextlib.suppress(WorkerFailed):
            await worker.wait()
        await pilot.pause()
        assert worker not in app.workers  # gone from Textual's own list
        with pytest.raises(AssertionError, match=r"broken.*ZeroDivisionError"):
            await settle(app, pilot)


async def test_settle_accepts_a_cancelled_worker_and_a_refusal() -> None:
    app = _Bare()
    async with app.run_test() as pilot:
        release = threading.Event()
        replaced = app.run_worker(release.wait, thread=True, exclusive=True, group="read")
        app.run_worker(lambda: None, thread=True, exclusive=True, group="read")
        app.run_worker(_refused, thread=True, exit_on_error=False)
        release.set()
        await settle(app, pilot)
        assert replaced.is_cancelled
        assert not any(worker.is_running for worker in app.workers)
