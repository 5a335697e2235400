"""What differs between users and products on the command line: their table columns, their
``add`` options and what deleting one does to others.

The generic commands (`tui.cli.records`, `tui.cli.transfer`) and the parser read these; adding
an entity to the command line means adding its `EntityCommands` here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from data.entities import entity_named
from data.entity import Entity as EntityNames
from tui.malformed import malformed_cell
from tui.text import fit

if TYPE_CHECKING:
    from data.database import Database
    from data.specs import EntitySpec


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
        return self.names.counted(count)


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _orphaned_products(db: Database, user_id: int, done: bool) -> str | None:
    """``3 products will lose their owner`` (before) / ``3 products lost their owner`` (after)."""
    found = db.dependants("users", [user_id])
    count = sum(d.count for d in found)
    if not count:
        return None
    products = entity_named("products").counted(count)
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


def entity_of(args: argparse.Namespace) -> EntityCommands:
    """The entity a parsed command acts on (its ``entity`` argument or default)."""
    return ENTITIES[args.entity]
