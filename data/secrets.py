"""A record's secret (a password): set, cleared and checked, never read back.

The hash stays in data/; records, exports and the audit only ever say "set" or "not set".
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from data.actor import Actor
from data.entity import Field
from data.errors import Conflict, Invalid
from data.passwords import hash_password, verify_password
from data.specs import EntitySpec
from data.trail import new_batch, write_entry
from data.translate import StaleWrite
from data.unit import reading, writing
from data.validation import password as validate_password
from data.validation import validate_fields


class _Store(Protocol):
    """What a record store offers that these operations build on."""

    spec: EntitySpec[Any, Any]
    _sessions: sessionmaker[Session]

    def lock_for_write(self, *, session: Session, record_id: int, expected_version: int) -> Any:
        """The row, locked, still at ``expected_version``."""

    def require(self, *, session: Session, record_id: int) -> Any:
        """The record as it is in ``session``'s transaction."""

    def conflict(self, record_id: int) -> Conflict:
        """The `Conflict` of a versioned write that found the row moved on."""


class KeepsSecrets:
    """The secret operations of a record store (`data.tables.RecordStore`)."""

    def set_secret(
        self: _Store, record_id: int, new_secret: str | None, *, expected_version: int, actor: Actor
    ) -> Any:
        """Set (or with None, clear) the record's password; audited by name, never the hash."""
        field = _secret_field(self.spec)
        secret_hash = None
        if new_secret is not None:
            clean = validate_fields({field.name: validate_password}, {field.name: new_secret})
            # Hash before the transaction: argon2 is deliberately slow, locks should not be.
            secret_hash = hash_password(clean[field.name])
        try:
            with writing(self._sessions) as session:
                obj = self.lock_for_write(
                    session=session, record_id=record_id, expected_version=expected_version
                )
                had_secret = getattr(obj, field.stored_as) is not None
                setattr(obj, field.stored_as, secret_hash)
                session.flush()
                write_entry(
                    session,
                    actor=actor,
                    batch=new_batch(),
                    action="password",
                    entity=self.spec.entity,
                    record_id=record_id,
                    old={
                        field.name: "set" if had_secret else "not set",
                        "version": expected_version,
                    },
                    new={
                        field.name: "changed" if secret_hash else "cleared",
                        "version": obj.version,
                    },
                )
                return self.require(session=session, record_id=record_id)
        except StaleWrite:
            raise self.conflict(record_id) from None

    def check_secret(self: _Store, key: str, candidate: str) -> bool:
        """Whether ``candidate`` is the password of the record whose natural key is ``key``."""
        field = _secret_field(self.spec)
        try:
            clean = validate_fields(self.spec.validators, {self.spec.natural_key: key})
        except Invalid:
            return False  # no record has a key that is not even valid
        model = self.spec.model
        with reading(self._sessions) as session:
            stored = session.scalar(
                select(getattr(model, field.stored_as)).where(
                    getattr(model, self.spec.natural_key) == clean[self.spec.natural_key]
                )
            )
        return stored is not None and verify_password(stored, candidate)


def _secret_field(spec: EntitySpec[Any, Any]) -> Field:
    field = spec.declared.secret
    if field is None:
        raise Invalid({"password": f"{spec.plural} have no password"})
    return field
