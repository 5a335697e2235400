"""Security (issue 5, items 20-22): passwords, the URL's password, files, read-only.

Everything runs on SQLite, PostgreSQL and MariaDB with real servers, real files and the
real console (pilot). Where a promise only has a meaning on some backends (a password in a
server URL, a SQLite file's mode, a database role), the test says so in its parametrisation
rather than skipping.
"""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import argon2
import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlalchemy.engine import URL
from textual.widgets import Input

from data.actor import Actor
from data.database import Database
from data.errors import ReadOnly, Unavailable
from data.schema import alembic_config, upgrade
from data.seed import seed_demo
from data.transfer import export_records, import_records
from tests.console_support import console, screen_text, settle, table, wait_until
from tests.reliability.support_security import (
    HOSTILE_FORMS,
    PASSWORD,
    PASSWORD_FORMS,
    TYPED_PASSWORDS,
    console_on_a_terminal,
    grant_reads,
    hostile_urls,
    leaked,
    password_forms,
    password_login,
    raise_with,
    raw_url,
    server_account,
    snapshot,
    toasts,
    url_with,
)
from tui.app import AccessGuardApp
from tui.cli import console_app, main, startup_notices
from tui.errorlog import log_error
from tui.screens.dialogs import AuditEntryDialog, PasswordDialog
from tui.screens.form import RecordForm
from tui.screens.records import RecordScreen
from tui.views import view_named

USERS_VIEW = view_named("users")

SIZE = (100, 30)
WIDE = (180, 30)
SERVERS = pytest.mark.parametrize("database_url", ["postgresql", "mysql"], indirect=True)
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
# What a refused write must say (case-insensitive): which kind of refusal, and the outcome.
READ_ONLY_WORDS = ("read-only", "not saved")


# Running the command line in this process


@dataclass(frozen=True)
class Ran:
    """One command line run: its arguments, exit status and output."""

    argv: tuple[str, ...]
    code: int
    out: str
    err: str


Cli = Callable[..., Ran]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    """``accessguard ARGS...`` in this process (no URL or debug flag from outside)."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("ACCESSGUARD_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*argv: str) -> Ran:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Ran(tuple(argv), code, captured.out, captured.err)

    return run


def everything_printed(runs: list[Ran]) -> str:
    """All output of ``runs`` (never their arguments, which hold the URL as typed)."""
    return "\n".join(f"{r.out}{r.err}" for r in runs)


def transcript(runs: list[Ran]) -> str:
    """Each run's output after its command line, for a readable failure message."""
    return "\n".join(f"$ {' '.join(r.argv)}\n{r.out}{r.err}" for r in runs)


# 20. Passwords


async def choose_password(app: AccessGuardApp, pilot: Any, password: str) -> None:
    """Fill in both masked inputs of the password dialog on top (Enter then sets it)."""
    dialog = app.screen
    assert isinstance(dialog, PasswordDialog)
    dialog.query_one("#password-new", Input).value = password
    again = dialog.query_one("#password-again", Input)
    again.value = password
    again.focus()
    await pilot.pause()


