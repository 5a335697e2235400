"""Helpers for data tests: looking up what the product itself never needs to look up."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from data.audit import to_record
from data.audit_record import AuditRecord
from data.database import Database
from data.unit import reading
from models import AuditEntry, User


def find(db: Database, entity: str, key: str) -> Any:
    """The ``entity`` record whose natural key (email or SKU) is ``key`` once validated."""
    return db.table(entity).find(key)


def password_matches(db: Database, email: str, candidate: str) -> bool:
    """Whether ``candidate`` is the password of the user with ``email``."""
    with reading(db.sessions) as session:
        stored = session.scalar(
            select(User.password_hash).where(User.email == email.strip().lower())
        )
    if stored is None:
        return False
    try:
        return PasswordHasher().verify(stored, candidate)
    except (VerificationError, InvalidHashError):
        return False


def record_history(db: Database, entity: str, record_id: int) -> tuple[AuditRecord, ...]:
    """Every audit entry about one record, oldest first."""
    with reading(db.sessions) as session:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == entity, AuditEntry.record_id == record_id)
            .order_by(AuditEntry.id)
        )
        return tuple(to_record(entry) for entry in entries)
