"""The command line: the data core without a screen.

Every command is one short function over `data.database.Database`; users and products share
them, driven by a small per-entity description (`EntityCommands`), so adding a model means
adding a description, not copying commands. `main` owns the process-level concerns: the
URL (whose password is never printed), exit codes, Ctrl-C, broken pipes and crash output.

Parsing the command line loads neither SQLAlchemy nor Textual: the commands import the data
core when they run, and the console (`run_console`) draws its first frame before it does.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, TextIO

from data.actor import Actor
from data.config import URL_ENV_VAR, BadDatabaseURL, configured_url
from data.entities import entity_named
from data.entity import Entity as EntityNames
from data.errors import AccessGuardError, Invalid
from data.numbers import whole_number
from data.records import ImportReport, ImportRow, PageRequest
from data.redact import holds_secret, redact
from tui.malformed import MARK, malformed_cell
from tui.signalled import Signalled, signals_raise
from tui.text import fit, for_terminal, visible, visible_lines

if TYPE_CHECKING:
    from asyncio import AbstractEventLoop

    from sqlalchemy.engine import URL

    from data.database import Database
    from data.specs import EntitySpec
    from data.stored import MalformedTally
    from data.transfer import Format
    from tui.app import AccessGuardApp, ConsoleOptions
    from tui.settings import Settings

PROG = "accessguard"
EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# What a shell reports for a process killed by SIGPIPE (128 + 13), as `yes | head` gives.
EXIT_BROKEN_PIPE = 141
DEBUG_ENV_VAR = "ACCESSGUARD_DEBUG"
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

Handler = Callable[[argparse.Namespace, "Database"], int]

EXAMPLES = (
    "accessguard users list --search alice",
    'accessguard users add --name "Alice Doe" --email alice@example.com --role editor',
    "accessguard users delete 42 --yes",
    "accessguard products list --sort price --desc --format csv > products.csv",
    "accessguard products add --sku KET-1 --name Kettle --price 19.99 --owner alice@example.com",
    "accessguard products delete 7",
    "accessguard export products -o products.json",
    "accessguard import users users.csv --dry-run",
    "accessguard --db postgresql://admin@db.internal/shop db status",
    "accessguard db upgrade",
    "DATABASE_URL=mysql://root@127.0.0.1/shop accessguard seed --users 50",
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
    chosen = [line for line in EXAMPLES if f" {words}" in line or not words]
    examples = "".join(f"\n  {line}" for line in chosen)
    return f"examples:{examples}\n\n{FOOTER}" if chosen else FOOTER


def say(text: str) -> None:
    """Print a line of output to stdout, made visible first."""
    print(visible(text), file=sys.stdout)


def warn(text: str) -> None:
    """Print a line to stderr, made visible and with any URL password masked."""
    print(visible(redact(text)), file=sys.stderr)


# What differs between users and products on the command line


@dataclass(frozen=True)
class Column:
    """One column of the table format."""

    title: str
    width: int
    value: Callable[[Any], str]
    right: bool = False
    field: str = ""  # the record's field it shows, when not its title

    def cell(self, record: Any) -> str:
        """This column's cell for ``record``, exactly ``width`` cells unless a long number;
        a malformed value as stored, after the mark."""
        text = malformed_cell(record, self.field or self.title)
        if text is None:
            text = self.value(record)
        return fit(text, self.width, right=self.right, truncate=not self.right)


@dataclass(frozen=True)
class AddOption:
    """One ``add`` option: ``--flag`` sets the data layer's ``field``, passed as typed."""

    flag: str
    field: str
    metavar: str
    help: str
    required: bool = False


