"""The audit trail: one entry per change, written in the changing transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow

ACTIONS = ("create", "update", "delete", "restore", "password", "import", "seed")
ACTOR_MAX = 200
DB_LOGIN_MAX = 400  # MariaDB: an 80-character user, "@", a 255-character host


class AuditEntry(Base):
    """Who changed which record, when, and from what to what.

    ``batch`` groups the entries of one unit of work (a bulk delete is one change to the
    admin, so undo reverts the whole batch). ``reverts_id`` links a restore to the entry it
    undid, which is how undo knows what has already been undone.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        CheckConstraint(
            "action IN ({})".format(", ".join(f"'{action}'" for action in ACTIONS)),
            name="action_allowed",
        ),
        Index(None, "entity", "record_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(ACTOR_MAX), index=True)
    os_user: Mapped[str] = mapped_column(String(64))
    sudo_user: Mapped[str | None] = mapped_column(String(64), default=None)
    client_addr: Mapped[str | None] = mapped_column(String(64), default=None)
    source: Mapped[str] = mapped_column(String(64), default="")
    # The database account that wrote the entry (PostgreSQL / MariaDB; None on SQLite).
    db_login: Mapped[str | None] = mapped_column(String(DB_LOGIN_MAX), default=None)
    batch: Mapped[str] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(String(16))
    entity: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[int | None] = mapped_column(Integer, default=None)
    old_values: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    new_values: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    reverts_id: Mapped[int | None] = mapped_column(
        ForeignKey("audit_entries.id", ondelete="SET NULL"), index=True, default=None
    )

    def __repr__(self) -> str:
        return f"AuditEntry(id={self.id!r}, action={self.action!r}, entity={self.entity!r})"
