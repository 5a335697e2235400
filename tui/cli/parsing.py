"""The command line's grammar: every command and option with its help and examples.

Building and running the parser loads neither SQLAlchemy nor Textual: the commands it names
import the data core only when they run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

from data.entities import registered
from data.entity import Entity
from data.numbers import whole_number
from data.redact import redact
from tui.cli.admin import cmd_config_path, cmd_db_status, cmd_db_upgrade, cmd_seed
from tui.cli.output import EXIT_USAGE, PROG
from tui.text import visible

if TYPE_CHECKING:
    from data.database import Database
    from tui.cli.entities import EntityCommands

Handler = Callable[[argparse.Namespace, "Database"], int]


def _later(where: str) -> Handler:
    """The command ``module:function`` of this package, imported when it runs: the parser is
    built for every command, and each needs only its own module."""
    module, _, name = where.partition(":")

    def run(args: argparse.Namespace, db: Database) -> int:
        handler: Handler = getattr(importlib.import_module(f"tui.cli.{module}"), name)
        return handler(args, db)

    run.__name__ = run.__qualname__ = name
    return run


cmd_list = _later("records:cmd_list")
cmd_show = _later("records:cmd_show")
cmd_add = _later("records:cmd_add")
cmd_update = _later("records:cmd_update")
cmd_set_secret = _later("records:cmd_set_secret")
cmd_delete = _later("records:cmd_delete")
cmd_audit_list = _later("audit:cmd_audit_list")
cmd_audit_show = _later("audit:cmd_audit_show")
cmd_audit_restore = _later("audit:cmd_audit_restore")
cmd_export = _later("transfer:cmd_export")
cmd_import = _later("transfer:cmd_import")
cmd_completion = _later("completion:cmd_completion")

WEB_PORT = 8000

# Each entity's own examples come from its declaration (`Entity.examples`), then these.
EXAMPLES = (
    "accessguard export products -o products.json",
    "accessguard import users users.csv --dry-run",
    "accessguard --db postgresql://admin@db.internal/shop db status",
    "accessguard audit list --entity users --since 2026-12-01 --format csv",
    "accessguard audit restore 1234",
    "accessguard db upgrade",
    "DATABASE_URL=mysql://root@127.0.0.1/shop accessguard seed --users 50",
    "accessguard completion bash > ~/.local/share/bash-completion/completions/accessguard",
)
FOOTER = """\
The database is --db URL, else $DATABASE_URL, else the config file's (see
`accessguard config path`), else sqlite:///./accessguard.db. A SQLite path is
percent-encoded like any URL's: a file a?b%.db is sqlite:///a%3Fb%25.db.
Exit status: 0 done, 1 refused (the reason is on stderr), 2 bad usage.
Set ACCESSGUARD_DEBUG=1 to see the traceback of an unexpected error."""


def epilog(*command: str) -> str:
    """The examples that use ``command`` (all of them for the top level), then the footer."""
    words = " ".join(command)
    declared = [f"{PROG} {line}" for entity in registered() for line in entity.examples]
    chosen = [line for line in (*declared, *EXAMPLES) if f" {words}" in line or not words]
    examples = "".join(f"\n  {line}" for line in chosen)
    return f"examples:{examples}\n\n{FOOTER}" if chosen else FOOTER


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors never echo a URL's password, and that knows
    options only by their whole names (its command parsers are of this class too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # A prefix would be guessed: `--password X` read as `--password-stdin`, and a script's
        # `--form` would change meaning the day another option starts with it.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Print usage and the (redacted) message to stderr, then exit 2."""
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {visible(redact(message))}\n")


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """--db and --read-only, on the top parser and again on every command.

    On commands their default is SUPPRESS, so an option given before the command is not
    reset by the command's own (absent) copy of it.
    """
    default: Any = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--db",
        metavar="URL",
        default=default,
        help="database URL (default: $DATABASE_URL, else sqlite:///./accessguard.db); "
        "prefer $DATABASE_URL for a password, which --db leaves visible in ps",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="connect read-only: the database itself refuses every write",
    )


def _command(
    group: Any,
    name: str,
    summary: str,
    handler: Handler,
    *,
    words: Sequence[str] = (),
    schema: bool = True,
    **defaults: Any,
) -> argparse.ArgumentParser:
    """A leaf command: its parser, its global options and what `main` should run.

    ``words`` are the words before ``name`` (``users`` for ``users list``), to pick examples.
    """
    parser: argparse.ArgumentParser = group.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=epilog(*words, name),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(parser, top=False)
    defaults.setdefault("needs_database", True)
    # Only the commands that make a database may create a SQLite file that is not there.
    defaults.setdefault("creates", False)
    parser.set_defaults(handler=handler, check_schema=schema, **defaults)
    return parser


