"""What AccessGuard stores: SQLAlchemy declarative models and nothing else."""

# AccessGuard's own package: tui.cli.ownership looks for this line.

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from models.plain import ROLES, Malformed

if TYPE_CHECKING:
    from models.audit import ACTIONS, AuditEntry
    from models.base import Base, UTCDateTime, utcnow
    from models.product import Product
    from models.user import User

# Name -> its module. Loaded when first asked for, not with the package: `models.plain`
# must be readable before SQLAlchemy loads (the console's first page).
_LAZY = {
    "ACTIONS": "models.audit",
    "AuditEntry": "models.audit",
    "Base": "models.base",
    "UTCDateTime": "models.base",
    "utcnow": "models.base",
    "Product": "models.product",
    "User": "models.user",
}
# Every model, so that the first name asked for puts every table on Base.metadata, as
# importing this package did before it loaded lazily.
_MODELS = ("models.user", "models.product", "models.audit")


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for each in _MODELS:
        importlib.import_module(each)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ACTIONS",
    "ROLES",
    "AuditEntry",
    "Base",
    "Malformed",
    "Product",
    "UTCDateTime",
    "User",
    "utcnow",
]