@dataclass(frozen=True)
class EntityCommands:
    """What the generic list / add / delete / export / import commands need about an entity."""

    names: EntityNames
    columns: tuple[Column, ...]
    add_options: tuple[AddOption, ...]
    # What else deleting the record with this id changes, told before and after (None: nothing).
    delete_impact: Callable[[Database, int, bool], str | None] = lambda _db, _id, _done: None

    @property
    def name(self) -> str:
        """The command name and `Database.table` key: ``users`` / ``products``."""
        return self.names.plural

    @property
    def spec(self) -> EntitySpec[Any, Any]:
        """The data core's spec, for the commands that run (it loads the data core)."""
        from data.specs import SPECS

        return SPECS[self.names.entity]

    def counted(self, count: int) -> str:
        """``1 user``, ``3 users``."""
        return f"{count} {self.names.entity if count == 1 else self.names.plural}"


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _orphaned_products(db: Database, user_id: int, done: bool) -> str | None:
    """``3 products will lose their owner`` (before) / ``3 products lost their owner`` (after)."""
    found = db.dependants("users", [user_id])
    count = sum(d.count for d in found)
    if not count:
        return None
    products = "1 product" if count == 1 else f"{count} products"
    verb = "lost" if done else "will lose"
    return f"{products} {verb} {'its' if count == 1 else 'their'} owner"


# Widths add up to 79 cells with the two-space gaps: one line on an 80-column terminal.
USER_COMMANDS = EntityCommands(
    names=entity_named("users"),
    columns=(
        Column("id", 5, lambda r: str(r.id), right=True),
        Column("name", 18, lambda r: r.name),
        Column("email", 26, lambda r: r.email),
        Column("role", 6, lambda r: r.role),
        Column("active", 6, lambda r: _yes_no(r.is_active), field="is_active"),
        Column("password", 8, lambda r: "set" if r.has_password else "-"),
    ),
    add_options=(
        AddOption("--name", "name", "N", "full name", required=True),
        AddOption("--email", "email", "E", "email address (unique, any case)", required=True),
        AddOption("--role", "role", "R", "admin, editor or viewer (default: viewer)"),
    ),
    delete_impact=_orphaned_products,
)

PRODUCT_COMMANDS = EntityCommands(
    names=entity_named("products"),
    columns=(
        Column("id", 5, lambda r: str(r.id), right=True),
        Column("sku", 10, lambda r: r.sku),
        Column("name", 16, lambda r: r.name),
        Column("price", 11, lambda r: str(r.price), right=True),
        Column("stock", 6, lambda r: str(r.stock), right=True),
        Column("active", 6, lambda r: _yes_no(r.is_active), field="is_active"),
        Column("owner", 13, lambda r: r.owner_email or "-"),
    ),
    add_options=(
        AddOption("--sku", "sku", "S", "stock-keeping unit: letters, digits, - _ .", required=True),
        AddOption("--name", "name", "N", "product name", required=True),
        AddOption("--price", "price", "P", "price, a dot for decimals: 19.99", required=True),
        AddOption("--stock", "stock", "Q", "units in stock (default: 0)"),
        AddOption("--owner", "owner", "EMAIL", "email of the user who owns it (default: none)"),
        AddOption("--description", "description", "D", "free text (default: empty)"),
    ),
)

ENTITIES: dict[str, EntityCommands] = {
    entity.name: entity for entity in (USER_COMMANDS, PRODUCT_COMMANDS)
}


def _entity(args: argparse.Namespace) -> EntityCommands:
    return ENTITIES[args.entity]


# Commands on records


def cmd_list(args: argparse.Namespace, db: Database) -> int:
    """List records, streamed page by page so memory stays flat at any size."""
    from data.stored import MalformedTally
    from data.transfer import write_records

    entity = _entity(args)
    request = PageRequest(search=args.search, sort=args.sort, descending=args.desc)
    tally = MalformedTally()
    records = tally.through(db.table(entity.name).stream(request))
    if args.format != "table":
        write_records(entity.spec, records, for_terminal(sys.stdout), fmt=args.format)
    else:
        count = _print_table(entity.columns, records)
        # The count goes to stderr so that stdout holds only the table when piped.
        warn(entity.counted(count))
    _warn_malformed(entity, tally, marked=args.format == "table")
    return EXIT_OK