def _group(commands: Any, name: str, summary: str) -> Any:
    """A command with actions of its own (``users list``): returns where to add them."""
    parser = commands.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=epilog(name),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(parser, top=False)
    return parser.add_subparsers(dest="action", metavar="ACTION", required=True)


def _format_option(
    parser: argparse.ArgumentParser, choices: Sequence[str], default: str | None
) -> None:
    parser.add_argument(
        "--format",
        choices=choices,
        default=default,
        help=f"output format (default: {default or 'from the file name, else csv'})",
    )


def _entity_parsers(commands: Any, entity: EntityCommands) -> None:
    """``users list|add|delete`` (or products): one generic builder for every entity."""
    names = entity.names
    actions = _group(commands, entity.name, f"list, show, add, update or delete {names.plural}")
    words = (entity.name,)
    lister = _command(
        actions, "list", f"list {names.plural}", cmd_list, words=words, entity=entity.name
    )
    lister.add_argument(
        "--search",
        default="",
        metavar="TEXT",
        help=f"only {names.plural} whose {' or '.join(names.search_fields)} contains TEXT "
        "(any case; ^TEXT: starts with TEXT)",
    )
    _format_option(lister, ("table", "csv", "json"), "table")
    lister.add_argument(
        "--sort",
        default="id",
        choices=list(names.sort_fields),
        metavar="FIELD",
        help=f"sort by FIELD: {', '.join(names.sort_fields)} (default: id)",
    )
    lister.add_argument("--desc", action="store_true", help="sort in descending order")

    shower = _command(
        actions, "show", f"show a {names.entity} whole", cmd_show, words=words, entity=entity.name
    )
    _record_argument(shower, names)
    _format_option(shower, ("table", "json"), "table")

    adder = _command(
        actions, "add", f"add a {names.entity}", cmd_add, words=words, entity=entity.name
    )
    _value_options(adder, entity, update=False)

    updater = _command(
        actions,
        "update",
        f"change the given fields of a {names.entity}, and only those",
        cmd_update,
        words=words,
        entity=entity.name,
    )
    _record_argument(updater, names)
    _value_options(updater, entity, update=True)
    updater.add_argument(
        "--expect-version",
        type=_whole_number(1),
        metavar="N",
        help="refuse (exit 1) unless the record is still at version N, as `show` printed it "
        "(default: the version just read)",
    )

    secret = entity.secret_name
    if secret:
        setter = _command(
            actions,
            f"set-{secret}",
            f"set a {names.entity}'s {secret} (asked twice, never in the command line)",
            cmd_set_secret,
            words=words,
            entity=entity.name,
        )
        _record_argument(setter, names)
        setter.add_argument(
            f"--{secret}-stdin",
            dest="secret_stdin",
            action="store_true",
            help=f"read the {secret} from the first line of stdin (for scripts)",
        )

    deleter = _command(
        actions, "delete", f"delete a {names.entity}", cmd_delete, words=words, entity=entity.name
    )
    # Any whole number: one that names no record (0, -1, 2**63) is "not found", as on every
    # backend, rather than a usage error here and a server error there.
    deleter.add_argument(
        "id", type=_whole_number(None), metavar="ID", help=f"the {names.entity}'s id"
    )
    deleter.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation (needed in scripts)"
    )


def _record_argument(parser: argparse.ArgumentParser, names: Entity) -> None:
    """The record a command acts on: its id, or its natural key (email, SKU)."""
    key = names.field(names.natural_key)
    parser.add_argument(
        "record",
        metavar=f"ID|{key.name.upper()}",
        help=f"the {names.entity}'s id (a whole number) or its {key.label or key.name}",
    )


def _value_options(
    parser: argparse.ArgumentParser, entity: EntityCommands, *, update: bool
) -> None:
    """The options that set fields: required ones are required to add, none to update."""
    for option in entity.add_options:
        if option.switch:
            parser.add_argument(
                option.flag,
                dest=option.field,
                action=argparse.BooleanOptionalAction,
                help=option.help,
            )
            continue
        parser.add_argument(
            option.flag,
            dest=option.field,
            metavar=option.metavar,
            required=option.required and not update,
            help=option.help,
        )


