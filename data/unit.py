"""Units of work: one session, one transaction, per public data operation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from data.engine import WRITE_OPTION
from data.translate import committing, translate_errors


@contextmanager
def reading(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A read-only unit of work: one consistent snapshot, closed afterwards."""
    with translate_errors(), sessions.begin() as session:
        yield session


@contextmanager
def writing(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A write unit of work: commit on success, rollback on any error, close always.

    The write option makes SQLite open it with BEGIN IMMEDIATE, so concurrent writers
    queue on the busy timeout instead of failing half way.

    The COMMIT is kept apart from the statements before it: a failure up to and including
    the last flush means nothing was stored, but a connection lost during the COMMIT leaves
    the outcome unknown, and the caller is told so (`OutcomeUnknown`), never "not saved".
    """
    with translate_errors(), sessions() as session:
        transaction = session.begin()
        try:
            session.connection(execution_options={WRITE_OPTION: True})
            yield session
            session.flush()
        except BaseException:
            transaction.rollback()
            raise
        with committing():
            transaction.commit()
