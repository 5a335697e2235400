"""How an entity is declared: its names, its screen key, and its fields, once.

An entity is a model in ``models/``, one `Entity` in ``data/entities/`` and one migration.
The data core (``data.specs``), the console (``tui.views``) and the command line
(``tui.cli``) derive everything else from the declaration: the record class and the query
that fills it, validation, the table's columns, the form, the relation picker, the CLI's
subcommands and options, import and export names, and the audit.

This module loads no SQLAlchemy: the command line's parser and the console's first frame
read declarations before the data core is loaded. The model is named, not imported. A
declaration is a NamedTuple (a frozen dataclass costs every start more to define: see
docs/design.md), checked when it is registered (`check_declaration`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

# What a field holds; each kind has its validator, its widget and its cell format:
#   text       one trimmed line, not empty          multiline  free text, may be empty
#   email      an address, stored lower case        code       letters, digits - _ . upper case
#   money      a Decimal >= 0, 2 places             count      a whole number >= 0
#   choice     one of ``choices``                   flag       yes or no
#   relation   another entity's record (``to``)     secret     a password, stored hashed
Kind = Literal[
    "text", "multiline", "email", "code", "money", "count", "choice", "flag", "relation", "secret"
]
# What deleting a record does to the records that point at it through a relation.
OnDelete = Literal["unlink", "refuse"]

# Every entity has these, kept by the data core: they are not declared.
ID = "id"
CLOCK_FIELDS = ("created_at", "updated_at")


class Field(NamedTuple):
    """One field of an entity, as every part of the product shows and checks it.

    ``width`` is the least width of its column in the console's table (0: not a column) and
    ``grow`` its share of spare room; ``column`` is the column's short title where the label
    is too long. ``sort`` and ``search`` make it a sort key and a search column (the model
    declares the matching indexes). ``help`` is the command line's option help.
    """

    name: str
    kind: Kind
    label: str = ""
    column: str = ""
    width: int = 0
    grow: int = 0
    sort: bool = False
    search: bool = False
    required: bool = False
    default: Any = None
    placeholder: str = ""
    help: str = ""
    choices: Callable[[], tuple[str, ...]] | None = None
    # A relation: the entity it names (by plural), and what deleting that record does here.
    to: str = ""
    on_delete: OnDelete = "unlink"

    @property
    def title(self) -> str:
        """The form's label: ``Active`` for ``is_active`` unless declared."""
        return self.label or self.name.removeprefix("is_").replace("_", " ").capitalize()

    @property
    def column_title(self) -> str:
        """The table column's title."""
        return self.column or self.title

    @property
    def stored_as(self) -> str:
        """The model attribute that holds it: ``owner_id`` for a relation, ``password_hash``
        for a secret, else its name."""
        if self.kind == "relation":
            return f"{self.name}_id"
        if self.kind == "secret":
            return f"{self.name}_hash"
        return self.name

    @property
    def editable(self) -> bool:
        """Whether forms, updates and imports set it (a secret has its own command)."""
        return self.kind != "secret"


class Entity(NamedTuple):
    """One kind of record: declared once, derived everywhere.

    ``model`` names the SQLAlchemy class as ``module:Class``. ``natural_key`` is the unique
    field people know a record by (email, SKU): messages, links and imports use it. ``key``
    is the console key that opens its screen (3 is the audit log's). ``display`` is the field
    shown beside the natural key where a record is picked (a relation's search).
    """

    entity: str
    plural: str
    key: str
    model: str
    natural_key: str
    fields: tuple[Field, ...]
    title: str = ""
    display: str = ""
    # Sample commands for the command line's help, with the entity's own values.
    examples: tuple[str, ...] = ()

    @property
    def screen_title(self) -> str:
        """``Users``."""
        return self.title or self.plural.capitalize()

    def field(self, name: str) -> Field:
        """The field called ``name``."""
        for item in self.fields:
            if item.name == name:
                return item
        raise KeyError(f"{self.plural} have no field {name!r}")

    @property
    def editable(self) -> tuple[Field, ...]:
        """The fields forms, updates and imports set, in declared order."""
        return tuple(item for item in self.fields if item.editable)

    @property
    def relations(self) -> tuple[Field, ...]:
        """The fields that name a record of another entity."""
        return tuple(item for item in self.fields if item.kind == "relation")

    @property
    def secret(self) -> Field | None:
        """The password field, if these records have one."""
        return next((item for item in self.fields if item.kind == "secret"), None)

    @property
    def sort_fields(self) -> tuple[str, ...]:
        """The sort keys: the id, the fields declared ``sort``, then the times."""
        return (ID, *(item.name for item in self.fields if item.sort), *CLOCK_FIELDS)

    @property
    def search_fields(self) -> tuple[str, ...]:
        """The fields a search looks in."""
        return tuple(item.name for item in self.fields if item.search)

    @property
    def display_field(self) -> str:
        """The field shown beside the natural key: declared, else the first other text."""
        if self.display:
            return self.display
        texts = [f.name for f in self.fields if f.kind == "text" and f.name != self.natural_key]
        return texts[0] if texts else self.natural_key

    def counted(self, count: int) -> str:
        """``1 user``, ``1,234 users``."""
        return counted(count, self.entity, self.plural)


def check_declaration(entity: Entity) -> None:
    """Raise ValueError if ``entity`` is declared wrong: a relation without ``to``, a choice
    without ``choices``, a field declared twice, a natural key that is not a field.

    The registry runs it on every entity it is given (`data.entities.register`).
    """
    for item in entity.fields:
        if item.kind == "relation" and not item.to:
            raise ValueError(f"relation {item.name!r} needs `to`: the entity it names")
        if item.kind == "choice" and item.choices is None:
            raise ValueError(f"choice {item.name!r} needs `choices`")
    names = [item.name for item in entity.fields]
    if len(set(names)) != len(names):
        raise ValueError(f"{entity.plural}: a field is declared twice")
    if entity.natural_key not in names:
        raise ValueError(f"{entity.plural}: natural key {entity.natural_key!r} is not a field")


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and the noun that agrees with it: ``1 change``, ``0 changes``, ``1,234 rows``."""
    word = noun if count == 1 else (plural or f"{noun}s")
    return f"{count:,} {word}"


__all__ = [
    "CLOCK_FIELDS",
    "ID",
    "Entity",
    "Field",
    "Kind",
    "OnDelete",
    "check_declaration",
    "counted",
]
