"""What AccessGuard stores: SQLAlchemy declarative models and nothing else."""

# AccessGuard's own package: tui.cli.ownership looks for this line.

from models.audit import ACTIONS, AuditEntry
from models.base import Base, Malformed, UTCDateTime, utcnow
from models.product import Product
from models.user import ROLES, User

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
