"""Fitting the admin's terminal and habits: config file, themes, keymaps, copying, --web."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import tui.cli.console
from data.database import Database
from tests.console_support import (
    CONSOLE_ACTOR,
    current,
    demo_database,
    insert_raw_user,
    settle,
    table,
)
from tui.app import AccessGuardApp, ConsoleOptions, binding_ids, console_bindings, theme_names
from tui.cli import main
from tui.cli.console import web_server
from tui.cli.database import configured
from tui.cli.output import EXIT_OK, EXIT_USAGE
from tui.cli.parsing import WEB_PORT, build_parser, console_start
from tui.paths import config_path, state_path
from tui.screens.form import RecordForm
from tui.settings import ConfigError, Settings, load_settings

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def small_db(tmp_path: Path) -> Iterator[Database]:
    db = demo_database(tmp_path / "habits.db", users=5, products=3)
    yield db
    db.dispose()


def write_config(text: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# The config file


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ('theme = "ansi-dark"\npage_size = = 3\n', "line 2, column 13", "not valid TOML"),
        ('them = "x"\n', "line 1 (them)", "unknown key 'them'"),
        ('page_size = "200"\n', "line 1 (page_size)", "page_size must be a whole number"),
        ("page_size = 5\n", "line 1 (page_size)", "page_size must be 10 to 500, not 5"),
        ('[keys]\n"records.new" = 3\n', "line 2 (keys.records.new)", "must be a string"),
        ('database_url = "sqlite:///a.db"\ndatabase_url_env = "X"\n', "line 2", "not both"),
        ('database_url_env = "sqlite:///a.db"\n', "line 1", "the NAME of an environment"),
    ],
)
def test_a_broken_config_file_names_the_file_the_place_and_the_problem(
    text: str, where: str, problem: str
) -> None:
    path = write_config(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(f"config file {path}, {where}"), message
    assert problem in message


def test_a_good_config_file_and_the_url_order(monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(
        'database_url_env = "SHOP_DB"\ntheme = "ansi-dark"\npage_size = 50\n'
        '[keys]\n"records.new" = "a"\n'
    )
    settings = load_settings(path)
    assert settings.theme == "ansi-dark"
    assert settings.page_size == 50
    assert dict(settings.keys) == {"records.new": "a"}
    assert settings.url({"SHOP_DB": "sqlite:///shop.db"}) == "sqlite:///shop.db"
    with pytest.raises(ConfigError, match="SHOP_DB is not set"):
        settings.url({})
    # --db > DATABASE_URL > the config file > the local file.
    monkeypatch.setenv("SHOP_DB", "sqlite:///shop.db")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert configured(None, settings) == "sqlite:///shop.db"
    assert configured("sqlite:///cli.db", settings) == "sqlite:///cli.db"
    monkeypatch.setenv("DATABASE_URL", "sqlite:///env.db")
    assert configured(None, settings) == "sqlite:///env.db"
    assert configured(None, Settings()) == "sqlite:///env.db"
    monkeypatch.delenv("DATABASE_URL")
    assert configured(None, Settings()) == "sqlite:///./accessguard.db"


def test_config_path_says_where_and_whether_it_exists(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "path"]) == EXIT_OK
    assert capsys.readouterr().out == f"{config_path()}\n(not found: built-in defaults in use)\n"
    write_config('theme = "ansi-dark"\n')
    assert main(["config", "path"]) == EXIT_OK
    assert "(exists, valid)" in capsys.readouterr().out


def test_the_config_file_url_is_used_by_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    demo_database(tmp_path / "shop.db", users=3, products=0).dispose()
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SHOP_DB", f"sqlite:///{tmp_path / 'shop.db'}")
    write_config('database_url_env = "SHOP_DB"\n')
    assert main(["users", "list", "--format", "json"]) == EXIT_OK
    assert len(json.loads(capsys.readouterr().out)) == 3


@pytest.mark.parametrize(
    ("text", "argv", "problem"),
    [
        ('page_size = "x"\n', ["users", "list"], "page_size must be a whole number"),
        ("theme = [\n", [], "not valid TOML"),
        ('[keys]\n"records.nope" = "a"\n', [], "unknown binding id 'records.nope'"),
        ('theme = "neon"\n', ["config", "path"], "unknown theme 'neon'"),
    ],
)
def test_a_broken_config_file_stops_the_cli_and_the_console_with_exit_2(
    text: str,
    argv: list[str],
    problem: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def must_not_run(*_args: object, **_kwargs: object) -> int:
        raise AssertionError("the console started")

    monkeypatch.setattr(tui.cli.console, "run_console", must_not_run)
    path = write_config(text)
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"accessguard: config file {path}, line ")
    assert problem in err


def test_an_unknown_theme_flag_is_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--theme", "neon"]) == EXIT_USAGE
    assert "unknown theme 'neon'" in capsys.readouterr().err
    assert main(["--no-mouse", "users", "list"]) == EXIT_USAGE
    assert "--no-mouse is for the console" in capsys.readouterr().err


# The console's start, read without every command's grammar


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--db", "sqlite:///x.db"],
        ["--db=postgresql://admin:s3cret@db/shop", "--read-only", "--theme=ansi-dark"],
        ["--demo", "--no-mouse"],
        ["--web", "--port", "8080", "--read-only"],
        ["--db", "users"],  # a URL that reads like a command is still the URL
    ],
)
def test_a_console_start_reads_as_the_whole_parser_reads_it(argv: list[str]) -> None:
    start = console_start(argv)
    assert start is not None
    assert vars(start) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [
        ["users", "list"],
        ["--db", "sqlite:///x.db", "users", "list"],
        ["--read-only", "db", "status"],
        ["-h"],
        ["--help"],
        ["--version"],
        ["--", "users"],
        ["--port", "abc"],
        ["--db"],
        ["--bogus"],
        ["--dem"],  # no abbreviations, here as in the whole parser
    ],
)
def test_anything_but_a_console_start_is_left_to_the_whole_parser(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert console_start(argv) is None
    assert capsys.readouterr() == ("", "")  # silent: the whole parser says what is wrong


# Themes


async def test_a_theme_chosen_in_the_console_is_remembered(small_db: Database) -> None:
    options = ConsoleOptions.choose(Settings(), theme=None)
    assert options.theme is None
    app = AccessGuardApp(small_db, actor=CONSOLE_ACTOR, options=options)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert not state_path().exists()  # starting is not choosing
        app.theme = "ansi-dark"  # what the palette's "Change theme" does
        await pilot.pause()
    assert ConsoleOptions.choose(Settings(), theme=None).theme == "ansi-dark"
    # --theme wins for a run; the config file's theme, once edited, wins over the old choice.
    assert ConsoleOptions.choose(Settings(), theme="nord").theme == "nord"
    edited = Settings(path=config_path(), theme="gruvbox")
    assert ConsoleOptions.choose(edited, theme=None).theme == "gruvbox"
    assert "ansi-dark" in theme_names()

    app = AccessGuardApp(
        small_db, actor=CONSOLE_ACTOR, options=ConsoleOptions.choose(Settings(), theme=None)
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.theme == "ansi-dark"


# Keys


async def test_a_keymap_from_the_config_file_rebinds_a_key(small_db: Database) -> None:
    options = ConsoleOptions(keymap={"records.new": "a"})
    app = AccessGuardApp(small_db, actor=CONSOLE_ACTOR, options=options)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        assert not isinstance(app.screen, RecordForm)
        await pilot.press("a")
        await settle(app, pilot)
        assert isinstance(app.screen, RecordForm)


def _readme_keys() -> set[str]:
    """Every `key` in the first column of the README's keys table."""
    keys: set[str] = set()
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            keys.update(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return keys


# How the README writes Textual's key names.
_README_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "escape": "Esc",
    "enter": "Enter",
    "pagedown": "PgDn",
    "pageup": "PgUp",
    "home": "Home",
    "end": "End",
    "down": "↓",
    "up": "↑",
    "left": "←",
    "right": "→",
    "f2": "F2",
    "f3": "F3",
}