def _warn_malformed(entity: EntityCommands, tally: MalformedTally, *, marked: bool) -> None:
    """Say on stderr how many records hold values another tool stored past validation."""
    warning = tally.warning(entity.names.plural, entity.names.entity)
    if warning is not None:
        where = f", marked {MARK}" if marked else ""
        warn(f"{PROG}: warning: {warning}{where}; fix them in the console")


def _print_table(columns: Sequence[Column], records: Iterable[Any]) -> int:
    """Print a header, a rule and a row per record; return how many rows were printed."""
    gap = "  "
    out = sys.stdout
    out.write(gap.join(fit(c.title, c.width, right=c.right) for c in columns).rstrip() + "\n")
    out.write(gap.join("-" * c.width for c in columns) + "\n")
    count = 0
    for record in records:
        out.write(gap.join(column.cell(record) for column in columns).rstrip() + "\n")
        count += 1
    return count


def cmd_add(args: argparse.Namespace, db: Database) -> int:
    """Create a record from the given options; omitted options keep the model's defaults."""
    entity = _entity(args)
    values = {
        option.field: getattr(args, option.field)
        for option in entity.add_options
        if getattr(args, option.field) is not None
    }
    record = db.table(entity.name).create(values, actor=Actor.from_environment(source="cli"))
    say(f"created {entity.spec.describe(record)}")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace, db: Database) -> int:
    """Delete one record at the version shown in the question, after a yes."""
    entity = _entity(args)
    table = db.table(entity.name)
    record = table.get(args.id)
    described = entity.spec.describe(record)
    if not args.yes:
        impact = entity.delete_impact(db, record.id, False)
        refusal = _confirm(f"Delete {described}" + (f" ({impact})?" if impact else "?"))
        if refusal is not None:
            return refusal
    # Counted before the delete, which takes the owner away.
    done = entity.delete_impact(db, record.id, True)
    actor = Actor.from_environment(source="cli")
    # The version read before asking: if someone changed it meanwhile, this is a Conflict.
    table.delete(record.id, expected_version=record.version, actor=actor)
    say(f"deleted {described}" + (f" ({done})" if done else ""))
    return EXIT_OK


