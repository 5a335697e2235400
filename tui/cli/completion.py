"""``accessguard completion bash|zsh|fish``: a static completion script, made from the parser.

Every command, action, option and choice comes from `tui.cli.parsing.build_parser`, so the
scripts never fall behind the command line. They are static: pressing Tab runs no Python.
(shtab, the well-kept generator for argparse, writes no fish; argcomplete runs the program
on every Tab.) Options that take a free value (``--db``, ``-o``) complete file names.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tui.cli.output import EXIT_OK, PROG

if TYPE_CHECKING:
    from data.database import Database

SHELLS = ("bash", "zsh", "fish")
FUNCTION = "_accessguard"


@dataclass
class Place:
    """What may follow at one place in the command line (``users list``: its options)."""

    path: str
    commands: dict[str, str] = field(default_factory=dict)  # name -> summary
    choices: list[str] = field(default_factory=list)  # of its positional arguments
    flags: dict[str, str] = field(default_factory=dict)  # option -> help, no value
    valued: dict[str, tuple[list[str], str]] = field(
        default_factory=dict
    )  # option -> (choices, help)


def places(parser: argparse.ArgumentParser, path: str = "") -> list[Place]:
    """Every place in the command line, the top first, each command after its parent."""
    here = Place(path)
    below: list[Place] = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._SubParsersAction):
            summaries = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, child in action.choices.items():
                here.commands[name] = summaries.get(name, "")
                below += places(child, f"{path} {name}".strip())
        elif not action.option_strings:
            here.choices += [str(choice) for choice in action.choices or ()]
        elif action.nargs == 0:
            here.flags.update(dict.fromkeys(action.option_strings, action.help or ""))
        else:
            choices = [str(choice) for choice in action.choices or ()]
            here.valued.update(dict.fromkeys(action.option_strings, (choices, action.help or "")))
    return [here, *below]


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    """The completion script for ``shell`` (one of `SHELLS`)."""
    found = places(parser)
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](found)


def _words(words: list[str] | dict[str, str] | dict[str, tuple[list[str], str]]) -> str:
    return " ".join(shlex.quote(word) for word in words)


def _walk(found: list[Place], first: int) -> str:
    """Shell code (bash and zsh alike) that sets $cmd_path from the words before the cursor.

    An option that takes a value skips that value, so ``--db users list`` stays at the top.
    """
    moves = " | ".join(
        shlex.quote(f"{place.path}:{name}") for place in found for name in place.commands
    )
    valued = " | ".join(sorted({option for place in found for option in place.valued}))
    return f"""\
    local cmd_path="" word i
    for ((i = {first}; i < last; i++)); do
        word=${{words_[i]}}
        case "$cmd_path:$word" in
            {moves}) cmd_path="${{cmd_path:+$cmd_path }}$word" ;;
            *) case "$word" in {valued}) ((i++)) ;; esac ;;
        esac
    done"""


def _cases(found: list[Place], answer: str, files: str) -> str:
    """Shell code: the choices of the option just typed, else what follows at $cmd_path."""
    lines = ['    case "$cmd_path:$prev" in']
    for place in found:
        for option, (choices, _help) in place.valued.items():
            then = answer.format(words=_words(choices)) if choices else files
            lines.append(f"        {shlex.quote(f'{place.path}:{option}')}) {then}; return ;;")
    lines += ["    esac", '    case "$cmd_path" in']
    for place in found:
        offered = _words([*place.commands, *place.choices, *place.flags, *place.valued])
        lines.append(f"        {shlex.quote(place.path)}) {answer.format(words=offered)} ;;")
    lines.append("    esac")
    return "\n".join(lines)


def _bash(found: list[Place]) -> str:
    answer = 'COMPREPLY=($(compgen -W "{words}" -- "$cur"))'
    return f"""\
# bash completion for {PROG}: accessguard completion bash > \\
#   ~/.local/share/bash-completion/completions/{PROG}
{FUNCTION}() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
    local last=$COMP_CWORD
    local -a words_=("${{COMP_WORDS[@]}}")
{_walk(found, 1)}
{_cases(found, answer, "COMPREPLY=()")}
}}
complete -o default -F {FUNCTION} {PROG}
"""


def _zsh(found: list[Place]) -> str:
    answer = "compadd -- {words}"
    return f"""\
#compdef {PROG}
# zsh completion for {PROG}: accessguard completion zsh > "${{fpath[1]}}/_{PROG}"
{FUNCTION}() {{
    local cur=${{words[CURRENT]}} prev=${{words[CURRENT-1]}}
    local last=$CURRENT
    local -a words_=("${{words[@]}}")
{_walk(found, 2)}
{_cases(found, answer, "_files")}
}}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    {FUNCTION} "$@"
else
    compdef {FUNCTION} {PROG}
fi
"""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(found: list[Place]) -> str:
    moves = " ".join(_fish_quote(f"{p.path}:{name}") for p in found for name in p.commands)
    valued = " ".join(sorted({option for place in found for option in place.valued}))
    header = f"""\
# fish completion for {PROG}: accessguard completion fish > ~/.config/fish/completions/{PROG}.fish
function __{PROG}_at --description 'Whether the command so far is $argv[1]'
    set -l cmd_path ''
    set -l skip 0
    for word in (commandline -opc)[2..-1]
        if test $skip = 1; set skip 0; continue; end
        if contains -- "$cmd_path:$word" {moves}
            set cmd_path (string trim -- "$cmd_path $word")
        else if contains -- $word {valued}
            set skip 1
        end
    end
    test "$cmd_path" = "$argv[1]"
end
complete -c {PROG} -f
"""
    return header + "".join(_fish_place(place) for place in found)


def _fish_place(place: Place) -> str:
    """The fish ``complete`` lines for what may follow at ``place``."""
    complete = f"complete -c {PROG} -n {_fish_quote(f'__{PROG}_at {shlex.quote(place.path)}')}"
    lines = [
        f"{complete} -a {name} -d {_fish_quote(summary)}"
        for name, summary in place.commands.items()
    ]
    if place.choices:
        lines.append(f"{complete} -a {_fish_quote(' '.join(place.choices))}")
    for option, help_text in place.flags.items():
        lines.append(f"{complete} {_fish_option(option)} -d {_fish_quote(help_text)}")
    for option, (choices, help_text) in place.valued.items():
        # -x: a value from the choices; -r -F: a value, completed as a file name.
        takes = f"-x -a {_fish_quote(' '.join(choices))}" if choices else "-r -F"
        lines.append(f"{complete} {_fish_option(option)} {takes} -d {_fish_quote(help_text)}")
    return "".join(f"{line}\n" for line in lines)


def _fish_option(option: str) -> str:
    return f"-l {option[2:]}" if option.startswith("--") else f"-s {option[1:]}"


def cmd_completion(args: argparse.Namespace, _db: Database | None) -> int:
    """Print the completion script for the shell named."""
    from tui.cli.parsing import build_parser

    # Written as it is: `say` would show its newlines as symbols. Every word in it is ours.
    sys.stdout.write(script(args.shell, build_parser()))
    return EXIT_OK
