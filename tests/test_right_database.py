"""The right database or a clear no (issue 15): a missing SQLite file, a missing driver, no
terminal, an unreachable server, and packages that are not AccessGuard's own.

What a command says and its exit status are the question for most: they run the command
line in this process (`in_process`, on pipes, stdin empty). What is a process's own runs
as one: the console (which may end its process), and packages found as a process starts
(``python -m tui`` with a ``PYTHONPATH``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli_support import Ran, in_process
from tests.console_support import HEADLESS_DRIVER, child_console_environment

REPO = Path(__file__).resolve().parent.parent


def _accessguard(
    *argv: str, cwd: Path, env: dict[str, str] | None = None, code: str | None = None
) -> Ran:
    """Run ``python -m tui ARGV...`` (or ``code``) as a child, without a terminal."""
    environment = child_console_environment() if env is None else env
    command = [sys.executable, "-c", code, *argv] if code else [sys.executable, "-m", "tui", *argv]
    return Ran.of(
        subprocess.run(
            command,
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
        )
    )


# What `child_console_environment` gives a child: no URL or debug output inherited, and a
# Textual driver chosen (so no terminal of its own is needed).
AS_A_CHILD = {"DATABASE_URL": None, "ACCESSGUARD_DEBUG": None, "TEXTUAL_DRIVER": HEADLESS_DRIVER}
NO_DRIVER_OR_TERMINAL = {**AS_A_CHILD, "TEXTUAL_DRIVER": None}


def _here(*argv: str, cwd: Path) -> Ran:
    """The command line in this process, in ``cwd``, with the environment a child gets."""
    return in_process(*argv, cwd=cwd, env=AS_A_CHILD)


# A SQLite file that does not exist


@pytest.mark.parametrize(
    ("argv", "run"),
    [
        (("users", "list"), _here),
        (("products", "add", "--sku", "A", "--name", "A", "--price", "1"), _here),
        (("export", "users"), _here),
        (("db", "status"), _here),
        ((), _accessguard),  # the console: a process of its own
    ],
    ids=["users-list", "products-add", "export", "db-status", "console"],
)
def test_a_missing_sqlite_file_is_refused_and_not_created(
    tmp_path: Path, argv: tuple[str, ...], run: Callable[..., Ran]
) -> None:
    typo = tmp_path / "acessguard.db"
    ran = run("--db", f"sqlite:///{typo}", *argv, cwd=tmp_path)
    assert ran.status == 1, ran.err
    assert f"There is no database file {typo}." in ran.err
    assert "accessguard db upgrade" in ran.err
    assert "accessguard --demo" in ran.err
    assert ran.stdout == b""
    assert list(tmp_path.iterdir()) == []


def test_the_default_file_is_refused_too_until_made(tmp_path: Path) -> None:
    ran = _here("users", "list", cwd=tmp_path)
    assert ran.status == 1
    assert f"There is no database file {tmp_path / 'accessguard.db'}." in ran.err
    assert not (tmp_path / "accessguard.db").exists()


@pytest.mark.parametrize(
    "argv", [("db", "upgrade"), ("seed", "--users", "2", "--products", "1")], ids=str
)
def test_db_upgrade_and_seed_create_the_file(tmp_path: Path, argv: tuple[str, ...]) -> None:
    new = tmp_path / "new.db"
    made = _here("--db", f"sqlite:///{new}", *argv, cwd=tmp_path)
    assert made.status == 0, made.err
    assert oct(new.stat().st_mode & 0o777) == oct(0o600)
    listed = _here("--db", f"sqlite:///{new}", "users", "list", cwd=tmp_path)
    assert listed.status == 0, listed.err


# The console headless until its data is shown, then quit: what --demo made is the question.
# In a child: a console ending with work still running ends its process (`_end_now`).
DEMO_CHILD = """\
import sys
import tui.cli.console
from tests.console_support import settle
from tui.app import AccessGuardApp
from tui.cli import main

run_in_a_terminal = AccessGuardApp.run


def run_until_loaded(self, *_args, **_kwargs):
    async def until_loaded(pilot):
        await settle(self, pilot)
        self.exit()

    run_in_a_terminal(self, headless=True, auto_pilot=until_loaded)