def _confirm(question: str) -> int | None:
    """None when the admin answers yes at a terminal, else the exit code to stop with."""
    if not sys.stdin.isatty():
        warn(f"{PROG}: refusing to delete without --yes when not interactive")
        return EXIT_USAGE
    sys.stderr.write(visible(question) + " [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer in ("y", "yes"):
        return None
    warn(f"{PROG}: not deleted")
    return EXIT_REFUSED


# Export and import


def cmd_export(args: argparse.Namespace, db: Database) -> int:
    """Write the records (those matching ``--search``, in ``--sort`` order) as CSV or JSON
    to stdout, or atomically to ``-o FILE``."""
    from data.stored import MalformedTally
    from data.transfer import export_file, export_records

    entity = _entity(args)
    if args.sort not in entity.names.sort_fields:
        fields = ", ".join(entity.names.sort_fields)
        raise Invalid({"sort": f"{entity.name} sort by {fields}; not {args.sort!r}"})
    request = PageRequest(search=args.search, sort=args.sort, descending=args.desc)
    tally = MalformedTally()
    if args.output in (None, "-"):
        count = export_records(
            db,
            entity.name,
            for_terminal(sys.stdout),
            fmt=args.format or "csv",
            request=request,
            tally=tally,
        )
        sys.stdout.flush()
        warn(f"exported {entity.counted(count)}")
    else:
        path = Path(args.output)
        fmt: Format = args.format or _format_of(path)
        # A signal unwinds the export, which removes its temporary file, instead of killing it.
        try:
            with signals_raise(CLOSING_SIGNALS):
                count = export_file(db, entity.name, path, fmt=fmt, request=request, tally=tally)
        except Signalled as stopped:
            name = signal.Signals(stopped.signum).name
            warn(f"{PROG}: export stopped by {name}; {path} was not written")
            raise
        warn(f"exported {entity.counted(count)} to {path}")
    _warn_malformed(entity, tally, marked=False)
    return EXIT_OK


def _format_of(path: Path) -> Format:
    """The format ``path``'s name asks for (.csv or .json); CSV, the default, for any other."""
    from data.transfer import detect_format

    try:
        return detect_format(str(path))
    except Invalid:
        return "csv"


def cmd_import(args: argparse.Namespace, db: Database) -> int:
    """Import a CSV or JSON file: every row is checked first, and one refused row stops all."""
    from data.transfer import detect_format, import_records

    entity = _entity(args)
    actor = Actor.from_environment(source="cli")
    # A file of another name is refused (Invalid) rather than guessed at: --format says it.
    fmt: Format = args.format or ("csv" if args.file == "-" else detect_format(args.file))
    # The report's line is the CSV line a row starts on, or the JSON array's object number.
    unit = "line" if fmt == "csv" else "object"

    def refused(row: ImportRow) -> None:
        for field, reason in row.errors.items():
            warn(f"{unit} {row.line}: {field}: {reason}")

    with _open_source(args.file) as source:
        report = import_records(
            db,
            entity.name,
            source,
            fmt=fmt,
            actor=actor,
            dry_run=args.dry_run,
            valid_only=args.valid_only,
            on_refused=refused,
        )
    return _print_report(entity, report, dry_run=args.dry_run)


def _open_source(name: str) -> BinaryIO:
    """The file to import, ``-`` meaning stdin, as bytes: the import decodes them, so a
    byte that is not UTF-8 is reported with its line."""
    if name == "-":
        return open(sys.stdin.fileno(), "rb", closefd=False)
    return open(name, "rb")


def _print_report(entity: EntityCommands, report: ImportReport, *, dry_run: bool) -> int:
    """Counts on stdout; the verdict on stderr (each refused row was said as it was found).
    Exit 1 if any row was refused."""
    # Past tense only for what was really written; a dry run or a refused file says "to add".
    labels = (
        {"add": "added", "update": "updated"}
        if report.applied
        else {"add": "to add", "update": "to update"}
    )
    outcomes = ("add", "update", "unchanged", "refused")
    counts = ", ".join(f"{report.count(o)} {labels.get(o, o)}" for o in outcomes)
    say(f"{entity.name}: {counts}")
    refused = report.count("refused")
    if refused:
        if report.applied:
            warn(f"{PROG}: imported the valid rows only: {refused} row(s) refused")
        else:
            warn(f"{PROG}: nothing imported: {refused} row(s) refused")
        return EXIT_REFUSED
    if dry_run:
        say("dry run: nothing written")
    return EXIT_OK


# Database housekeeping


def cmd_db_status(_args: argparse.Namespace, db: Database) -> int:
    """Where the database is and how its schema compares; exit 0 only when current."""
    from data.schema import schema_state

    state = schema_state(db.engine)
    say(f"database: {db.url}")
    say(f"revision: {state.current or '(none)'}")
    say(f"head:     {state.head}")
    say(f"status:   {state.status}: {state.message}")
    return EXIT_OK if state.status == "current" else EXIT_REFUSED


def cmd_db_upgrade(_args: argparse.Namespace, db: Database) -> int:
    """Bring the schema to head (creating it in an empty database)."""
    from data.schema import schema_state, upgrade

    before = schema_state(db.engine)
    after = upgrade(db.engine)
    if before.current == after.current:
        say(f"{db.url}: already at {after.current}")
    else:
        say(f"{db.url}: upgraded {before.current or f'({before.status})'} -> {after.current}")
    if after.status != "current":
        warn(f"{PROG}: {after.message}")
        return EXIT_REFUSED
    return EXIT_OK


def cmd_seed(args: argparse.Namespace, db: Database) -> int:
    """Fill an empty database with reproducible demo users and products."""
    from data.seed import seed_demo

    result = seed_demo(
        db,
        users=args.users,
        products=args.products,
        seed=args.seed,
        actor=Actor.from_environment(source="cli"),
    )
    say(f"seeded {result.users} users and {result.products} products (seed {args.seed})")
    return EXIT_OK


# The config file


def cmd_config_path(_args: argparse.Namespace, _db: Database | None) -> int:
    """Print the config file's path and whether it exists; a broken one exits 2."""
    from tui.paths import config_path

    path = config_path()
    settings = _settings(console=True)
    say(str(path))
    if settings.path is None:
        say("(not found: built-in defaults in use)")
    else:
        say("(exists, valid)")
    return EXIT_OK


def _settings(*, console: bool) -> Settings:
    """The config file's settings; for the console (or ``config path``) its theme and key
    names are checked against the console's too, which loads Textual. Raises `ConfigError`."""
    from tui.paths import config_path
    from tui.settings import check_console_names, load_settings

    settings = load_settings(config_path())
    if console and (settings.theme is not None or settings.keys):
        from tui.app import binding_ids, theme_names

        check_console_names(settings, themes=theme_names(), binding_ids=binding_ids())
    return settings


# The parser


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors never echo a URL's password."""

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
    actions = _group(commands, entity.name, f"list, add or delete {names.plural}")
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

    adder = _command(
        actions, "add", f"add a {names.entity}", cmd_add, words=words, entity=entity.name
    )
    for option in entity.add_options:
        adder.add_argument(
            option.flag,
            dest=option.field,
            metavar=option.metavar,
            required=option.required,
            help=option.help,
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


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, every command and option with its help."""
    parser = Parser(
        prog=PROG,
        description="Administer the users and products of a SQL database.\n"
        "Without a command, opens the interactive console.",
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(parser, top=True)
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
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entity in ENTITIES.values():
        _entity_parsers(commands, entity)

    names = "|".join(ENTITIES)
    exporter = _command(commands, "export", f"write {names} as CSV or JSON", cmd_export)
    exporter.add_argument("entity", choices=list(ENTITIES), help="what to export")
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
    sort_fields = sorted({f for e in ENTITIES.values() for f in e.names.sort_fields})
    exporter.add_argument(
        "--sort",
        default="id",
        metavar="FIELD",
        help=f"sort by FIELD, as in `list`: {', '.join(sort_fields)} (default: id)",
    )
    exporter.add_argument("--desc", action="store_true", help="sort in descending order")

    importer = _command(commands, "import", f"read {names} from a CSV or JSON file", cmd_import)
    importer.add_argument("entity", choices=list(ENTITIES), help="what to import")
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

    seeder = _command(commands, "seed", "fill an empty database with demo data", cmd_seed)
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
    return parser


# Running a command


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status (the console script exits with it)."""
    try:
        return _run(argv)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Signalled as stopped:
        return stopped.exit_status
    except BrokenPipeError:
        _silence(sys.stdout)
        return EXIT_BROKEN_PIPE


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) and usage errors (2): main returns, never exits
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    console_only = [flag for flag in ("demo", "theme", "no_mouse", "web") if getattr(args, flag)]
    if args.handler is not None and console_only:
        flag = "--" + console_only[0].replace("_", "-")
        parser.print_usage(sys.stderr)
        warn(f"{PROG}: error: {flag} is for the console and cannot be combined with a command")
        return EXIT_USAGE
    if args.handler is not None and not args.needs_database:
        return _guarded(lambda: args.handler(args, None))
    # The URL's text (and any password in it) is kept out of args, which outlive this call.
    cli_url, args.db = args.db, None
    notices = startup_notices(cli_url)
    # On stderr for the console too: the line is still there when the console has closed.
    for notice in notices:
        warn(f"{PROG}: warning: {notice}")
    if args.handler is None:
        return _guarded(lambda: _console(args, cli_url, notices))
    return _guarded(lambda: _execute(args, _configured(cli_url, _settings(console=False))))


def _configured(cli_url: str | None, settings: Settings) -> str:
    """The URL as configured: --db > $DATABASE_URL > the config file > the local file.

    The config file's is read only when it is the one used: a ``database_url_env`` naming
    an unset variable is an error only then.
    """
    if cli_url or os.environ.get(URL_ENV_VAR):
        return configured_url(cli_url)
    return configured_url(None, config_value=settings.url())


def _console(args: argparse.Namespace, cli_url: str | None, notices: Sequence[str]) -> int:
    """Open the console (or serve it with --web) with the config file's settings."""
    settings = _settings(console=True)
    raw_url = _configured(cli_url, settings)
    if args.web:
        return serve_web(args, raw_url)
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
    )