def test_every_described_key_is_in_the_readme_keys_table() -> None:
    documented = _readme_keys()
    missing: list[str] = []
    for binding in console_bindings():
        if not binding.description:
            continue
        for key in binding.key.split(","):
            shown = _README_NAMES.get(key, key)
            if shown not in documented:
                missing.append(f"{binding.id}: {shown}")
    assert binding_ids() >= {"screen.copy_cell", "screen.copy_record", "records.new"}
    assert not missing, missing


# Copying


async def test_c_copies_the_cell_and_shift_c_the_record_without_the_hash(
    small_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    copied: list[str] = []
    app = AccessGuardApp(small_db, actor=CONSOLE_ACTOR)
    monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        user = current(app)
        await pilot.press("l", "l", "c")  # the email column
        await settle(app, pilot)
        await pilot.press("C")
        await settle(app, pilot)
        toasts = [str(n.title) + ": " + str(n.message) for n in app._notifications]
    assert copied[0] == user.email
    record = json.loads(copied[1])
    assert record["email"] == user.email
    assert record["id"] == user.id
    assert not any("password" in key and key != "has_password" for key in record)
    assert f"Copied email: {user.email}" in toasts


async def test_copied_escapes_cannot_leave_the_osc_52_sequence(small_db: Database) -> None:
    payload = "evil\x07\x1b]52;c;AAAA\x07\x1b[2J\x9b"
    insert_raw_user(small_db, 900, payload, "evil@example.com")
    app = AccessGuardApp(small_db, actor=CONSOLE_ACTOR)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        written: list[str] = []
        assert app._driver is not None
        app._driver.write = written.append  # type: ignore[method-assign, assignment]
        await pilot.press("G", "l", "c")
        await settle(app, pilot)
        assert table(app).columns[1].title.lower() == "name"
        toasts = [str(n.message) for n in app._notifications]
    sequences = [text for text in written if text.startswith("\x1b]52;")]
    assert len(sequences) == 1
    assert re.fullmatch(r"\x1b\]52;c;[A-Za-z0-9+/=]*\x07", sequences[0])
    assert not any("\x1b" in toast or "\x07" in toast for toast in toasts)


# The browser


def _web_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["--web", *argv])


