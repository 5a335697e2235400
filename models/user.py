"""The people who use the systems AccessGuard administers."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Flag, UTCDateTime, exact_key, searchable, sortable, utcnow
from models.plain import ROLES

if TYPE_CHECKING:
    from models.product import Product

NAME_MAX = 100
EMAIL_MAX = 254  # RFC 5321 path limit
PASSWORD_HASH_MAX = 255


class User(Base):
    """A user account. The email is stored normalised (trimmed, lower case) and unique."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ({})".format(", ".join(f"'{role}'" for role in ROLES)), name="role_allowed"
        ),
        # An id names one user forever: SQLite would otherwise reuse a deleted newest id.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    email: Mapped[str] = mapped_column(exact_key(EMAIL_MAX), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="viewer", server_default="viewer")
    is_active: Mapped[bool] = mapped_column(Flag, default=True, server_default=true())
    password_hash: Mapped[str | None] = mapped_column(String(PASSWORD_HASH_MAX), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")

    products: Mapped[list[Product]] = relationship(back_populates="owner", passive_deletes=True)

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, email={self.email!r})"


sortable(User.name, User.role, User.is_active, User.created_at, User.updated_at, fold_case={"name"})
searchable(User.name, User.email)