def _audit_parsers(commands: Any) -> None:
    """``audit list|show|restore``."""
    actions = _group(commands, "audit", "list or show audit entries, or restore a record from one")
    words = ("audit",)
    lister = _command(
        actions, "list", "list audit entries, newest first", cmd_audit_list, words=words
    )
    lister.add_argument(
        "--entity",
        choices=[e.plural for e in registered()],
        help="only entries about these records",
    )
    lister.add_argument(
        "--record",
        type=_whole_number(None),
        metavar="ID",
        help="only entries about records with this id (add --entity for one record)",
    )
    lister.add_argument(
        "--actor", metavar="TEXT", help="only entries whose actor contains TEXT (any case)"
    )
    lister.add_argument(
        "--since",
        type=iso_time,
        metavar="ISO-DATE",
        help="only entries made at or after this date or time (UTC unless it says): 2026-12-01",
    )
    lister.add_argument(
        "--limit", type=_whole_number(1), metavar="N", help="at most N entries (default: all)"
    )
    _format_option(lister, ("table", "csv", "json"), "table")

    shower = _command(actions, "show", "show one audit entry whole", cmd_audit_show, words=words)
    shower.add_argument("id", type=_whole_number(None), metavar="ID", help="the entry's id")
    _format_option(shower, ("table", "json"), "table")

    restorer = _command(
        actions,
        "restore",
        "put an entry's record back to its state before the entry (audited)",
        cmd_audit_restore,
        words=words,
    )
    restorer.add_argument("id", type=_whole_number(None), metavar="ID", help="the entry's id")
    restorer.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation (needed in scripts)"
    )


def _whole_number(minimum: int | None) -> Callable[[str], int]:
    """An argparse type: a whole number in digits 0-9, of at least ``minimum`` if one is
    given (bad usage, exit 2, if not)."""

    def parse(text: str) -> int:
        value = whole_number(text)
        if value is None:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number in digits 0-9"
            ) from None
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return parse


class _ShowVersion(argparse.Action):
    """``--version``: read from the package metadata only when asked (every other run of
    the command line would pay for loading it)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> None:
        print(f"{PROG} {_installed_version()}")
        parser.exit()


def iso_time(text: str) -> datetime:
    """An argparse type: an ISO date or time (``2026-12-01``, ``2026-12-01T09:30``), UTC
    unless it says otherwise."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date or time, e.g. 2026-12-01 or 2026-12-01T09:30"
        ) from None


def _installed_version() -> str:
    """The version pip installed (pyproject's), read from the package metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PROG)
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def _listed(words: Iterable[str]) -> str:
    """``users and products``; ``users, products and categories``."""
    *rest, last = words
    return f"{', '.join(rest)} and {last}" if rest else last


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, every command and option with its help."""
    parser = _top_level(Parser)
    _commands(parser)
    return parser


class _NotAConsoleStart(Exception):
    """The words are not only the top level's options: the whole parser must read them."""


class _ConsoleStartParser(Parser):
    """The top level alone, silent: a word it does not take means "not a console start"."""

    def error(self, message: str) -> NoReturn:
        raise _NotAConsoleStart(message)


# Words the whole parser answers itself (help lists the commands; ``--`` ends the options).
NOT_A_CONSOLE_START = ("-h", "--help", "--version", "--")


def console_start(argv: Sequence[str] | None) -> argparse.Namespace | None:
    """The arguments of a console start (the top level's options and no command), read
    without building every command's grammar, which costs every start ~8 ms; None for
    anything else (a command, help, --version, a mistake), for `build_parser` to read.

    The namespace is the one the whole parser gives for the same words (a test holds
    the two to it).
    """
    words = list(sys.argv[1:] if argv is None else argv)
    if any(word in NOT_A_CONSOLE_START or word.startswith("-h") for word in words):
        return None
    parser = _top_level(_ConsoleStartParser)
    parser.set_defaults(command=None)  # what the whole parser's commands leave when absent
    try:
        args, rest = parser.parse_known_args(words)
    except (_NotAConsoleStart, argparse.ArgumentError):
        return None
    return None if rest else args


