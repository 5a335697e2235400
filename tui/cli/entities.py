"""Each entity on the command line: its table columns, its ``add`` options and what deleting
one does to others, derived from its declaration (`data.entity`).

The generic commands (`tui.cli.records`, `tui.cli.transfer`) and the parser read these; an
entity declared in ``data/entities/`` has its commands with no line here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import TYPE_CHECKING, Any

from data.entities import entity_named, registered
from data.entity import Entity, Field
from tui.malformed import malformed_cell
from tui.text import fit
from tui.views import view_of

if TYPE_CHECKING:
    from data.database import Database
    from data.specs import EntitySpec
    from tui.views import ColumnSpec


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
    # A yes/no field: ``--active`` / ``--no-active`` rather than a value.
    switch: bool = False


@dataclass(frozen=True)
class EntityCommands:
    """What the generic list / add / delete / export / import commands need about an entity."""

    names: Entity
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
        from data.specs import spec_of

        return spec_of(self.names.plural)

    @property
    def secret_name(self) -> str:
        """What its secret field is called (``password``); "" when it has none."""
        secret = self.names.secret
        return "" if secret is None else secret.name

    def counted(self, count: int) -> str:
        """``1 user``, ``3 users``."""
        return self.names.counted(count)


# One line on an 80-column terminal: the columns and their two-space gaps fill 79 cells.
LINE_WIDTH = 79
GAP = 2
ID_WIDTH = 5


@cache
def commands_of(declared: Entity) -> EntityCommands:
    """The command line's side of one declared entity."""
    return EntityCommands(
        names=declared,
        columns=_columns(declared),
        add_options=tuple(_add_option(item) for item in declared.editable),
        delete_impact=partial(_delete_impact, declared.plural),
    )


def entity_commands() -> dict[str, EntityCommands]:
    """Plural -> the commands of every registered entity, in the order of their keys."""
    return {declared.plural: commands_of(declared) for declared in registered()}


def _columns(declared: Entity) -> tuple[Column, ...]:
    """The console's columns, titled by their fields' whole names."""
    shown = view_of(declared).columns  # the id, then each field with a width, in order
    fields = [item for item in declared.fields if item.width]
    return fitted(shown, ["id", *(item.title.lower() for item in fields)])


def fitted(shown: Sequence[ColumnSpec], titles: Sequence[str]) -> tuple[Column, ...]:
    """The console's columns ``shown``, titled ``titles``, at the widths of a line: the
    least each needs to show its title, then the spare room shared out by the same weights
    as the console's."""
    widths = [
        ID_WIDTH if spec.key == "id" else max(spec.width, len(title))
        for spec, title in zip(shown, titles, strict=True)
    ]
    spare = LINE_WIDTH - sum(widths) - GAP * (len(widths) - 1)
    weights = sum(spec.grow for spec in shown)
    if spare > 0 and weights:
        shares = [spare * spec.grow // weights for spec in shown]
        biggest = max(range(len(shown)), key=lambda i: shown[i].grow)
        shares[biggest] += spare - sum(shares)
        widths = [width + share for width, share in zip(widths, shares, strict=True)]
    return tuple(
        Column(title, width, spec.render, right=spec.align == "right", field=spec.key)
        for spec, title, width in zip(shown, titles, widths, strict=True)
    )


def _add_option(item: Field) -> AddOption:
    word = item.name.removeprefix("is_").replace("_", "-")
    metavar = word.upper()
    if item.kind == "relation":
        metavar = entity_named(item.to).natural_key.upper()
    return AddOption(
        f"--{word}",
        item.name,
        metavar,
        item.help or item.title.lower(),
        required=item.required,
        switch=item.kind == "flag",
    )


def _delete_impact(plural: str, db: Database, record_id: int, done: bool) -> str | None:
    """``3 products will lose their owner`` (before) / ``3 products lost their owner`` (after)."""
    found = db.dependants(plural, [record_id])
    return "; ".join(d.consequence(done=done) for d in found) or None


def entity_of(args: argparse.Namespace) -> EntityCommands:
    """The entity a parsed command acts on (its ``entity`` argument or default)."""
    return entity_commands()[args.entity]
