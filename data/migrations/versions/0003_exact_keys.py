"""Emails and SKUs compare byte for byte on MySQL/MariaDB, as they do on SQLite and PostgreSQL.

Revision ID: 0003_exact_keys
Revises: 0002_accessguard

MariaDB's default collation (utf8mb4_unicode_ci / general_ci) treats ``josé@…`` and
``jose@…`` as equal, so its unique index refused a second, different mailbox. The data core
already normalises both keys (email lower case, SKU upper case) before storing them, so the
index must compare exactly: utf8mb4_bin. SQLite and PostgreSQL already do; nothing changes
for them.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003_exact_keys"
down_revision: str | Sequence[str] | None = "0002_accessguard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Lengths as they were at this revision (see 0002 for why they are copied, not imported).
EMAIL_MAX = 254
SKU_MAX = 32
KEYS = (("users", "email", EMAIL_MAX), ("products", "sku", SKU_MAX))


def upgrade() -> None:
    """Give the key columns a binary collation on MySQL/MariaDB."""
    _collate(binary=True)


def downgrade() -> None:
    """Back to the table's default collation."""
    _collate(binary=False)


def _collate(*, binary: bool) -> None:
    if op.get_bind().dialect.name != "mysql":
        return
    for table, column, length in KEYS:
        exact = mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin")
        default = mysql.VARCHAR(length)
        op.alter_column(
            table,
            column,
            existing_type=default if binary else exact,
            type_=exact if binary else default,
            existing_nullable=False,
        )
