"""What users and products are called, and which fields sort and search them, as plain names.

The command line's parser and the console's first frame need these words before the data
core is loaded (loading SQLAlchemy and the models takes longer than drawing the whole
screen), so they live here, free of SQLAlchemy. `data.specs` builds its column maps from
them, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EntityNames:
    """The names of one kind of record: ``user`` / ``users``, its sort and search fields."""

    entity: str
    plural: str
    sort_fields: tuple[str, ...]
    search_fields: tuple[str, ...]

    def counted(self, count: int) -> str:
        """``1 user``, ``1,234 users``."""
        return counted(count, self.entity, self.plural)


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and the noun that agrees with it: ``1 change``, ``0 changes``, ``1,234 rows``."""
    word = noun if count == 1 else (plural or f"{noun}s")
    return f"{count:,} {word}"


USER_NAMES = EntityNames(
    entity="user",
    plural="users",
    sort_fields=("id", "name", "email", "role", "is_active", "created_at", "updated_at"),
    search_fields=("name", "email"),
)

PRODUCT_NAMES = EntityNames(
    entity="product",
    plural="products",
    sort_fields=("id", "sku", "name", "price", "stock", "is_active", "created_at", "updated_at"),
    search_fields=("sku", "name"),
)

__all__ = ["PRODUCT_NAMES", "USER_NAMES", "EntityNames", "counted"]
