"""Which database the command line names, and opening it for a command or the console.

The URL comes from ``--db``, else $DATABASE_URL, else the config file, else the local file;
its password is never printed, and a password typed into ``--db`` is warned about.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from data.actor import Actor
from data.config import URL_ENV_VAR, BadDatabaseURL, configured_url
from data.redact import holds_secret
from tui.cli.output import PROG

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from data.database import Database
    from tui.settings import Settings

PASSWORD_ON_COMMAND_LINE = (
    "the password in --db is visible to other users of this machine (ps shows every "
    "command line); put the URL in $DATABASE_URL instead"
)


def configured(cli_url: str | None, settings: Settings) -> str:
    """The URL as configured: --db > $DATABASE_URL > the config file > the local file.

    The config file's is read only when it is the one used: a ``database_url_env`` naming
    an unset variable is an error only then.
    """
    if cli_url or os.environ.get(URL_ENV_VAR):
        return configured_url(cli_url)
    return configured_url(None, config_value=settings.url())


def startup_notices(cli_url: str | None) -> tuple[str, ...]:
    """What to warn about before starting, from the ``--db`` value as typed.

    A password given with ``--db`` sits in the process's command line, which every local
    user can read (ps, /proc); a process cannot take it back from there, so it says so.
    """
    if cli_url is not None and holds_secret(cli_url):
        return (PASSWORD_ON_COMMAND_LINE,)
    return ()


def _database_url(raw_url: str | None) -> URL:
    """The URL the command line names (``--db``, else $DATABASE_URL, else the local file).

    Raises `BadDatabaseURL`, whose message never holds the password, if it cannot be used.
    """
    from data.config import resolve_url

    try:
        return resolve_url(raw_url)
    except ValueError:
        # E.g. a port that is not a number; its text has no password, but say less.
        raise BadDatabaseURL("the URL could not be parsed") from None


def open_database(
    raw_url: str | None,
    *,
    read_only: bool,
    check_schema: bool = True,
    demo: bool = False,
    create: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Database:
    """Open the database the command line names, for a command or for the console.

    A SQLite file that does not exist is refused unless ``create`` (``db upgrade``,
    ``seed``, ``--demo``): a mistyped path must not become an empty database. With
    ``check_schema``, a new database is created at head (unless read-only) and one whose
    schema is behind, ahead or foreign is refused with what to do. With ``demo``, an empty
    database is filled with demo data, said first through ``progress``. Failures are
    `AccessGuardError`s; nothing is left open after one.
    """
    from data.schema import ensure_current
    from data.translate import connecting, translate_errors

    url = _database_url(raw_url)
    if not create and not read_only:  # read-only ones are refused by the engine itself
        refuse_missing_file(url)
    db = _connect(url, read_only=read_only)
    try:
        with connecting():
            db.engine.connect().close()
        # Errors raised outside the data layer's own units of work (schema checks) are
        # driver errors; translate them the same way, so none reaches the admin raw.
        with translate_errors():
            if check_schema:
                ensure_current(db.engine, create_if_empty=not read_only)
            if demo and db.users.count() == 0 and db.products.count() == 0:
                from data.seed import seed_demo  # only --demo on an empty database needs it

                if progress is not None:
                    progress(f"Filling {db.url} with demo data…")
                seed_demo(db, actor=Actor.from_environment(source="cli"))
    except BaseException:
        db.dispose()
        raise
    return db


def refuse_missing_file(url: URL) -> None:
    """Raise `Unavailable` if ``url`` names a SQLite file that does not exist, saying how
    to create one."""
    if url.get_backend_name() != "sqlite":
        return
    from data.errors import Unavailable
    from data.sqlite_file import check_options, sqlite_path

    check_options(url)  # a URL the engine would refuse is bad usage (exit 2), said first
    path = sqlite_path(url)
    if not path.exists():
        raise Unavailable(
            f"There is no database file {path}. Check the path; to create it, run "
            f"`{PROG} db upgrade` (an empty database) or `{PROG} --demo` (with demo data), "
            "with the same --db or $DATABASE_URL."
        )


# The extra that brings each server backend's driver (pyproject's optional dependencies).
DRIVER_EXTRAS = {"postgresql": ("PostgreSQL", "postgres"), "mysql": ("MySQL/MariaDB", "mysql")}


def _connect(url: URL, *, read_only: bool) -> Database:
    """`Database.connect`, with a driver that is not installed named by the extra to install."""
    from data.database import Database
    from data.errors import Unavailable

    try:
        return Database.connect(url, read_only=read_only)
    except ModuleNotFoundError as error:
        known = DRIVER_EXTRAS.get(url.get_backend_name())
        if known is None:
            raise
        server, extra = known
        raise Unavailable(
            f"{server} needs the driver: pip install '{PROG}[{extra}]' "
            f"(the module {error.name!r} is not installed)"
        ) from None
