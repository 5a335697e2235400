"""Turning driver exceptions into the data core's errors, so none reaches a caller raw."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm.exc import StaleDataError

from data.errors import AccessGuardError, Busy, Invalid, OutcomeUnknown, ReadOnly, Unavailable

# A rule name's ending -> what it says of the field (``ck_products_price_not_negative``).
_RULES = {"not_negative": "must not be negative", "allowed": "is not an allowed value"}

_BUSY_SQLSTATES = {"55P03", "40P01", "40001", "57014"}
_READ_ONLY_SQLSTATES = {"25006", "42501"}
_MYSQL_BUSY = {1205, 1213}
_MYSQL_READ_ONLY = {1792, 1290, 1142, 1036}
_MYSQL_TOO_BIG = {1264, 1406, 1366, 3819}
_MYSQL_GONE = {2002, 2003, 2006, 2013, 2055, 1927, 1053}
_MYSQL_LOGIN = {1044, 1045, 1049, 1698}
# "timed out": PyMySQL's words for a server that accepted the connection but never greeted
# (reads have no timeout once connected, so only connecting can time out).
_UNREACHABLE = (
    "connection refused",
    "could not connect",
    "can't connect",
    "timeout expired",
    "timed out",
)
_LOGIN_REFUSED = ("authentication failed", "role", "database", "access denied")

# Said by every error that can end a write, so the admin never has to guess (issue 5).
NOT_SAVED = "Not saved: nothing was changed."


class StaleWrite(Exception):
    """A versioned UPDATE or DELETE matched no row: someone changed or deleted it first."""


@contextmanager
def translate_errors() -> Iterator[None]:
    """Run a unit of work, re-raising driver errors as `AccessGuardError` subclasses."""
    try:
        yield
    except (AccessGuardError, StaleWrite):
        raise
    except StaleDataError as error:
        raise StaleWrite(str(error)) from None
    except sa_exc.IntegrityError as error:
        raise _integrity(error) from None
    except sa_exc.TimeoutError:
        raise Busy("All database connections are in use; try again in a moment.") from None
    except sa_exc.DBAPIError as error:
        raise _dbapi(error) from None
    except sa_exc.StatementError as error:
        # A value the driver could not even bind (e.g. an integer too large for SQLite).
        reason = str(error.orig) if error.orig is not None else "cannot be stored"
        raise Invalid({"record": f"a value cannot be stored: {reason}"}) from None


@contextmanager
def committing() -> Iterator[None]:
    """Around a unit of work's COMMIT: a connection lost now leaves the outcome unknown.

    The server may have committed and the answer been lost on the way back, or it may
    never have seen the COMMIT; either way "nothing was changed" would be a guess.
    Other failures of the COMMIT are definite (the server answered) and pass on as usual.
    """
    try:
        yield
    except sa_exc.DBAPIError as error:
        if _lost_connection(error):
            raise OutcomeUnknown(
                f"The connection to the database was lost during the commit ({_message(error)})"
                ": the change may or may not have been saved. Check the record before "
                "trying again."
            ) from None
        raise


@contextmanager
def connecting() -> Iterator[None]:
    """Around the first connection a process opens: a driver error there means the server
    can't be reached (unless it refused the login), never that something was "not saved"."""
    try:
        yield
    except sa_exc.DBAPIError as error:
        text = _message(error)
        sqlite_error = _sqlite_files(getattr(error.orig, "sqlite_errorname", None), text)
        if sqlite_error is not None:
            raise sqlite_error from None
        if _refused_login(error, text):
            raise _login_refused(text) from None
        # Whatever else failed (a host name that does not resolve, no route, a port that
        # answers with something other than a database), nothing was asked of the database.
        raise _unreachable(text) from None


def _unreachable(text: str) -> Unavailable:
    return Unavailable(
        f"Cannot reach the database server ({text}). Check that it is running and that "
        "the URL's host and port are right."
    )


def _refused_login(error: sa_exc.DBAPIError, text: str) -> bool:
    lowered = text.lower()
    refused = "fatal" in lowered and any(word in lowered for word in _LOGIN_REFUSED)
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    return _mysql_code(error) in _MYSQL_LOGIN or sqlstate.startswith("28") or refused


def _login_refused(text: str) -> Unavailable:
    return Unavailable(
        f"The database refused the connection ({text}). Check the user, password and "
        "database name in the URL."
    )


def _lost_connection(error: sa_exc.DBAPIError) -> bool:
    sqlstate = getattr(error.orig, "sqlstate", None)
    return (
        error.connection_invalidated
        or _mysql_code(error) in _MYSQL_GONE
        or (
            sqlstate is not None
            and (sqlstate.startswith("08") or sqlstate in {"57P01", "57P02", "57P03"})
        )
    )


