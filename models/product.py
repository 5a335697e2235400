"""Things AccessGuard's admins sell, each optionally owned by a user."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import (
    Base,
    Flag,
    Money,
    UTCDateTime,
    WholeNumber,
    exact_key,
    searchable,
    sortable,
    utcnow,
)
from models.user import User

SKU_MAX = 32
NAME_MAX = 200
DESCRIPTION_MAX = 2000


class Product(Base):
    """A product with a unique SKU, a price in Decimal (2 places) and a stock count."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        # An id names one product forever: SQLite would otherwise reuse a deleted newest id.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(exact_key(SKU_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX), default="", server_default="")
    price: Mapped[Decimal] = mapped_column(Money(12, 2, asdecimal=True))
    stock: Mapped[int] = mapped_column(WholeNumber, default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(Flag, default=True, server_default=true())
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")

    owner: Mapped[User | None] = relationship(back_populates="products")

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"Product(id={self.id!r}, sku={self.sku!r})"


sortable(
    Product.name,
    Product.price,
    Product.stock,
    Product.is_active,
    Product.created_at,
    Product.updated_at,
    fold_case={"name"},
)
searchable(Product.sku, Product.name)
