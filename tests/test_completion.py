"""``accessguard completion bash|zsh|fish``: scripts made from the parser, tried in the shells
that are installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tui.cli import main
from tui.cli.completion import SHELLS, places, script
from tui.cli.parsing import build_parser

# Completes the words of $1 (a trailing space: a new, empty word) as bash would on Tab.
BASH_TAB = """\
source "$2"
read -ra COMP_WORDS <<< "$1"
[[ "$1" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_accessguard
echo "${COMPREPLY[*]}"
"""


def needs_shell(shell: str) -> pytest.MarkDecorator:
    """Skip, saying how to get it, where ``shell`` is not installed (CI installs them)."""
    missing = shutil.which(shell) is None
    return pytest.mark.skipif(missing, reason=f"{shell} is not installed (apt-get install {shell})")


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bash script, written to a file."""
    path = tmp_path_factory.mktemp("completion") / "accessguard.bash"
    path.write_text(script("bash", build_parser()))
    return path


def _tab(line: str, bash_script: Path) -> list[str]:
    ran = subprocess.run(
        ["bash", "-c", BASH_TAB, "_", line, str(bash_script)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert ran.stderr == ""
    return ran.stdout.split()


@needs_shell("bash")
@pytest.mark.parametrize(
    ("line", "offered"),
    [
        ("accessguard us", ["users"]),
        ("accessguard users l", ["list"]),
        ("accessguard db ", ["status", "upgrade", "-h", "--help", "--read-only", "--db"]),
        ("accessguard users list --f", ["--format"]),
        ("accessguard users list --format ", ["table", "csv", "json"]),
        ("accessguard products list --sort pr", ["price"]),
        # The value of an option is not taken for a command.
        ("accessguard --db users u", ["users"]),
        ("accessguard export u", ["users"]),
        ("accessguard completion ", ["bash", "zsh", "fish", "-h", "--help", "--read-only", "--db"]),
        # A free value: nothing offered, so bash falls back to file names (-o default).
        ("accessguard export users -o ", []),
    ],
)
def test_bash_completes_commands_options_and_choices(
    line: str, offered: list[str], bash_script: Path
) -> None:
    assert _tab(line, bash_script) == offered


@pytest.mark.parametrize("shell", SHELLS)
def test_every_command_and_option_is_in_each_script(shell: str) -> None:
    text = script(shell, build_parser())
    for place in places(build_parser()):
        for word in [*place.commands, *place.choices, *place.flags, *place.valued]:
            bare = word.lstrip("-") if shell == "fish" else word
            assert bare in text, (shell, place.path, word)


@pytest.mark.parametrize(("shell", "check"), [("bash", "-n"), ("zsh", "-n"), ("fish", "-n")])
def test_each_script_is_valid_in_its_shell(shell: str, check: str, tmp_path: Path) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (apt-get install {shell})")
    path = tmp_path / f"accessguard.{shell}"
    path.write_text(script(shell, build_parser()))
    ran = subprocess.run(
        [shell, check, str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    assert ran.returncode == 0, ran.stderr


def test_the_command_prints_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    printed = capsys.readouterr().out
    assert printed == script("bash", build_parser())
    assert printed.endswith("complete -o default -F _accessguard accessguard\n")


def test_an_unknown_shell_is_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "tcsh"]) == 2
    assert "invalid choice: 'tcsh'" in capsys.readouterr().err


# Completes the words of $1 (split at |; a trailing |: a new, empty word) with the zsh
# script's function, compadd and _files standing in for zsh's completion system.
ZSH_TAB = """\
compdef() { :; }
compadd() { shift; print -r -- "$@"; }
_files() { print FILES; }
source "$2"
words=("${(@s:|:)1}")
CURRENT=${#words}
_accessguard
"""


@needs_shell("zsh")
@pytest.mark.parametrize(
    ("words", "offered"),
    [
        ("accessguard|db|", "status upgrade -h --help --read-only --db"),
        ("accessguard|users|list|--format|", "table csv json"),
        ("accessguard|--db|x|db|", "status upgrade -h --help --read-only --db"),
        ("accessguard|export|-o|", "FILES"),
    ],
)
def test_zsh_completes_commands_options_and_choices(
    words: str, offered: str, tmp_path: Path
) -> None:
    path = tmp_path / "_accessguard"
    path.write_text(script("zsh", build_parser()))
    ran = subprocess.run(
        ["zsh", "-c", ZSH_TAB, "_", words, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert ran.stdout.strip() == offered


@needs_shell("fish")
@pytest.mark.parametrize(
    ("line", "offered"),
    [
        ("accessguard db ", ["status", "upgrade"]),
        ("accessguard users list --format ", ["csv", "json", "table"]),
        ("accessguard --db x db ", ["status", "upgrade"]),
        ("accessguard export ", ["products", "users"]),
    ],
)
def test_fish_completes_commands_options_and_choices(
    line: str, offered: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "accessguard.fish"
    path.write_text(script("fish", build_parser()))
    ran = subprocess.run(
        ["fish", "-c", 'source $argv[1]; complete -C "$argv[2]"', str(path), line],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert sorted(row.split("\t")[0] for row in ran.stdout.splitlines()) == offered
