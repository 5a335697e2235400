"""The data core's front door: one engine, one session factory, and the operations on them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, sessionmaker

from data.actor import Actor
from data.audit import AuditLog
from data.config import display_url
from data.engine import create_database_engine, exposed_file_warnings, make_sessionmaker
from data.errors import NotFound
from data.passwords import hash_password
from data.records import ProductRecord, UserRecord
from data.specs import PRODUCTS, USERS
from data.tables import RecordStore
from data.trail import new_batch, write_entry
from data.translate import StaleWrite
from data.unit import reading, writing
from data.validation import password as validate_password
from data.validation import validate_fields
from models import Product, User


class Database:
    """Everything the console and the CLI do to the database.

    Built once per process around the engine it is given; each method is one unit of work
    and is safe to call from any thread.
    """

    def __init__(self, engine: Engine, *, url: URL | None = None) -> None:
        self.engine = engine
        # The URL as the admin gave it (a server engine's own may hold added options).
        self._url = url or engine.url
        self.sessions: sessionmaker[Session] = make_sessionmaker(engine)
        self.users: RecordStore[User, UserRecord] = RecordStore(USERS, self.sessions)
        self.products: RecordStore[Product, ProductRecord] = RecordStore(PRODUCTS, self.sessions)
        self.audit = AuditLog(self.sessions)

    @classmethod
    def connect(cls, url: URL, *, read_only: bool = False) -> Database:
        """Build the engine for ``url`` (nothing connects until the first operation)."""
        return cls(create_database_engine(url, read_only=read_only), url=url)

    @property
    def url(self) -> str:
        """The database URL with its password masked, fit for any screen or log."""
        return display_url(self._url)

    def exposure_warnings(self) -> list[str]:
        """Warnings to show at start: a database file other users of the machine can open."""
        return exposed_file_warnings(self._url)

    @property
    def backend(self) -> str:
        """``sqlite``, ``postgresql`` or ``mysql``."""
        return self.engine.url.get_backend_name()

    def table(self, entity: str) -> RecordStore[Any, Any]:
        """The record table for ``user`` / ``users`` or ``product`` / ``products``."""
        for table in (self.users, self.products):
            if entity in (table.spec.entity, table.spec.plural):
                return table
        raise NotFound(f"There is no table called {entity!r}.")

    def products_owned_by(self, user_ids: list[int]) -> int:
        """How many products would lose their owner if these users were deleted."""
        with reading(self.sessions) as session:
            stmt = select(func.count()).select_from(Product).where(Product.owner_id.in_(user_ids))
            return int(session.scalar(stmt) or 0)

    def set_password(
        self, user_id: int, new_password: str | None, *, expected_version: int, actor: Actor
    ) -> UserRecord:
        """Set (or with None, clear) a user's password; audited as "password", never the hash."""
        password_hash = None
        if new_password is not None:
            clean = validate_fields({"password": validate_password}, {"password": new_password})
            # Hash before the transaction: argon2 is deliberately slow, locks should not be.
            password_hash = hash_password(clean["password"])
        try:
            with writing(self.sessions) as session:
                user = self.users.lock_for_write(
                    session=session, record_id=user_id, expected_version=expected_version
                )
                had_password = user.password_hash is not None
                user.password_hash = password_hash
                session.flush()
                write_entry(
                    session,
                    actor=actor,
                    batch=new_batch(),
                    action="password",
                    entity="user",
                    record_id=user_id,
                    old={
                        "password": "set" if had_password else "not set",
                        "version": expected_version,
                    },
                    new={
                        "password": "changed" if password_hash else "cleared",
                        "version": user.version,
                    },
                )
                return self.users.require(session=session, record_id=user_id)
        except StaleWrite:
            raise self.users.conflict(user_id) from None

    def dispose(self) -> None:
        """Close every pooled connection (at exit)."""
        self.engine.dispose()
