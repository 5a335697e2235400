"""What a test may need that a contributor's machine may lack: the database servers, root.

A test that needs one skips with one line saying how to get it; CI sets
``ACCESSGUARD_TEST_REQUIRE_SERVERS=1`` and ``ACCESSGUARD_TEST_REQUIRE_ROOT=1``, and there a
missing server stops the run at once, and a test that would skip for want of root fails.

The servers are found through ``ACCESSGUARD_TEST_POSTGRES_URL`` and
``ACCESSGUARD_TEST_MYSQL_URL`` (an administrator's URL), defaulting to the local ones.
Whether one answers is asked once per process, with a short connect timeout.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from data.config import normalise_url

SERVER_BACKENDS = ("postgresql", "mysql")
URL_ENV = {"postgresql": "ACCESSGUARD_TEST_POSTGRES_URL", "mysql": "ACCESSGUARD_TEST_MYSQL_URL"}
DEFAULT_URL = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/postgres",
    "mysql": "mysql://root@127.0.0.1:3306/",
}
SERVER_NAME = {"postgresql": "PostgreSQL", "mysql": "MariaDB"}
REQUIRE_SERVERS_ENV = "ACCESSGUARD_TEST_REQUIRE_SERVERS"
REQUIRE_ROOT_ENV = "ACCESSGUARD_TEST_REQUIRE_ROOT"
CONNECT_TIMEOUT_S = 3
# Bits of the effective capability set (linux/capability.h) the root-only tests use.
CAPABILITIES = {"chown": 0, "setgid": 6, "setuid": 7, "sys_admin": 21}


def _required(variable: str) -> bool:
    return os.environ.get(variable, "") not in ("", "0")


def server_admin_url(backend: str) -> URL:
    """The administrator's URL of the ``backend`` server (its maintenance database)."""
    return normalise_url(os.environ.get(URL_ENV[backend]) or DEFAULT_URL[backend])


@functools.cache
def server_problem(backend: str) -> str | None:
    """None if the ``backend`` server answers, else one line saying what to do about it."""
    url = server_admin_url(backend)
    engine = create_engine(
        url, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
    )
    try:
        with engine.connect():
            return None
    except Exception as error:  # any failure to connect means the same to the test
        reason = (str(getattr(error, "orig", error)).strip().splitlines() or [""])[0]
        where = url.render_as_string(hide_password=True)
        return (
            f"{SERVER_NAME[backend]} does not answer at {where} ({reason}): start it, or point "
            f"{URL_ENV[backend]} at one"
        )
    finally:
        engine.dispose()


def require_servers(backends: Iterable[str]) -> None:
    """Skip the running test (fail it, where servers are required) unless every server of
    ``backends`` answers."""
    for backend in backends:
        problem = server_problem(backend)
        if problem is None:
            continue
        if _required(REQUIRE_SERVERS_ENV):
            pytest.exit(f"{problem} ({REQUIRE_SERVERS_ENV} is set)", returncode=3)
        pytest.skip(problem)


def stop_unless_servers_answer() -> None:
    """Where servers are required, end the whole run at once if one does not answer."""
    if not _required(REQUIRE_SERVERS_ENV):
        return
    for backend in SERVER_BACKENDS:
        problem = server_problem(backend)
        if problem is not None:
            pytest.exit(f"{problem} ({REQUIRE_SERVERS_ENV} is set)", returncode=3)


def argument_names(argnames: str | Sequence[str]) -> list[str]:
    """The argument names of a parametrize mark ("a, b" or ("a", "b"))."""
    if isinstance(argnames, str):
        return [name.strip() for name in argnames.split(",")]
    return list(argnames)


def _plain_arguments(item: pytest.Item) -> set[str]:
    """Names ``item`` is parametrised over directly (values, not fixtures)."""
    plain: set[str] = set()
    for mark in item.iter_markers("parametrize"):
        indirect = mark.kwargs.get("indirect", False)
        for name in argument_names(mark.args[0]) if mark.args else ():
            if indirect is not True and name not in (indirect or ()):
                plain.add(name)
    return plain


def servers_of(item: pytest.Item) -> set[str]:
    """The servers ``item`` runs against: the backend its database fixtures are parametrised
    over (``database_url``, module fixtures over `BACKENDS`; a plain "postgresql" argument
    names no server), and whatever its ``servers`` marks name (none named: both)."""
    callspec = getattr(item, "callspec", None)
    params = callspec.params.items() if callspec is not None else ()
    plain = _plain_arguments(item)
    needed = {
        value
        for name, value in params
        if name not in plain and isinstance(value, str) and value in SERVER_BACKENDS
    }
    for mark in item.iter_markers("servers"):
        needed |= set(mark.args or SERVER_BACKENDS)
    return needed


def _missing_capabilities(names: Iterable[str]) -> list[str]:
    status = Path("/proc/self/status").read_text()
    effective = next(line for line in status.splitlines() if line.startswith("CapEff:"))
    bits = int(effective.split()[1], 16)
    return [name for name in names if not bits >> CAPABILITIES[name] & 1]


def require_root(*capabilities: str, why: str) -> None:
    """Skip the running test (fail it, where root is required) unless this process is root
    with ``capabilities`` (names of `CAPABILITIES`); ``why`` says what it does as root."""
    if os.geteuid() != 0:
        problem = f"needs root ({why}): run the suite as root, as CI does"
    elif missing := _missing_capabilities(capabilities):
        listed = ", ".join(f"CAP_{name.upper()}" for name in missing)
        problem = f"needs {listed} ({why}), which this root lacks (a container without it?)"
    else:
        return
    if _required(REQUIRE_ROOT_ENV):
        pytest.fail(f"{problem} ({REQUIRE_ROOT_ENV} is set)", pytrace=False)
    pytest.skip(problem)
