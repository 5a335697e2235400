"""The cheap test that a stored value is acceptable, per kind of field, without SQLAlchemy.

Both readers of rows use it: the data core (`data.specs`, through `data.stored.checked`)
and the console's first page (`data.first_page`), which runs before SQLAlchemy loads. The
limits a test needs (a price's most, a count's) come from the column: the data core reads
them from the model's column type, the first page from the table's declared type.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from data.entity import Field
from data.validation import is_plain_address

PlainCheck = Callable[[Any], bool]
INTEGER_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


def money_max(precision: int, scale: int) -> Decimal:
    """The most a ``Numeric(precision, scale)`` holds: 9999999999.99 for (12, 2)."""
    return Decimal(10) ** (precision - scale) - Decimal(1).scaleb(-scale)


def plain_check(item: Field, top: Decimal | int | None = None) -> PlainCheck | None:
    """A cheap test that a stored ``item`` value is acceptable; None: not checked when read.

    ``top`` is the most a money or count column holds. What it does not pass, the field's
    validator judges (`data.stored.stored_check`).
    """
    match item.kind:
        case "text" | "code":
            return is_filled
        case "email":
            return is_plain_address
        case "choice":
            assert item.choices is not None
            choices = item.choices
            return lambda value: value in choices()
        case "flag":
            return lambda value: isinstance(value, bool)
        case "money":
            assert isinstance(top, Decimal)
            money_top = top
            return lambda value: (
                isinstance(value, Decimal) and value.is_finite() and 0 <= value <= money_top
            )
        case "count":
            assert isinstance(top, int)
            count_top = top
            return lambda value: isinstance(value, int) and 0 <= value <= count_top
    return None


def is_filled(value: Any) -> bool:
    """Whether a stored text is there: not missing, not blank."""
    # Other checks (control characters, length) are for what people type: stored text is
    # shown made visible, so only an empty or missing value is marked here.
    return isinstance(value, str) and bool(value.strip())


__all__ = ["BIGINT_MAX", "INTEGER_MAX", "PlainCheck", "is_filled", "money_max", "plain_check"]
