"""The audit commands: ``audit list``, ``audit show ID`` and ``audit restore ID``."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

from data.actor import Actor
from data.entities import entity_named
from data.entity import counted
from tui.cli.entities import Column, fitted
from tui.cli.output import EXIT_OK, confirm, print_json, print_table, say, warn
from tui.restoring import restore_question
from tui.text import for_terminal, shown
from tui.views import AUDIT_COLUMNS, ID_COLUMN, timestamp

if TYPE_CHECKING:
    from data.audit_record import AuditRecord
    from data.database import Database

# An entry's fields in the order the csv and json formats write them.
ENTRY_FIELDS = (
    "id",
    "at",
    "actor",
    "source",
    "batch",
    "action",
    "entity",
    "record_id",
    "old",
    "new",
    "reverts_id",
    "db_login",
)


@cache
def audit_columns() -> tuple[Column, ...]:
    """The table format's columns: the entry's id, then the console's audit columns."""
    shown_columns = (ID_COLUMN, *AUDIT_COLUMNS)
    return fitted(shown_columns, [column.key for column in shown_columns])


def cmd_audit_list(args: argparse.Namespace, db: Database) -> int:
    """List the entries that match, newest first, streamed so memory stays flat."""
    from data.audit_filters import AuditFilter

    where = AuditFilter(
        entity=entity_named(args.entity).entity if args.entity else None,
        record_id=args.record,
        actor=args.actor,
        since=args.since,
    )
    entries = db.audit.stream(where, limit=args.limit)
    if args.format == "table":
        count = print_table(audit_columns(), entries)
        warn(counted(count, "entry", "entries"))
    elif args.format == "json":
        print_json([entry_values(entry) for entry in entries])
    else:
        _write_csv(entries)
    return EXIT_OK


def entry_values(entry: AuditRecord) -> dict[str, Any]:
    """One entry as JSON-ready values; ``old`` and ``new`` stay objects."""
    values = {name: getattr(entry, name) for name in ENTRY_FIELDS}
    values["at"] = entry.at.isoformat()
    return values


def _write_csv(entries: Iterable[AuditRecord]) -> None:
    import json

    from data.import_files import neutralise

    writer = csv.writer(for_terminal(sys.stdout))
    writer.writerow(ENTRY_FIELDS)
    for entry in entries:
        values = entry_values(entry)
        for name in ("old", "new"):  # a cell holds text: the states go as JSON
            values[name] = "" if values[name] is None else json.dumps(values[name])
        writer.writerow(
            neutralise(value) if isinstance(value, str) else shown(value)
            for value in values.values()
        )


def cmd_audit_show(args: argparse.Namespace, db: Database) -> int:
    """Print one entry whole: who, when, what, and each field before and after."""
    entry = db.audit.get(args.id)
    if args.format == "json":
        print_json(entry_values(entry))
        return EXIT_OK
    record = entry.entity if entry.record_id is None else f"{entry.entity} {entry.record_id}"
    lines = {
        "id": entry.id,
        "at": f"{timestamp(entry.at)} UTC",
        "actor": entry.actor,
        "source": entry.source,
        "database login": entry.db_login,
        "batch": entry.batch,
        "action": entry.action,
        "record": record,
        "reverts": entry.reverts_id,
    }
    for name, value in lines.items():
        if value is not None:
            say(f"{name}: {value}")
    say("changes:" if entry.changes else "changes: none")
    for name, (old, new) in entry.changes.items():
        say(f"  {name}: {_state(old)} -> {_state(new)}")
    return EXIT_OK


def _state(value: Any) -> str:
    return "-" if value is None else shown(value)


def cmd_audit_restore(args: argparse.Namespace, db: Database) -> int:
    """Put an entry's record back to its state before the entry, after a yes."""
    plan = db.audit.restore_plan(args.id)
    if not args.yes:
        title, text = restore_question(plan)
        for line in text.splitlines():
            warn(line)
        refusal = confirm(title, verb="restore", done="restored")
        if refusal is not None:
            return refusal
    actor = Actor.from_environment(source="cli")
    # The version shown in the question: if someone changed the record since, a Conflict.
    written = db.audit.restore(args.id, actor=actor, expected_version=plan.version)
    say(f"restored {plan.label} to its state before entry {args.id} (entry {written.id})")
    return EXIT_OK