def _message(error: sa_exc.DBAPIError) -> str:
    # The driver's own first line: never parameters (the engine hides them) nor the URL.
    return (
        str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else type(error).__name__
    )


def _constraints() -> Iterator[tuple[tuple[str, ...], str, str]]:
    """Each declared entity's constraints, by their conventional names (and SQLite's
    ``table.column`` or bare "foreign key"), with the field and reason they stand for."""
    from data.specs import SPECS  # the registry, as it is when a write is refused

    for spec in SPECS.values():
        table = spec.model.__tablename__
        key = spec.natural_key
        yield (
            (f"uq_{table}_{key}", f"{table}.{key}"),
            key,
            f"is already used by another {spec.entity}",
        )
        for relation in spec.declared.relations:
            target = spec.target(relation)
            name = f"fk_{table}_{relation.stored_as}_{target.model.__tablename__}"
            yield (name,), relation.name, f"no such {target.entity}"
        for field in spec.validators:
            for ending, reason in _RULES.items():
                yield (f"ck_{table}_{field}_{ending}",), field, reason
    yield ("foreign key",), "record", "names a record that no longer exists"


def _integrity(error: sa_exc.IntegrityError) -> AccessGuardError:
    text = _message(error).lower()
    for needles, field, reason in _constraints():
        if any(needle in text for needle in needles):
            return Invalid({field: reason})
    if "not null" in text or "cannot be null" in text:
        return Invalid({"record": "a required value is missing"})
    return Invalid({"record": f"refused by the database: {_message(error)}"})


def _dbapi(error: sa_exc.DBAPIError) -> AccessGuardError:
    text = _message(error)
    lowered = text.lower()
    sqlstate = getattr(error.orig, "sqlstate", None)
    mysql_code = _mysql_code(error)
    sqlite_error = _sqlite_files(getattr(error.orig, "sqlite_errorname", None), text)
    if sqlite_error is not None:
        return sqlite_error
    if any(phrase in lowered for phrase in _UNREACHABLE):
        return _unreachable(text)
    if _refused_login(error, text):
        return _login_refused(text)
    if _lost_connection(error):
        return Unavailable(f"Lost the connection to the database ({text}). {NOT_SAVED}")
    if (
        "locked" in lowered
        or "busy" in lowered
        or sqlstate in _BUSY_SQLSTATES
        or mysql_code in _MYSQL_BUSY
    ):
        return Busy(f"Another session holds a lock on the data ({text}). {NOT_SAVED} Try again.")
    if (
        "readonly" in lowered
        or "read-only" in lowered
        or "read only" in lowered
        or sqlstate in _READ_ONLY_SQLSTATES
        or mysql_code in _MYSQL_READ_ONLY
    ):
        # Said the same way whether this session is READ ONLY (--read-only, SQLite mode=ro)
        # or its login may only read: either way the write did not happen.
        return ReadOnly(
            "This connection is read-only: the database refused the write, so it was not "
            f"saved ({text}). {NOT_SAVED}"
        )
    if "disk is full" in lowered or "disk full" in lowered or sqlstate == "53100":
        return Unavailable(f"The disk is full ({text}). {NOT_SAVED} Free some space and try again.")
    if (sqlstate is not None and sqlstate.startswith("22")) or mysql_code in _MYSQL_TOO_BIG:
        return Invalid({"record": f"a value does not fit: {text}"})
    if isinstance(error, sa_exc.OperationalError):
        return Unavailable(f"The database could not do this ({text}). {NOT_SAVED}")
    return Unavailable(f"Database error: {text}. {NOT_SAVED}")


def _sqlite_files(name: str | None, text: str) -> AccessGuardError | None:
    """SQLite failing on its files, where its own words ("disk I/O error", "attempt to write
    a readonly database" on a mere read) would leave the admin guessing."""
    if name == "SQLITE_IOERR_SHMSIZE":
        # A WAL database nobody has open needs room for its -shm file before even a read.
        return Unavailable(
            f"SQLite could not make room for the database's shared-memory file ({text}): "
            f"the disk is probably full. {NOT_SAVED} Free some space and try again."
        )
    if name == "SQLITE_READONLY_DIRECTORY":
        # Its -wal and -shm files go beside it: without them SQLite can neither read nor write.
        return ReadOnly(
            f"The folder holding the database is read-only, so SQLite cannot create the "
            f"database's -wal and -shm files there ({text}). {NOT_SAVED} Make the folder "
            "writable, or work on a copy in a writable folder."
        )
    if name == "SQLITE_CANTOPEN":
        return Unavailable(
            f"SQLite cannot open the database file or create its -wal and -shm files beside it "
            f"({text}). {NOT_SAVED} Check that the file exists and that its folder is "
            "writable (not on a read-only file system)."
        )
    return None


def _mysql_code(error: sa_exc.DBAPIError) -> int | None:
    args = getattr(error.orig, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None