WEB_PORT = 8000
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


PASSWORD_ON_COMMAND_LINE = (
    "the password in --db is visible to other users of this machine (ps shows every "
    "command line); put the URL in $DATABASE_URL instead"
)


def startup_notices(cli_url: str | None) -> tuple[str, ...]:
    """What to warn about before starting, from the ``--db`` value as typed.

    A password given with ``--db`` sits in the process's command line, which every local
    user can read (ps, /proc); a process cannot take it back from there, so it says so.
    """
    if cli_url is not None and holds_secret(cli_url):
        return (PASSWORD_ON_COMMAND_LINE,)
    return ()


def _guarded(run: Callable[[], int]) -> int:
    """Run a command, turning every failure into a message on stderr and an exit status."""
    from tui.settings import ConfigError

    try:
        return run()
    except ConfigError as error:
        warn(f"{PROG}: {error}")
        return EXIT_USAGE
    except BadDatabaseURL as error:
        warn(f"{PROG}: {error.title}: {error.message}")
        return EXIT_USAGE
    except Invalid as error:
        for field, reason in error.errors.items():
            warn(f"{PROG}: {field}: {reason}")
        return EXIT_REFUSED
    except AccessGuardError as error:
        warn(f"{PROG}: {error.title}: {error.message}")
        return EXIT_REFUSED
    except (KeyboardInterrupt, Signalled, BrokenPipeError):
        raise
    except OSError as error:  # a file to import or export: missing, unreadable, disk full
        where = f" {error.filename}" if error.filename else ""
        warn(f"{PROG}: cannot use{where}: {error.strerror or error}")
        return EXIT_REFUSED
    except UnicodeDecodeError:
        warn(f"{PROG}: the file is not UTF-8 text; save it as UTF-8 and try again")
        return EXIT_REFUSED
    except Exception as error:
        return _crashed(error)