AccessGuardApp.run = run_until_loaded
tui.cli.console.has_terminal = lambda: True
raise SystemExit(main(sys.argv[1:]))
"""


def test_demo_creates_the_file(tmp_path: Path) -> None:
    new = tmp_path / "demo.db"
    ran = _accessguard("--db", f"sqlite:///{new}", "--demo", cwd=tmp_path, code=DEMO_CHILD)
    assert ran.status == 0, ran.err
    listed = _here("--db", f"sqlite:///{new}", "users", "list", cwd=tmp_path)
    assert listed.status == 0, listed.err
    assert "100 users" in listed.err  # the count goes to stderr, the rows to stdout


# A driver that is not installed


@pytest.mark.parametrize(
    ("module", "url", "said"),
    [
        (
            "psycopg",
            "postgresql://u@127.0.0.1/x",
            "PostgreSQL needs the driver: pip install 'accessguard[postgres]'",
        ),
        (
            "pymysql",
            "mysql://u@127.0.0.1/x",
            "MySQL/MariaDB needs the driver: pip install 'accessguard[mysql]'",
        ),
    ],
    ids=["postgres", "mysql"],
)
def test_a_missing_driver_names_the_extra(
    tmp_path: Path, module: str, url: str, said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    ran = _here("--db", url, "users", "list", cwd=tmp_path)
    assert ran.status == 1
    assert said in ran.err
    assert "unexpected error" not in ran.err
    assert "ModuleNotFoundError" not in ran.err


# No terminal


def test_the_console_without_a_terminal_exits_2(tmp_path: Path) -> None:
    (tmp_path / "a.db").touch(mode=0o600)
    a_db = f"sqlite:///{tmp_path / 'a.db'}"
    ran = in_process("--db", a_db, cwd=tmp_path, env=NO_DRIVER_OR_TERMINAL)
    assert ran.status == 2
    assert "the console needs a terminal" in ran.err
    assert ran.stdout == b""  # nothing drawn into the pipe


def test_commands_need_no_terminal(tmp_path: Path) -> None:
    (tmp_path / "a.db").touch(mode=0o600)
    a_db = f"sqlite:///{tmp_path / 'a.db'}"
    ran = in_process("--db", a_db, "users", "list", cwd=tmp_path, env=NO_DRIVER_OR_TERMINAL)
    assert ran.status == 0, ran.err


# A server that cannot be reached


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@nohost.invalid/x?connect_timeout=5",
        "mysql://u@nohost.invalid/x?connect_timeout=5",
        "postgresql://u@127.0.0.1:1/x",
    ],
    ids=["postgres-no-such-host", "mysql-no-such-host", "refused"],
)
def test_an_unreachable_server_says_so(url: str, tmp_path: Path) -> None:
    ran = _here("--db", url, "users", "list", cwd=tmp_path)
    assert ran.status == 1
    said = ran.err
    assert "Cannot reach the database server" in said
    assert "Not saved" not in said


# Packages that are not AccessGuard's own


def _stranger(where: Path, name: str) -> Path:
    """A package called ``name`` in ``where``, as a PyPI distribution of that name puts it."""
    package = where / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('print "a Python 2 package"\n')
    return package


def test_a_package_that_shadows_ours_is_named(tmp_path: Path) -> None:
    stranger = _stranger(tmp_path / "elsewhere", "data")
    env = child_console_environment()
    env["PYTHONPATH"] = os.pathsep.join([str(stranger.parent), env["PYTHONPATH"]])
    ran = _accessguard("--help", cwd=tmp_path, env=env)
    assert ran.status == 1
    assert ran.err.startswith(f"accessguard: the package 'data' at {stranger} is not ")
    assert "pipx install accessguard" in ran.err
    assert "uv tool install accessguard" in ran.err
    assert len(ran.err.splitlines()) == 1


def test_a_package_written_over_ours_is_named(tmp_path: Path) -> None:
    # A distribution called "models" installed beside AccessGuard writes over its files.
    site = tmp_path / "site"
    for ours in ("tui", "data", "models"):
        shutil.copytree(REPO / ours, site / ours, ignore=shutil.ignore_patterns("__pycache__"))
    (site / "models" / "__init__.py").write_text('print "a Python 2 package"\n')
    env = child_console_environment()
    env["PYTHONPATH"] = str(site)
    ran = _accessguard("users", "list", cwd=tmp_path, env=env)
    assert ran.status == 1
    assert ran.err.startswith(f"accessguard: the package 'models' at {site / 'models'} is ")
    assert "SyntaxError" not in ran.err


def test_our_own_packages_pass(tmp_path: Path) -> None:
    ran = _accessguard("--version", cwd=tmp_path)
    assert ran.status == 0, ran.err
    assert ran.out.startswith("accessguard ")
