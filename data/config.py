"""Where the database is: resolving the URL without ever printing its password.

Importing this module does not load SQLAlchemy (only parsing a URL does): the console names
its database on the first frame, before the data core is loaded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from data.errors import AccessGuardError
from data.redact import encode_at_signs, redact

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

DEFAULT_URL = "sqlite:///./accessguard.db"
URL_ENV_VAR = "DATABASE_URL"

# Plain scheme -> the driver AccessGuard ships an extra for.
_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}


class BadDatabaseURL(AccessGuardError):
    """The configured URL cannot be used; the message never contains the password."""

    title = "Bad database URL"


def resolve_url(
    cli_value: str | None = None,
    environ: Mapping[str, str] | None = None,
    config_value: str | None = None,
) -> URL:
    """Pick the URL (``--db`` > ``DATABASE_URL`` > the config file > the local SQLite file)
    and normalise it.

    The result is a SQLAlchemy ``URL``, whose ``str`` and ``repr`` both mask the password, so
    callers can log or display it freely.
    """
    return normalise_url(configured_url(cli_value, environ, config_value))


def configured_url(
    cli_value: str | None = None,
    environ: Mapping[str, str] | None = None,
    config_value: str | None = None,
) -> str:
    """The URL as configured, unparsed: ``--db`` > ``DATABASE_URL`` > ``config_value`` (the
    config file's, which the caller reads) > the local SQLite file.

    It may hold a password: mask it before showing it anywhere.
    """
    env = os.environ if environ is None else environ
    return cli_value or env.get(URL_ENV_VAR) or config_value or DEFAULT_URL


def normalise_url(raw: str) -> URL:
    """Parse ``raw`` and map ``postgresql://`` / ``mysql://`` to psycopg 3 / PyMySQL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        # An unencoded "@" in the password (or a ?password=) would otherwise end it early
        # and make its tail the host, which every connection error then names.
        url = make_url(encode_at_signs(raw))
    except ArgumentError:
        # The raw text may hold a password, so it is not echoed back.
        raise BadDatabaseURL(
            "the database URL could not be parsed; expected e.g. sqlite:///path.db, "
            "postgresql://user@host/db or mysql://user@host/db"
        ) from None
    url = _password_out_of_query(url)
    driver = _DRIVERS.get(url.drivername)
    if driver is not None:
        url = url.set(drivername=driver)
    backend = url.get_backend_name()
    if backend == "sqlite":
        _no_bare_question_mark(raw)
        if not url.database or url.database == ":memory:" or url.query.get("mode") == "memory":
            raise BadDatabaseURL(
                "an in-memory SQLite database cannot be shared between the console's worker "
                "threads; give a file, e.g. sqlite:///./accessguard.db"
            )
    elif backend == "mysql":
        url = url.update_query_dict({"charset": "utf8mb4"})
    elif backend != "postgresql":
        raise BadDatabaseURL(
            f"unsupported database {backend!r}: use sqlite, postgresql or mysql/mariadb"
        )
    return url


def _no_bare_question_mark(raw: str) -> None:
    """Refuse a SQLite URL whose query has a part that is no ``name=value`` option.

    SQLAlchemy drops such a part: ``sqlite:///a?b.db`` silently opened (and created) ``a``.
    """
    _path, mark, query = raw.partition("?")
    if mark and any("=" not in part for part in query.split("&")):
        raise BadDatabaseURL(
            "the SQLite URL holds a ? that starts no option (name=value); a ? in the file "
            "name is written %3F and a % is %25, e.g. sqlite:///a%3Fb.db"
        )


# Query parameters the drivers take as the password (libpq's URIs allow ``?password=``).
QUERY_PASSWORDS = ("password", "passwd")


def _password_out_of_query(url: URL) -> URL:
    """Make a password given as a query parameter the URL's own password.

    SQLAlchemy masks the URL's password in ``str``, ``repr`` and `display_url`, but shows
    its query as it is: left there, ``?password=...`` was printed by ``db status`` and shown
    on the console's status line. The drivers let the query's value win, so it does here.
    """
    keys = [key for key in QUERY_PASSWORDS if key in url.query]
    if not keys:
        return url
    value = url.query[keys[-1]]
    password = value[-1] if isinstance(value, tuple) else value
    return url.difference_update_query(keys).set(password=password)


def display_url(url: URL) -> str:
    """The URL as it may be shown anywhere: its password, and the value of any query
    parameter naming a password or secret (``?sslpassword=``), replaced by ***."""
    return redact(url.render_as_string(hide_password=True))
