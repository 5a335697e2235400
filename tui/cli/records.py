"""The commands on records: ``users list|add|delete`` and the same for every entity."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from data.actor import Actor
from data.records import PageRequest
from tui.cli.entities import entity_of
from tui.cli.output import EXIT_OK, confirm, print_table, say, warn, warn_malformed
from tui.text import for_terminal

if TYPE_CHECKING:
    from data.database import Database


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
