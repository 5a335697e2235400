"""Helpers for the security tests: server accounts made for one test, screen text, snapshots.

Every account created on a server has a unique name and is dropped when its block ends,
so helpers running in parallel on the same servers never meet.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, Engine

from tests.reliability.support_input import Terminal
from tui.app import AccessGuardApp

# A password with every character a URL must escape, so both its raw and its URL-encoded
# spellings can be looked for in what the product prints.
PASSWORD = "S3cretPW@x/y:z%"
PASSWORD_IN_URL = quote(PASSWORD, safe="")
# Any of these in output means the password leaked (the distinctive core catches a
# partial or re-encoded echo too).
PASSWORD_FORMS = (PASSWORD, PASSWORD_IN_URL, "S3cretPW")
# Passwords as admins type them into a URL, unencoded (issue 11, item 5): an "@", colons, a
# space, and all three. Each piece is distinctive, so a parser that ends the password early
# and shows the rest as the host is caught too.
TYPED_PASSWORDS = ("Pw1x@Tail1x", "Pw2x:Mid2x:Tail2x", "Pw3x Tail3x", "Pw4x@Mid4x Tail4x:End4x")
# Secrets in the query: libpq's sslpassword, and any parameter named like a secret.
QUERY_SECRETS = ("sslpassword=SslPw4x", "my_secret=MySecret5x", "PASSWORD=UpperPw6x")


def password_forms(password: str) -> tuple[str, ...]:
    """What would show that ``password`` leaked: itself, URL-encoded, and each piece of it."""
    if password == PASSWORD:
        return PASSWORD_FORMS
    pieces = re.split(r"[@: ]", password)
    return (password, quote(password, safe=""), *(piece for piece in pieces if len(piece) >= 4))


def raw_url(
    url: URL, *, password: str | None = None, user: str | None = None, typed: bool = False
) -> str:
    """``url`` as an admin would type it (plain ``postgresql://`` / ``mysql://``), with an
    optional user and password (URL-encoded, or with ``typed`` as it is)."""
    scheme = {"postgresql": "postgresql", "mysql": "mysql", "sqlite": "sqlite"}[
        url.get_backend_name()
    ]
    if scheme == "sqlite":
        return f"sqlite:///{url.database}"
    name = user or url.username or ""
    spelled = password if typed or password is None else quote(password, safe="")
    secret = f":{spelled}" if password is not None else ""
    return f"{scheme}://{name}{secret}@{url.host}:{url.port}/{url.database}"


def _execute_admin(url: URL, *statements: str) -> None:
    engine = create_engine(url.set(query={}) if url.get_backend_name() == "postgresql" else url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


@contextmanager
def server_account(url: URL, *, read_only: bool, password: str | None = None) -> Iterator[URL]:
    """A login on ``url``'s server database, yielded as its URL, dropped afterwards.

    ``read_only``: SELECT on the database's tables and nothing else (PostgreSQL: granted
    on every table now present; call `grant_reads` again after creating more). Otherwise
    every privilege on that one database. PostgreSQL trusts local logins, so a password
    there is accepted and ignored; MariaDB checks it.
    """
    backend = url.get_backend_name()
    name = f"ag_{'ro' if read_only else 'pw'}_{uuid.uuid4().hex[:10]}"
    database = url.database
    if backend == "postgresql":
        _execute_admin(
            url,
            f'CREATE ROLE "{name}" LOGIN',
            f'GRANT CONNECT ON DATABASE "{database}" TO "{name}"',
            f'GRANT USAGE ON SCHEMA public TO "{name}"',
        )
        if read_only:
            grant_reads(url, name)
        else:
            _execute_admin(
                url,
                f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{name}"',
                f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{name}"',
            )
    else:
        identified = f" IDENTIFIED BY '{password}'" if password is not None else ""
        privileges = "SELECT" if read_only else "ALL PRIVILEGES"
        _execute_admin(
            url,
            f"CREATE USER '{name}'@'%'{identified}",
            f"GRANT {privileges} ON `{database}`.* TO '{name}'@'%'",
        )
    try:
        yield url.set(username=name, password=password)
    finally:
        if backend == "postgresql":
            _execute_admin(
                url,
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{name}'",
                f'DROP OWNED BY "{name}"',
                f'DROP ROLE "{name}"',
            )
        else:
            _execute_admin(url, f"DROP USER '{name}'@'%'")


def grant_reads(url: URL, role: str) -> None:
    """Let PostgreSQL ``role`` read every table now in the database (and nothing more)."""
    _execute_admin(url, f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')


def snapshot(engine: Engine) -> dict[str, list[Any]]:
    """Every row of every AccessGuard table in id order, and every table's columns and
    indexes: equal snapshots mean nothing was written, schema included."""
    tables = {
        "users": "id",
        "products": "id",
        "audit_entries": "id",
        "alembic_version": "version_num",
    }
    found: dict[str, list[Any]] = {}
    with engine.connect() as connection:
        schema = inspect(connection)
        for table, key in tables.items():
            rows = connection.execute(text(f"SELECT * FROM {table} ORDER BY {key}"))
            found[table] = [tuple(row) for row in rows]
            found[f"{table} columns"] = [column["name"] for column in schema.get_columns(table)]
            found[f"{table} indexes"] = sorted(
                str(index["name"]) for index in schema.get_indexes(table)
            )
    return found


def toasts(app: AccessGuardApp) -> list[str]:
    """Every notification the console has shown, title and message."""
    return [f"{note.title}: {note.message}" for note in app._notifications]


def leaked(haystack: str, needles: tuple[str, ...]) -> list[str]:
    """The needles found in ``haystack`` (an empty list is what every test wants)."""
    return [needle for needle in needles if needle and needle in haystack]


# The URL's password in every shape (issue 11, item 5)


@contextmanager
def password_login(database_url: URL, password: str = PASSWORD) -> Iterator[URL]:
    """A login to the test's server database that has ``password``.

    PostgreSQL trusts local logins, so its superuser's URL with a password connects; on
    MariaDB a user with that password is made for the test (so a misread password fails).
    """
    if database_url.get_backend_name() == "postgresql":
        yield database_url.set(password=password)
        return
    with server_account(database_url, read_only=False, password=password) as url:
        yield url


def url_with(url: URL, password: str) -> str:
    """``url`` with ``password`` spelled as an admin would: `PASSWORD` encoded, others typed."""
    return raw_url(url, password=password, typed=password != PASSWORD)


def hostile_urls(url: URL) -> list[str]:
    """URLs whose secret is in the query, or that do not parse cleanly. The one with the
    login's own password typed into ``?password=`` logs in (MariaDB checks it)."""
    plain = raw_url(url)
    broken_port = url_with(url, TYPED_PASSWORDS[0]).replace(f":{url.port}/", ":port/")
    unclosed = f"{url.drivername.split('+')[0]}://u:{TYPED_PASSWORDS[0]}@[::1/{url.database}"
    typed_in_query = f"{plain}?password={url.password}"
    return [
        *(f"{plain}?{secret}" for secret in QUERY_SECRETS),
        typed_in_query,
        broken_port,
        unclosed,
    ]


HOSTILE_FORMS = tuple(
    form
    for secret in (*TYPED_PASSWORDS, *(query.split("=")[1] for query in QUERY_SECRETS))
    for form in password_forms(secret)
)


def console_on_a_terminal(url: str, *, opens: bool) -> str:
    """Everything ``accessguard --db URL`` writes to a real 200-column terminal: until its
    first table is drawn and q quits it (``opens``), or until it exits on its own."""
    terminal = Terminal(url, columns=200)
    try:
        if opens:
            terminal.wait_for(b"Row 1 of 1")
            assert terminal.quit() == 0
        else:
            assert terminal.wait() != 0
    finally:
        terminal.close()
    return bytes(terminal.output).decode("utf-8", errors="replace")


def raise_with(url: str) -> None:
    """Raise as a driver might: the URL in the message."""
    raise RuntimeError(f"could not use {url}")
