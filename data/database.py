"""The data core's front door: one engine, one session factory, and the operations on them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, sessionmaker

from data.audit import AuditLog
from data.config import display_url
from data.engine import create_database_engine, exposed_file_warnings, make_sessionmaker
from data.errors import NotFound
from data.feed import ChangeFeed
from data.specs import Dependants, spec_of
from data.tables import RecordStore
from data.unit import reading


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
        self._stores: dict[str, RecordStore[Any, Any]] = {}
        self.audit = AuditLog(self.sessions)
        # What others committed since a console last looked (`data.feed`).
        self.changes = ChangeFeed(engine, self.sessions)

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
        """The records of the entity called ``entity`` (``user`` or ``users``)."""
        try:
            spec = spec_of(entity)
        except KeyError:
            raise NotFound(f"There is no table called {entity!r}.") from None
        store = self._stores.get(spec.plural)
        if store is None:
            store = self._stores[spec.plural] = RecordStore(spec, self.sessions)
        return store

    def __getattr__(self, plural: str) -> RecordStore[Any, Any]:
        """``db.users``, ``db.products``: each registered entity's records, by its plural."""
        if plural.startswith("_"):
            raise AttributeError(plural)
        try:
            return self.table(plural)
        except NotFound:
            raise AttributeError(plural) from None

    def dependants(self, entity: str, record_ids: list[int]) -> list[Dependants]:
        """What points at these records of ``entity``: what deleting them would change."""
        store = self.table(entity)
        with reading(self.sessions) as session:
            return store.spec.dependants(session, record_ids)

    def dispose(self) -> None:
        """Close every pooled connection (at exit)."""
        self.engine.dispose()