async def test_passwords_are_argon2id_hashed_off_the_ui_thread_and_shown_nowhere(
    db: Database,
    database_url: URL,
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every log record of the run, SQLAlchemy's statements included, is searched at the end.
    caplog.set_level(logging.DEBUG)
    # SQLAlchemy keeps its loggers at WARN unless told: this is an admin turning SQL logs on.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    hashing_threads: list[threading.Thread] = []
    real_hash = PasswordHasher.hash

    def recording_hash(self: PasswordHasher, password: str | bytes, **kwargs: Any) -> str:
        hashing_threads.append(threading.current_thread())
        return real_hash(self, password, **kwargs)

    monkeypatch.setattr(PasswordHasher, "hash", recording_hash)
    actor = Actor("alice", source="test")
    ana = db.users.create({"name": "Ana", "email": "ana@example.com"}, actor=actor)
    db.products.create(
        {"sku": "P-1", "name": "Kettle", "price": "9.50", "owner": ana.id}, actor=actor
    )
    first, second = "Pl41n-pw1", "Pl41n-pw2"

    screens: dict[str, str] = {}
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        # A stored user: edit, F3, the password twice (put in the masked inputs, then Enter).
        await pilot.press("e")
        await settle(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        await choose_password(app, pilot, first)
        screens["password dialog, filled in"] = screen_text(app)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, RecordForm)
        screens["user form after set"] = screen_text(app)
        # A new user whose password is set right after the create.
        await pilot.press("escape", "n")
        await settle(app, pilot)
        app.screen.query_one("#field-name", Input).value = "Dora"
        app.screen.query_one("#field-email", Input).value = "dora@example.com"
        await pilot.press("f3")
        await settle(app, pilot)
        await choose_password(app, pilot, second)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        screens["new user form"] = screen_text(app)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, RecordScreen)
        screens["users"] = screen_text(app)
        for key, name in (("2", "products"), ("3", "audit")):
            await pilot.press(key)
            await settle(app, pilot)
            screens[name] = screen_text(app)
        # Newest first: Dora's password, Dora's create, Ana's password.
        for index, moves in enumerate(((), ("j", "j"))):
            await pilot.press(*moves, "enter")
            await settle(app, pilot)
            assert isinstance(app.screen, AuditEntryDialog)
            screens[f"audit entry {index}"] = screen_text(app)
            await pilot.press("escape")
        await pilot.press("1", "question_mark")
        await settle(app, pilot)
        screens["help"] = screen_text(app)
        notifications = toasts(app)

    # Hashed by argon2id with the library's own current parameters, never on the UI thread.
    assert len(hashing_threads) == 2
    assert threading.main_thread() not in hashing_threads
    with db.engine.connect() as connection:
        hashes = list(
            connection.execute(
                text("SELECT password_hash FROM users WHERE password_hash IS NOT NULL ORDER BY id")
            ).scalars()
        )
        audit_rows = [
            repr(tuple(row)) for row in connection.execute(text("SELECT * FROM audit_entries"))
        ]
    assert len(hashes) == 2
    for stored in hashes:
        assert stored.startswith("$argon2id$")
        assert argon2.extract_parameters(stored) == argon2.profiles.get_default_parameters()
        assert not PasswordHasher().check_needs_rehash(stored)
    assert db.users.check_secret("dora@example.com", second)

    # The secrets, and every long piece of each hash (its salt and its digest).
    secrets = (first, second, "$argon2", *hashes)
    secrets += tuple(part for stored in hashes for part in stored.split("$") if len(part) >= 16)

    # The audit trail, whole rows.
    assert len(audit_rows) >= 4
    assert leaked("\n".join(audit_rows), secrets) == []
    # Exports, through the data core and through the command line (stdout and files).
    exported = []
    for fmt in ("csv", "json"):
        out = io.StringIO()
        export_records(db, "users", out, fmt=fmt)
        exported.append(out.getvalue())
    url = raw_url(database_url, password=database_url.password)
    runs = [cli("--db", url, "users", "list", "--format", fmt) for fmt in ("table", "json")]
    for name in ("users.csv", "users.json"):
        runs.append(cli("--db", url, "export", "users", "-o", str(tmp_path / name)))
        exported.append((tmp_path / name).read_text(encoding="utf-8"))
    assert all(run.code == 0 for run in runs), transcript(runs)
    assert "dora@example.com" in runs[0].out
    assert json.loads(exported[1])[0]["email"] == "ana@example.com"
    assert leaked("\n".join(exported), secrets) == []
    assert leaked(everything_printed(runs), secrets) == []
    # The console's screens (the password dialog masks what was typed) and toasts.
    assert "Dora" in screens["users"]
    assert "password" in screens["audit"]
    for name, shown in screens.items():
        assert leaked(shown, secrets) == [], name
    assert leaked("\n".join(notifications), secrets) == []
    # Logs: SQLAlchemy logged every statement, never its parameters.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "UPDATE users" in logged
    assert leaked(logged, secrets) == []


# 21. The database URL's password, and the SQLite file's permissions


# The shapes a password takes in a URL: URL-encoded, and typed as it is (issue 11, item 5).
PASSWORDS = pytest.mark.parametrize("password", [PASSWORD, *TYPED_PASSWORDS])


COMMAND_PATHS = (
    (),
    ("users",),
    ("users", "list"),
    ("users", "add"),
    ("users", "delete"),
    ("products",),
    ("products", "list"),
    ("products", "add"),
    ("products", "delete"),
    ("export",),
    ("import",),
    ("db",),
    ("db", "status"),
    ("db", "upgrade"),
    ("seed",),
)
PS_WARNING = "visible to other users"


