"""The original seeds' schema: what their ``Base.metadata.create_all`` produced.

Revision ID: 0001_seeds
Revises:

The seeds declared ``User(id, name, email)`` and ``Product(id, name, price)`` on a plain
``declarative_base()`` with ``index=True`` on the ids and a unique index on the email. A
database they created is "legacy": `data.schema.upgrade` stamps it with this revision and
lets 0002 convert it. On an empty database this revision builds the same tables, so every
database reaches head through one path.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_seeds"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The seeds wrote bare String; 255 makes the same DDL acceptable to MySQL, which needs a length.
TEXT_MAX = 255


def _seeds_metadata() -> sa.MetaData:
    """The seeds' tables on a MetaData without naming convention, as their Base had.

    Built with ``create_all`` rather than ``op.create_table`` on purpose: Alembic would apply
    AccessGuard's naming convention, and the point of this revision is the seeds' own names
    (``users_pkey``, ``ix_users_email``, ...), the ones real legacy databases carry.
    """
    metadata = sa.MetaData()
    sa.Table(
        "users",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, index=True),
        sa.Column("name", sa.String(TEXT_MAX)),
        sa.Column("email", sa.String(TEXT_MAX), unique=True, index=True),
    )
    sa.Table(
        "products",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, index=True),
        sa.Column("name", sa.String(TEXT_MAX)),
        sa.Column("price", sa.Float),
    )
    return metadata


def upgrade() -> None:
    """Create the seeds' users and products tables."""
    _seeds_metadata().create_all(op.get_bind(), checkfirst=False)


def downgrade() -> None:
    """Drop the seeds' tables (and with them whatever rows they hold)."""
    _seeds_metadata().drop_all(op.get_bind(), checkfirst=False)