def _execute(args: argparse.Namespace, raw_url: str | None) -> int:
    from data.translate import translate_errors

    db = open_database(raw_url, read_only=args.read_only, check_schema=args.check_schema)
    try:
        for exposure in db.exposure_warnings():
            warn(f"{PROG}: warning: {exposure}")
        # Some commands work outside the data layer's own units of work (schema status and
        # upgrade); translate their driver errors the same way, so none reaches the admin raw.
        with translate_errors():
            status: int = args.handler(args, db)
        # Flush here, inside the handlers of main, so a closed pipe is caught like the rest.
        sys.stdout.flush()
        return status
    finally:
        db.dispose()


def _database_url(raw_url: str | None) -> URL:
    """The URL the command line names (``--db``, else $DATABASE_URL, else the local file).

    Raises `BadDatabaseURL`, whose message never holds the password, if it cannot be used.
    """
    from data.config import resolve_url

    try:
        return resolve_url(raw_url)
    except ValueError:
        # E.g. a port that is not a number; its text has no password, but say less.
        raise BadDatabaseURL("the URL could not be parsed") from None


def open_database(
    raw_url: str | None,
    *,
    read_only: bool,
    check_schema: bool = True,
    demo: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Database:
    """Open the database the command line names, for a command or for the console.

    With ``check_schema``, a new database is created at head (unless read-only) and one
    whose schema is behind, ahead or foreign is refused with what to do. With ``demo``, an
    empty database is filled with demo data, said first through ``progress``. Failures are
    `AccessGuardError`s; nothing is left open after one.
    """
    from data.database import Database
    from data.schema import ensure_current
    from data.seed import seed_demo
    from data.translate import translate_errors

    db = Database.connect(_database_url(raw_url), read_only=read_only)
    try:
        # Errors raised outside the data layer's own units of work (schema checks) are
        # driver errors; translate them the same way, so none reaches the admin raw.
        with translate_errors():
            if check_schema:
                ensure_current(db.engine, create_if_empty=not read_only)
            if demo and db.users.count() == 0 and db.products.count() == 0:
                if progress is not None:
                    progress(f"Filling {db.url} with demo data…")
                seed_demo(db, actor=Actor.from_environment(source="cli"))
    except BaseException:
        db.dispose()
        raise
    return db


# The console


def console_app(
    raw_url: str | None,
    *,
    read_only: bool,
    demo: bool,
    warnings: Sequence[str] = (),
    options: ConsoleOptions | None = None,
) -> AccessGuardApp:
    """The console over the database the command line names, opened after its first frame.

    Until the app's opener (`open_database`, in a worker) is done, the status line names
    the database as configured, password masked. ``warnings`` are shown once it is open,
    with any the database itself gives (a file other users can read).
    """
    # Imported here: the scripting commands never pay for loading Textual.
    from tui.app import AccessGuardApp, DatabaseOpener

    def open_for_the_console(progress: Callable[[str], None]) -> Database:
        return open_database(raw_url, read_only=read_only, demo=demo, progress=progress)

    opener = DatabaseOpener(
        where=redact(configured_url(raw_url)), open=open_for_the_console, warnings=tuple(warnings)
    )
    actor = Actor.from_environment(source=f"console:{uuid.uuid4().hex[:12]}")
    return AccessGuardApp(opener, actor=actor, read_only=read_only, options=options)


def run_console(
    raw_url: str | None,
    *,
    read_only: bool,
    demo: bool,
    warnings: Sequence[str] = (),
    options: ConsoleOptions | None = None,
    mouse: bool = True,
) -> int:
    """Run the console until the admin quits, or a signal closes it.

    SIGTERM, SIGHUP (the SSH link dropped) and SIGINT close the console as ``q`` does, with
    the terminal restored, and the exit status is 128 + the signal's number. Database work
    still running in a worker (a save) gets `EXIT_GRACE_S` to finish; then the process ends
    anyway, and the database keeps that change whole or not at all.

    If the database cannot be opened, the console exits and the failure is raised here, with
    the terminal restored, so `main` reports it exactly as it would for any command.
    """
    import asyncio

    app = console_app(raw_url, read_only=read_only, demo=demo, warnings=warnings, options=options)
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
    _flush_or_silence()
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


def _crashed(error: BaseException) -> int:
    """One line for an unexpected error; the (redacted) traceback only when debugging."""
    if os.environ.get(DEBUG_ENV_VAR) == "1":
        sys.stderr.write(visible_lines(redact("".join(traceback.format_exception(error)))))
    first_line = (str(error).strip().splitlines() or [""])[0]
    detail = f": {first_line}" if first_line else ""
    hint = f"(set {DEBUG_ENV_VAR}=1 for details)"
    warn(f"{PROG}: unexpected error: {type(error).__name__}{detail} {hint}")
    return EXIT_REFUSED


def _flush_or_silence() -> None:
    """Flush stdout and stderr now; one that cannot be written (its terminal hung up) is
    pointed at /dev/null. Otherwise the interpreter's own flush at exit fails on it and
    turns the exit status (128 + the signal) into 120, whenever output is buffered."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            _silence(stream)


def _silence(stream: TextIO) -> None:
    """Point ``stream``'s file at /dev/null so the interpreter's final flush cannot fail
    again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (e.g. captured in tests)
        pass


if __name__ == "__main__":
    sys.exit(main())
