"""The commands on records: ``users list|show|add|update|set-password|delete`` and the same
for every entity."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from data.actor import Actor
from data.numbers import whole_number
from data.records import PageRequest
from tui.cli.entities import EntityCommands, entity_of
from tui.cli.output import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    PROG,
    confirm,
    print_json,
    print_table,
    say,
    warn,
    warn_malformed,
)
from tui.malformed import malformed_cell
from tui.text import for_terminal, shown

if TYPE_CHECKING:
    from data.database import Database
    from data.tables import RecordStore


def cmd_list(args: argparse.Namespace, db: Database) -> int:
    """List records, streamed page by page so memory stays flat at any size."""
    from data.stored import MalformedTally
    from data.transfer import write_records

    entity = entity_of(args)
    request = PageRequest(search=args.search, sort=args.sort, descending=args.desc)
    tally = MalformedTally()
    records = tally.through(db.table(entity.name).stream(request))
    if args.format != "table":
        write_records(entity.spec, records, for_terminal(sys.stdout), fmt=args.format)
    else:
        count = print_table(entity.columns, records)
        # The count goes to stderr so that stdout holds only the table when piped.
        warn(entity.counted(count))
    warn_malformed(entity, tally, marked=args.format == "table")
    return EXIT_OK


def cmd_add(args: argparse.Namespace, db: Database) -> int:
    """Create a record from the given options; omitted options keep the model's defaults."""
    entity = entity_of(args)
    values = given_values(args, entity)
    record = db.table(entity.name).create(values, actor=Actor.from_environment(source="cli"))
    say(f"created {entity.spec.describe(record)}")
    return EXIT_OK


def given_values(args: argparse.Namespace, entity: EntityCommands) -> dict[str, Any]:
    """The fields the ``add``/``update`` options set: those given, as typed."""
    values = {option.field: getattr(args, option.field) for option in entity.add_options}
    return {field: value for field, value in values.items() if value is not None}


def cmd_delete(args: argparse.Namespace, db: Database) -> int:
    """Delete one record at the version shown in the question, after a yes."""
    entity = entity_of(args)
    table = db.table(entity.name)
    record = table.get(args.id)
    described = entity.spec.describe(record)
    if not args.yes:
        impact = entity.delete_impact(db, record.id, False)
        refusal = confirm(f"Delete {described}" + (f" ({impact})?" if impact else "?"))
        if refusal is not None:
            return refusal
    # Counted before the delete, which takes the owner away.
    done = entity.delete_impact(db, record.id, True)
    actor = Actor.from_environment(source="cli")
    # The version read before asking: if someone changed it meanwhile, this is a Conflict.
    table.delete(record.id, expected_version=record.version, actor=actor)
    say(f"deleted {described}" + (f" ({done})" if done else ""))
    return EXIT_OK


def lookup(table: RecordStore[Any, Any], text: str) -> Any:
    """The record ``text`` names: a whole number is its id, anything else its natural key
    (email, SKU), checked by that field's validator; `NotFound` if there is none."""
    record_id = whole_number(text)
    return table.get(record_id) if record_id is not None else table.find(text)


def cmd_show(args: argparse.Namespace, db: Database) -> int:
    """Print one record whole: every field, untruncated, a line each (or one JSON object)."""
    from data.transfer import record_values

    entity = entity_of(args)
    record = lookup(db.table(entity.name), args.record)
    values = record_values(entity.spec, record)
    if args.format == "json":
        print_json(values)
        return EXIT_OK
    for name, value in values.items():
        say(f"{name}: {_shown_value(record, name, value)}")
    return EXIT_OK


def _shown_value(record: Any, name: str, value: Any) -> str:
    """A field's value on its line: a malformed one as stored after the mark, and why, as
    the console's record view says it; a flag as yes/no, nothing as ``-``."""
    malformed = malformed_cell(record, name)
    if malformed is not None:
        return f"{malformed}  (stored past validation: {getattr(record, name).reason})"
    return "-" if value is None else shown(value)


def cmd_update(args: argparse.Namespace, db: Database) -> int:
    """Change only the fields given.

    With ``--expect-version N`` the record must still be at version N (a script that read
    it earlier). Without it, the record read here is the base: a colleague's save between
    that read and the write merges (`data.merge`), and only a field both changed
    differently is refused.
    """
    entity = entity_of(args)
    changes = given_values(args, entity)
    if not changes:
        flags = ", ".join(option.flag for option in entity.add_options)
        warn(f"{PROG}: error: nothing to update: give at least one of {flags}")
        return EXIT_USAGE
    table = db.table(entity.name)
    record = lookup(table, args.record)
    actor = Actor.from_environment(source="cli")
    if args.expect_version is not None:
        saved = table.update(record.id, changes, expected_version=args.expect_version, actor=actor)
        say(f"updated {entity.spec.describe(saved)} (version {saved.version})")
        return EXIT_OK
    updated = table.update(
        record.id,
        changes,
        expected_version=record.version,
        actor=actor,
        base=table.base_of(record),
    )
    say(f"updated {entity.spec.describe(updated.record)} (version {updated.record.version})")
    if updated.merged_note is not None:
        say(updated.merged_note)
    return EXIT_OK


def cmd_set_secret(args: argparse.Namespace, db: Database) -> int:
    """Set a record's password from a prompt (twice) or one line of stdin, never argv."""
    entity = entity_of(args)
    name = entity.secret_name
    table = db.table(entity.name)
    record = lookup(table, args.record)
    if args.secret_stdin:
        secret = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    elif not sys.stdin.isatty():
        warn(f"{PROG}: error: no terminal to ask on: pipe the {name} with --{name}-stdin")
        return EXIT_USAGE
    else:
        import getpass  # only here: every other command starts without it

        secret = getpass.getpass(f"New {name}: ")
        if getpass.getpass("Repeat it: ") != secret:
            warn(f"{PROG}: the two {name}s do not match: nothing changed")
            return EXIT_REFUSED
    actor = Actor.from_environment(source="cli")
    table.set_secret(record.id, secret, expected_version=record.version, actor=actor)
    say(f"{name} set for {entity.spec.describe(record)}")
    return EXIT_OK