def _top_level(parser_class: type[Parser]) -> Parser:
    """The top-level parser with its own options: the database and the console's."""
    parser = parser_class(
        prog=PROG,
        description=f"Administer the {_listed(e.plural for e in registered())} of a SQL "
        "database.\nWithout a command, opens the interactive console.",
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(parser, top=True)
    parser.add_argument(
        "--version", action=_ShowVersion, help="show program's version number and exit"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="fill an empty database with demo data, then open the console",
    )
    parser.add_argument(
        "--theme",
        metavar="NAME",
        help="the console's colours for this run, e.g. ansi-dark for a 16-colour "
        "terminal (default: the config file's, else the last one chosen in the palette)",
    )
    parser.add_argument(
        "--no-mouse", action="store_true", help="the console ignores the mouse entirely"
    )
    parser.add_argument(
        "--web",
        action="store_true",
        help="serve the console in a browser at http://127.0.0.1:PORT/ (needs "
        "accessguard[web]); it answers only that address, with the token printed at start",
    )
    parser.add_argument(
        "--port",
        type=_whole_number(1),
        default=WEB_PORT,
        metavar="N",
        help=f"the port for --web (default: {WEB_PORT})",
    )
    parser.set_defaults(handler=None, check_schema=True)
    return parser


def _commands(parser: argparse.ArgumentParser) -> None:
    """Every command, each with its options, help and examples."""
    # Here, not above: a console start (`console_start`) reads no command's grammar.
    from tui.cli.completion import SHELLS
    from tui.cli.entities import entity_commands

    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    entities = entity_commands()
    for entity in entities.values():
        _entity_parsers(commands, entity)

    _audit_parsers(commands)

    names = "|".join(entities)
    exporter = _command(commands, "export", f"write {names} as CSV or JSON", cmd_export)
    exporter.add_argument("entity", choices=list(entities), help="what to export")
    _format_option(exporter, ("csv", "json"), None)
    exporter.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write to FILE (replaced only once complete, mode 0600) instead of stdout",
    )
    exporter.add_argument(
        "--search",
        default="",
        metavar="TEXT",
        help="only the records whose searched fields contain TEXT, as in `list` "
        "(any case; ^TEXT: starts with TEXT)",
    )
    sort_fields = sorted({f for e in entities.values() for f in e.names.sort_fields})
    exporter.add_argument(
        "--sort",
        default="id",
        metavar="FIELD",
        help=f"sort by FIELD, as in `list`: {', '.join(sort_fields)} (default: id)",
    )
    exporter.add_argument("--desc", action="store_true", help="sort in descending order")

    importer = _command(commands, "import", f"read {names} from a CSV or JSON file", cmd_import)
    importer.add_argument("entity", choices=list(entities), help="what to import")
    importer.add_argument("file", metavar="FILE", help="the file to read (- for stdin)")
    importer.add_argument(
        "--dry-run", action="store_true", help="check every row and report, but write nothing"
    )
    importer.add_argument(
        "--valid-only",
        action="store_true",
        help="apply the rows that pass and leave out the refused ones (still one transaction; "
        "exit 1 if any was refused)",
    )
    _format_option(importer, ("csv", "json"), None)
    importer.add_argument(
        "--report",
        choices=("table", "csv", "json"),
        default=None,
        help="how --dry-run lists each row to change with its field diffs (default: table)",
    )

    db_actions = _group(commands, "db", "show or upgrade the database schema")
    _command(
        db_actions,
        "status",
        "show the database and its schema revision (exit 1 unless current)",
        cmd_db_status,
        words=("db",),
        schema=False,
    )
    _command(
        db_actions,
        "upgrade",
        "upgrade the schema to this version's head (creating it if empty)",
        cmd_db_upgrade,
        words=("db",),
        schema=False,
        creates=True,
    )

    config_actions = _group(commands, "config", "show where the config file is")
    _command(
        config_actions,
        "path",
        "print where the config file is, whether it exists, and check it (exit 2 if broken)",
        cmd_config_path,
        words=("config",),
        schema=False,
        needs_database=False,
    )

    completer = _command(
        commands,
        "completion",
        "print the shell completion script for bash, zsh or fish",
        cmd_completion,
        schema=False,
        needs_database=False,
    )
    completer.add_argument("shell", choices=SHELLS, help="the shell to complete in")

    seeder = _command(
        commands, "seed", "fill an empty database with demo data", cmd_seed, creates=True
    )
    seeder.add_argument(
        "--users", type=_whole_number(0), default=100, metavar="N", help="users (default: 100)"
    )
    seeder.add_argument(
        "--products",
        type=_whole_number(0),
        default=300,
        metavar="N",
        help="products (default: 300)",
    )
    seeder.add_argument(
        "--seed",
        type=_whole_number(0),
        default=1,
        metavar="S",
        help="random seed: the same seed gives the same data (default: 1)",
    )