@SERVERS
@PASSWORDS
def test_no_command_prints_the_url_password(
    database_url: URL,
    password: str,
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("name,email\nImported,imported@example.com\n", encoding="utf-8")
    forms = (*password_forms(password), *HOSTILE_FORMS)
    with password_login(database_url, password) as url:
        # From here on (the test's own CREATE USER ... IDENTIFIED BY is not the product's).
        caplog.set_level(logging.DEBUG)
        caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
        secret = url_with(url, password)
        unreachable = url_with(url.set(port=1), password)
        # libpq's URI style: the password as a query parameter.
        encoded = quote(password, safe="")
        in_query = f"{raw_url(url)}?password={encoded}"
        unreachable_in_query = f"{raw_url(url.set(port=1))}?password={encoded}"
        no_such_database = url_with(url.set(database="ag_no_such_db"), password)
        db = ("--db", secret)
        expected: list[tuple[int, tuple[str, ...]]] = [
            (0, (*db, "db", "upgrade")),
            (0, (*db, "db", "status")),
            (0, (*db, "seed", "--users", "3", "--products", "3")),
            (0, (*db, "users", "list")),
            (0, (*db, "users", "list", "--format", "csv")),
            (0, (*db, "users", "list", "--format", "json")),
            (0, (*db, "users", "add", "--name", "Zed", "--email", "zed@example.com")),
            (0, (*db, "products", "list")),
            (0, (*db, "products", "add", "--sku", "Z-1", "--name", "Zip", "--price", "1.00")),
            (0, (*db, "export", "users")),
            (0, (*db, "export", "products", "-o", str(tmp_path / "products.json"))),
            (0, (*db, "import", "users", str(rows), "--dry-run")),
            (0, (*db, "import", "users", str(rows))),
            (0, (*db, "users", "delete", "1", "--yes")),
            (0, (*db, "products", "delete", "1", "--yes")),
            (0, ("--db", in_query, "db", "status")),
            # Refusals, failures and usage errors.
            (2, (*db, "users", "delete", "2")),  # not interactive, no --yes
            (1, (*db, "users", "add", "--name", "Bad", "--email", "not-an-address")),
            (1, ("--read-only", *db, "users", "add", "--name", "R", "--email", "r@example.com")),
            (1, ("--db", unreachable, "users", "list")),
            (1, ("--db", unreachable, "db", "status")),
            (1, ("--db", no_such_database, "db", "status")),
            (1, ("--db", unreachable_in_query, "users", "list")),
            (2, ("users", "list", secret)),
            (2, (secret,)),
            (2, ("--db", secret.replace(f":{url.port}/", ":port/"), "users", "list")),
        ]
        if url.get_backend_name() == "mysql":
            wrong = url_with(url, "Wr0ng-" + password)
            expected.append((1, ("--db", wrong, "db", "status")))
        runs = [cli(*argv) for _code, argv in expected]
        helps = [cli(*path, "--help") for path in COMMAND_PATHS]
        # Secrets in the query and URLs that do not parse: refused or not, never shown.
        hostile = [
            cli("--db", hostile_url, *command)
            for hostile_url in hostile_urls(url)
            for command in (
                ("db", "status"),
                ("users", "list", "--format", "json"),
                ("users", "add", "--name", "Q", "--email", "q@example.com"),
                ("export", "users"),
                ("users", "list", hostile_url),
                ("users", "list", "--help"),
            )
        ]
        monkeypatch.setenv("ACCESSGUARD_DEBUG", "1")
        debug = [cli("--db", unreachable, "users", "list")]
        monkeypatch.setenv("DATABASE_URL", secret)
        from_env = [cli("db", "status"), cli("users", "list")]
        monkeypatch.setenv("DATABASE_URL", unreachable)
        from_env.append(cli("users", "list"))

    printed = everything_printed(runs + helps + hostile + debug + from_env)
    told = transcript(runs + hostile + debug + from_env)
    assert [run.code for run in runs] == [code for code, _argv in expected], told
    assert all(run.code == 0 for run in helps)
    assert [run.code for run in debug + from_env] == [1, 0, 0, 1], told
    assert leaked(printed, forms) == []
    assert "Traceback" not in printed.replace(everything_printed(debug), "")
    assert all(run.code in (0, 1, 2) for run in hostile), told
    # Warned of ps for every shape, once the command line has parsed.
    parsed = [
        run for run in hostile if "--help" not in run.argv and run.argv[1] not in run.argv[2:]
    ]
    assert all(PS_WARNING in run.err for run in parsed), told
    # The URL is still shown (masked), and the failures say what happened.
    by_argv = {run.argv: run for run in runs}
    assert ":***@" in by_argv[("--db", secret, "db", "status")].out
    assert ":***@" in by_argv[("--db", in_query, "db", "status")].out
    assert "Database unavailable" in by_argv[("--db", unreachable, "users", "list")].err
    # --db puts the password where `ps` shows it: said once, without it; DATABASE_URL is quiet.
    assert all(PS_WARNING in run.err for run in runs if "--db" in run.argv[:2])
    assert not any(PS_WARNING in run.err for run in from_env)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "SELECT" in logged
    assert leaked(logged, forms) == []


@SERVERS
@PASSWORDS
async def test_the_console_never_shows_the_url_password(
    database_url: URL,
    password: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    forms = (*password_forms(password), *HOSTILE_FORMS)
    with password_login(database_url, password) as url:
        setup = Database.connect(url)
        upgrade(setup.engine)
        setup.users.create({"name": "Ana", "email": "ana@example.com"}, actor=Actor("t"))
        setup.dispose()
        secret = url_with(url, password)
        shown: list[str] = []

        # As `accessguard --db URL` starts it. Wide, so the status line shows all of the URL.
        app = console_app(secret, read_only=False, demo=False, warnings=startup_notices(secret))
        async with app.run_test(size=WIDE) as pilot:
            shown.append(screen_text(app))  # "Opening ..." on the first frame
            await wait_until(pilot, lambda: app.is_open)
            await settle(app, pilot)
            for key in ("1", "2", "3", "question_mark"):
                await pilot.press(key)
                await settle(app, pilot)
                shown.append(screen_text(app))
                if key == "question_mark":
                    await pilot.press("escape")
            shown.extend(toasts(app))
        assert "Ana" in shown[1]
        assert ":***@" in shown[1]
        assert any(PS_WARNING in toast for toast in toasts(app))

        # A server that cannot be reached: the console exits with a message to print.
        # (The password in the query this time, libpq's URI style.)
        failing = console_app(
            f"{raw_url(url.set(port=1))}?password={quote(password, safe='')}",
            read_only=False,
            demo=False,
        )
        async with failing.run_test(size=WIDE) as pilot:
            shown.append(screen_text(failing))
            await wait_until(pilot, lambda: failing.open_failure is not None)
        shown.append(str(failing.open_failure))
        assert isinstance(failing.open_failure, Unavailable)

        # A crash: Textual prints a traceback with every frame's local variables.
        crashing = console_app(secret, read_only=False, demo=False)

        def explode(*_args: Any) -> None:
            raise RuntimeError("a bug, not a database failure")

        crashing.action_help = explode  # type: ignore[method-assign]

        async def crash_it() -> None:
            async with crashing.run_test(size=SIZE) as pilot:
                await wait_until(pilot, lambda: crashing.is_open)
                await settle(crashing, pilot)
                await pilot.press("question_mark")
                await settle(crashing, pilot)

        with pytest.raises(RuntimeError):
            await crash_it()
        if crashing.is_open:
            crashing.db.dispose()
        crash = capfd.readouterr().err
        assert "locals" in crash

        # The real console on a real terminal, its top line naming the database, with this
        # password (every secret query parameter and broken shape: the test below).
        on_terminal = [console_on_a_terminal(secret, opens=True)]
        assert "postgres" in on_terminal[0] or "ag_pw_" in on_terminal[0]
        assert ":***@" in on_terminal[0]

        # The error log, given errors that quote each URL.
        log = tmp_path / "errors.log"
        for quoted in (secret, *hostile_urls(url)):
            try:
                raise_with(quoted)
            except RuntimeError as error:
                log_error(error, path=log)
        logged_errors = log.read_text(encoding="utf-8")
        assert logged_errors.count("RuntimeError: could not use") == len(hostile_urls(url)) + 1
    assert leaked("\n".join(shown), forms) == []
    assert leaked(crash, forms) == []
    assert leaked("\n".join(on_terminal), forms) == []
    assert leaked(logged_errors, forms) == []
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert leaked(logged, PASSWORD_FORMS) == []


@SERVERS
def test_no_secret_query_parameter_or_broken_url_shows_on_a_real_terminal(
    database_url: URL,
) -> None:
    # Once per server, not per password: the shapes are the URL's, whatever the password.
    with password_login(database_url, PASSWORD) as url:
        setup = Database.connect(url)
        upgrade(setup.engine)
        setup.users.create({"name": "Ana", "email": "ana@example.com"}, actor=Actor("t"))
        setup.dispose()
        on_terminal = []
        for hostile_url in hostile_urls(url):
            # The login's own ?password= opens, and on PostgreSQL sslpassword too (libpq
            # needs it only for an encrypted key); the rest are refused by the driver or
            # by AccessGuard.
            opens = "?password=" in hostile_url or (
                url.get_backend_name() == "postgresql" and "sslpassword=" in hostile_url
            )
            on_terminal.append(console_on_a_terminal(hostile_url, opens=opens))
    assert len(on_terminal) == len(hostile_urls(url))
    assert leaked("\n".join(on_terminal), (*password_forms(PASSWORD), *HOSTILE_FORMS)) == []


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """The process's umask set to ``mask`` while the block runs."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode_of(path: Path | str) -> int:
    """The permission bits of ``path``."""
    return stat.S_IMODE(os.stat(path).st_mode)


@SQLITE
async def test_new_sqlite_files_and_their_wal_and_shm_are_private(
    database_url: URL, cli: Cli, tmp_path: Path
) -> None:
    # With umask 0 every file would be 0666 unless AccessGuard chose otherwise.
    with umask(0):
        path = Path(str(database_url.database))
        db = Database.connect(database_url)
        upgrade(db.engine)
        db.users.create({"name": "Ana", "email": "ana@example.com"}, actor=Actor("t"))
        # The pool keeps the connection open, so the WAL is live with the write in it.
        assert os.path.getsize(f"{path}-wal") > 0
        modes = {suffix: mode_of(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")}
        db.dispose()

        made_by_cli = tmp_path / "cli.db"
        ran = cli("--db", f"sqlite:///{made_by_cli}", "seed", "--users", "2", "--products", "2")
        assert ran.code == 0, ran.err
        modes["cli"] = mode_of(made_by_cli)

        made_by_console = tmp_path / "console.db"
        app = console_app(f"sqlite:///{made_by_console}", read_only=False, demo=True)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.is_open)
            await settle(app, pilot)
            for suffix in ("", "-wal", "-shm"):
                modes[f"console{suffix}"] = mode_of(f"{made_by_console}{suffix}")
        app.db.dispose()
    assert modes == dict.fromkeys(modes, 0o600), {k: oct(v) for k, v in modes.items()}


@SQLITE
async def test_a_database_file_others_can_read_gets_a_warning_at_start(
    database_url: URL, cli: Cli
) -> None:
    path = Path(str(database_url.database))
    db = Database.connect(database_url)
    upgrade(db.engine)
    db.dispose()
    url = f"sqlite:///{path}"
    os.chmod(path, 0o644)
    warned = cli("--db", url, "users", "list")
    # A warning, not a refusal: the command still works.
    assert warned.code == 0, warned.err
    assert "readable by every user" in warned.err
    assert f"chmod 600 {path}" in warned.err
    app = console_app(url, read_only=False, demo=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.is_open)
        await settle(app, pilot)
        assert isinstance(app.screen, RecordScreen)
        notes = toasts(app)
    app.db.dispose()
    assert any(f"chmod 600 {path}" in note for note in notes), notes

    os.chmod(path, 0o600)
    quiet = cli("--db", url, "users", "list")
    assert quiet.code == 0
    assert "chmod" not in quiet.err


# 22. Read-only


@dataclass(frozen=True)
class ReadOnlyWay:
    """One way of being connected read-only: the ``--read-only`` flag or a SELECT-only login."""

    how: str
    db: Database
    cli_args: tuple[str, ...]
    # PostgreSQL: the role to let read the tables made after it (None: nothing to grant).
    role: str | None = None


@contextmanager
def read_only_ways(database_url: URL) -> Iterator[list[ReadOnlyWay]]:
    """Every read-only connection to the database: the flag (all backends) and, on servers,
    a login granted SELECT only (created for the test, dropped afterwards). On PostgreSQL
    the login may read the tables there are now: `grant_reads` after making more."""
    with ExitStack() as stack:
        flagged = Database.connect(database_url, read_only=True)
        stack.callback(flagged.dispose)
        ways = [ReadOnlyWay("flag", flagged, ("--read-only", "--db", raw_url(database_url)))]
        if database_url.get_backend_name() != "sqlite":
            role_url = stack.enter_context(server_account(database_url, read_only=True))
            by_role = Database.connect(role_url)
            stack.callback(by_role.dispose)
            role = role_url.username if database_url.get_backend_name() == "postgresql" else None
            ways.append(ReadOnlyWay("role", by_role, ("--db", raw_url(role_url)), role))
        yield ways


def assert_read_only_refusal(error: BaseException, where: str) -> None:
    """A `ReadOnly` whose message says read-only and not saved."""
    assert isinstance(error, ReadOnly), (where, repr(error))
    message = error.message.lower()
    assert all(word in message for word in READ_ONLY_WORDS), (where, error.message)


def refused(what: str, write: Callable[[], object]) -> None:
    """``write`` must be refused as read-only."""
    try:
        write()
    except Exception as error:  # which one it is, is what is checked
        assert_read_only_refusal(error, what)
    else:
        raise AssertionError(f"{what}: was not refused")


PREVIOUS_REVISION = "0003_exact_keys"


def upgrade_to(db: Database, revision: str) -> None:
    """Build the schema up to ``revision``: a database that `upgrade` has work left on."""
    from alembic import command

    with db.engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def test_every_write_path_is_refused_by_the_database_when_read_only(
    database_url: URL, cli: Cli, tmp_path: Path, actor: Actor
) -> None:
    admin = Database.connect(database_url)
    rows = tmp_path / "rows.csv"
    rows.write_text(
        "name,email\nNew,new@example.com\nAna Again,ana@example.com\n", encoding="utf-8"
    )
    try:
        upgrade_to(admin, PREVIOUS_REVISION)
        with read_only_ways(database_url) as ways:
            # A schema behind head: upgrading it is a write.
            before = snapshot(admin.engine)
            for way in ways:
                refused(f"{way.how}: upgrade", partial(upgrade, way.db.engine))
                check_cli_refusal(cli(*way.cli_args, "db", "upgrade"), way.how)
            assert snapshot(admin.engine) == before

            # Empty at head: seeding is a write.
            upgrade(admin.engine)
            for way in ways:
                if way.role is not None:
                    grant_reads(database_url, way.role)
            before = snapshot(admin.engine)
            for way in ways:
                refused(
                    f"{way.how}: seed", partial(seed_demo, way.db, users=2, products=2, actor=actor)
                )
                check_cli_refusal(cli(*way.cli_args, "seed", "--users", "2"), way.how)
            assert snapshot(admin.engine) == before

            # Records, and a change of this actor's that undo would revert.
            ana = admin.users.create({"name": "Ana", "email": "ana@example.com"}, actor=actor)
            bob = admin.users.create({"name": "Bob", "email": "bob@example.com"}, actor=actor)
            ana = admin.users.update(ana.id, {"name": "Ana B"}, expected_version=1, actor=actor)
            kettle = admin.products.create(
                {"sku": "K-1", "name": "Kettle", "price": "9.50", "owner": ana.id}, actor=actor
            )
            before = snapshot(admin.engine)
            for way in ways:
                ro, how = way.db, way.how
                # Reading works: the console and the CLI stay usable.
                assert ro.users.count() == 2
                dry = import_records(
                    ro, "users", io.StringIO(rows.read_text()), fmt="csv", actor=actor, dry_run=True
                )
                assert dry.count("add") == 1
                writes = every_write(ro, ana=ana, bob=bob, kettle=kettle, rows=rows, actor=actor)
                for what, write in writes.items():
                    refused(f"{how}: {what}", write)
                for argv in (
                    ("users", "add", "--name", "X", "--email", "x@example.com"),
                    ("users", "delete", str(bob.id), "--yes"),
                    ("products", "add", "--sku", "X-1", "--name", "X", "--price", "1"),
                    ("products", "delete", str(kettle.id), "--yes"),
                    ("import", "users", str(rows)),
                ):
                    check_cli_refusal(cli(*way.cli_args, *argv), how)
            assert snapshot(admin.engine) == before
    finally:
        admin.dispose()


def every_write(
    ro: Database,
    *,
    ana: Any,
    bob: Any,
    kettle: Any,
    rows: Path,
    actor: Actor,
) -> dict[str, Callable[[], object]]:
    """Every write the data core offers on populated tables, by name, against ``ro``."""
    users, products = ro.users, ro.products
    return {
        "create": lambda: users.create({"name": "X", "email": "x@example.com"}, actor=actor),
        "update": lambda: users.update(
            ana.id, {"name": "X"}, expected_version=ana.version, actor=actor
        ),
        "delete": lambda: users.delete(bob.id, expected_version=bob.version, actor=actor),
        "product create": lambda: products.create(
            {"sku": "X-1", "name": "X", "price": "1"}, actor=actor
        ),
        "product update": lambda: products.update(
            kettle.id, {"stock": 5}, expected_version=kettle.version, actor=actor
        ),
        "product delete": lambda: products.delete(
            kettle.id, expected_version=kettle.version, actor=actor
        ),
        "bulk delete": lambda: users.delete_many(
            {ana.id: ana.version, bob.id: bob.version}, actor=actor
        ),
        "set password": lambda: ro.users.set_secret(
            ana.id, "Pl41n-pw1", expected_version=ana.version, actor=actor
        ),
        "import": lambda: import_records(
            ro, "users", io.StringIO(rows.read_text()), fmt="csv", actor=actor, dry_run=False
        ),
        "undo": lambda: ro.audit.undo_last(actor=actor),
        "restore": lambda: ro.audit.restore(
            next(e.id for e in ro.audit.for_record("user", ana.id) if e.action == "update"),
            actor=actor,
            expected_version=ana.version,
        ),
    }


def check_cli_refusal(ran: Ran, how: str) -> None:
    """The command was refused (exit 1) as read-only, in one clear line, no traceback."""
    assert ran.code == 1, (how, ran)
    assert "accessguard: Read-only:" in ran.err, (how, ran)
    assert all(word in ran.err.lower() for word in READ_ONLY_WORDS), (how, ran)
    assert "Traceback" not in ran.err


async def test_a_refused_save_leaves_the_console_usable(database_url: URL, actor: Actor) -> None:
    admin = Database.connect(database_url)
    upgrade(admin.engine)
    for n in range(3):
        admin.users.create({"name": f"User {n}", "email": f"u{n}@example.com"}, actor=actor)
    admin.products.create({"sku": "K-1", "name": "Kettle", "price": "9.50"}, actor=actor)
    before = snapshot(admin.engine)
    try:
        with read_only_ways(database_url) as ways:
            for way in ways:
                app = console(way.db, read_only=way.how == "flag")
                async with app.run_test(size=SIZE) as pilot:
                    await settle(app, pilot)
                    if way.how == "flag":
                        # The write keys are gone; force a form through as a bug might.
                        app.push_screen(RecordForm(USERS_VIEW, table(app).cursor_record))
                    else:
                        await pilot.press("e")
                    await settle(app, pilot)
                    app.screen.query_one("#field-name", Input).value = "Changed"
                    await pilot.press("ctrl+s")
                    await settle(app, pilot)
                    # The form stays open with the edit; the toast says why.
                    assert isinstance(app.screen, RecordForm), way.how
                    assert app.screen.query_one("#field-name", Input).value == "Changed"
                    notes = [n for n in app._notifications if n.title == "Read-only"]
                    assert notes, (way.how, toasts(app))
                    assert all(w in notes[0].message.lower() for w in READ_ONLY_WORDS)
                    # Keep browsing: leave the form, switch screens, move.
                    await pilot.press("escape")
                    await settle(app, pilot)
                    await pilot.press("y")
                    await settle(app, pilot)
                    assert isinstance(app.screen, RecordScreen), way.how
                    await pilot.press("2")
                    await settle(app, pilot)
                    assert table(app).total == 1
                    await pilot.press("3", "j")
                    await settle(app, pilot)
                    assert table(app).total == 4
                    assert app.is_running
    finally:
        admin.dispose()
    assert snapshot(Database.connect(database_url).engine) == before
