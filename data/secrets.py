"""A record's secret (a password): set or cleared, never read back.

The hash stays in data/; records, exports and the audit only ever say "set" or "not set".
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from data.actor import Actor
from data.entity import Field
from data.errors import Conflict, Invalid
from data.specs import EntitySpec
from data.trail import new_batch, write_entry
from data.translate import StaleWrite
from data.unit import writing
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
            # argon2 (and cffi) load on the first password set, not with every table.
            from data.passwords import hash_password

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


def _secret_field(spec: EntitySpec[Any, Any]) -> Field:
    field = spec.declared.secret
    if field is None:
        raise Invalid({"password": f"{spec.plural} have no password"})
    return field