def test_web_without_the_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "textual_serve", None)
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)
    assert main(["--web"]) == EXIT_USAGE
    assert "pip install 'accessguard[web]'" in capsys.readouterr().err


def test_web_serves_this_console_on_localhost_without_the_url_in_ps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "unset")
    url = "postgresql://admin:s3cret@db/shop"
    server = web_server(_web_args("--read-only", "--theme", "ansi-dark"), url)
    assert server.host == "127.0.0.1"
    assert server.port == WEB_PORT
    assert server.command == f"{sys.executable} -m tui --read-only --theme ansi-dark"
    import os

    assert os.environ["DATABASE_URL"] == url


def test_console_flags_reach_the_console(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def fake_run_console(raw_url: str | None, **kwargs: object) -> int:
        seen.update(kwargs, raw_url=raw_url)
        return 0

    monkeypatch.setattr(tui.cli.console, "run_console", fake_run_console)
    write_config('page_size = 40\n[keys]\n"app.quit" = "ctrl+q"\n')
    assert main(["--db", "sqlite:///x.db", "--no-mouse", "--theme", "ansi-light"]) == 0
    options = seen["options"]
    assert isinstance(options, ConsoleOptions)
    assert seen["mouse"] is False
    assert seen["raw_url"] == "sqlite:///x.db"
    assert (options.theme, options.page_size) == ("ansi-light", 40)
    assert dict(options.keymap) == {"app.quit": "ctrl+q"}
