"""Records as stored, whoever stored them.

Another tool (the sqlite3 shell, psql, a script) can write what validation would refuse:
text in a SQLite NUMERIC column, a negative price where no CHECK stops it, an address that
is no address. Such a value is read as `Malformed` (the column types do that for values
they cannot convert; `checked` for values of the right type that validation refuses), so
one bad row is listed, marked, opened, fixed, deleted and exported like any other, and
never blocks the table.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import fields, replace
from typing import Any, TypeVar

from data.errors import Invalid
from data.validation import FieldError, Validator
from models import Malformed
from models.plain import raw_text

RecordT = TypeVar("RecordT")
# The reason a stored value is refused, or None when it is acceptable.
StoredCheck = Callable[[Any], str | None]


def stored_check(validator: Validator, plainly: Callable[[Any], bool] | None = None) -> StoredCheck:
    """A check of stored values by the field's own ``validator``.

    ``plainly`` passes the common case without the validator's cost (a page of a thousand
    rows is checked on every read); whatever it does not pass, the validator judges.
    """

    def check(value: Any) -> str | None:
        if plainly is not None and plainly(value):
            return None
        try:
            validator(value)
        except FieldError as error:
            return str(error)
        return None

    return check


def checked(record: RecordT, checks: Mapping[str, StoredCheck]) -> RecordT:
    """``record`` with each value its check refuses replaced by a `Malformed` one."""
    bad: dict[str, Malformed] = {}
    for name, check in checks.items():
        value = getattr(record, name)
        if isinstance(value, Malformed):
            continue
        reason = check(value)
        if reason is not None:
            raw = "" if value is None else raw_text(value)
            bad[name] = Malformed(raw, reason, value)
    return replace(record, **bad) if bad else record  # type: ignore[type-var]


def malformed_fields(record: Any) -> dict[str, Malformed]:
    """Field -> `Malformed` value, for each value of ``record`` that could not be accepted."""
    return {
        field.name: value
        for field in fields(record)
        if isinstance(value := getattr(record, field.name), Malformed)
    }


def describe(value: Malformed) -> str:
    """Why a stored value is refused, for beside its field: ``holds 'abc', which is not a
    number``."""
    shown = "nothing (NULL)" if value.stored is None else repr(value.raw)
    return f"holds {shown}, which {value.reason}"


def refuse_unfixed(record: Any, *, editable: Collection[str], changing: Collection[str]) -> None:
    """`Invalid` naming each editable field of ``record`` that holds a malformed value and
    is not being given a new one: a record is saved whole and valid, or not at all."""
    errors = {
        name: f"{describe(value)}: enter a valid value"
        for name, value in malformed_fields(record).items()
        if name in editable and name not in changing
    }
    if errors:
        raise Invalid(errors)


class MalformedTally:
    """Counts the records passing through it that hold a malformed value: what a listing
    or an export warns about once it is done."""

    def __init__(self) -> None:
        self.records = 0

    def through(self, records: Iterable[RecordT]) -> Iterator[RecordT]:
        """``records`` unchanged, counted."""
        for record in records:
            if malformed_fields(record):
                self.records += 1
            yield record

    def warning(self, plural: str, entity: str) -> str | None:
        """``2 products hold values that could not be read ...``; None when none did."""
        if not self.records:
            return None
        subject = f"1 {entity} holds" if self.records == 1 else f"{self.records:,} {plural} hold"
        return f"{subject} values stored by another tool that could not be read (kept as stored)"


__all__ = [
    "Malformed",
    "MalformedTally",
    "StoredCheck",
    "checked",
    "describe",
    "malformed_fields",
    "refuse_unfixed",
    "stored_check",
]
