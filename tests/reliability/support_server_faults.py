"""Real server faults for tests: the psql and mariadb clients killing our own sessions, a
private PostgreSQL instance to restart and to refuse a password, a relay that loses a
COMMIT's answer, and a port that accepts but never speaks.

Every kill is filtered to the test's own database: other sessions on the shared servers are
never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from data.config import normalise_url
from tests.needs import require_root, require_servers, server_admin_url

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), Path("/usr/bin"))
DEADLINE_S = 15.0
# COMMIT as a statement of its own (not inside "autocommit"), in either protocol's bytes.
_COMMIT = re.compile(rb"(?<![A-Za-z_])commit(?![A-Za-z_])", re.IGNORECASE)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (just now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(args: list[str], *, user: str | None = None, password: str | None = None) -> str:
    if user is not None:
        args = ["runuser", "-u", user, "--", *args]
    env = (
        None if password is None else {**os.environ, "PGPASSWORD": password, "MYSQL_PWD": password}
    )
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False, env=env)
    if done.returncode != 0:
        raise AssertionError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def psql(
    sql: str, *, host: str | None = None, port: int | None = None, database: str = "postgres"
) -> str:
    """Run ``sql`` with the real psql client as the test server's administrator (or on the
    given ``host``, a socket directory, and ``port``); the unaligned output."""
    server = server_admin_url("postgresql")
    if host is None:
        require_servers(["postgresql"])
    flags = ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", server.username or "postgres"]
    where = ["-h", host or server.host or "127.0.0.1", "-p", str(port or server.port or 5432)]
    return _run(
        ["psql", *flags, *where, "-d", database, "-c", sql], password=server.password
    ).strip()


def mariadb(sql: str) -> str:
    """Run ``sql`` with the real mariadb client as the test server's administrator; the
    tab-separated output."""
    require_servers(["mysql"])
    server = server_admin_url("mysql")
    where = ["-h", server.host or "127.0.0.1", "-P", str(server.port or 3306)]
    who = ["-u", server.username or "root"]
    return _run(["mariadb", *where, *who, "-N", "-B", "-e", sql], password=server.password)


def _until(condition: object, what: str) -> None:
    """Poll ``condition()`` until true, failing after `DEADLINE_S` (no fixed sleeps)."""
    assert callable(condition)
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {DEADLINE_S} s")
        time.sleep(0.02)


def session_ids(url: URL) -> list[int]:
    """The server's ids of every session connected to ``url``'s database (ours only)."""
    name = url.database
    if url.get_backend_name() == "postgresql":
        out = psql(
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{name}' "
            "AND pid <> pg_backend_pid()",
        )
    else:
        out = mariadb(f"SELECT id FROM information_schema.processlist WHERE db = '{name}'")
    return [int(line) for line in out.split()]


def wait_for_no_sessions(url: URL) -> None:
    """Wait until the sessions of closed pools have left ``url``'s database."""
    try:
        _until(lambda: not session_ids(url), "closed")
    except AssertionError:
        if url.get_backend_name() == "postgresql":
            left = psql(
                f"SELECT pid, state, query FROM pg_stat_activity WHERE datname = '{url.database}'"
            )
        else:
            left = mariadb(
                "SELECT id, command, time, state, info FROM information_schema.processlist "
                f"WHERE db = '{url.database}'"
            )
        raise AssertionError(f"sessions left on {url.database}: {left}") from None


def kill_sessions(url: URL, ids: list[int] | None = None) -> int:
    """Kill ``ids`` (default: every session on ``url``'s database) with the server's own
    client, and wait until the server has let them go. Returns how many were killed."""
    targets = session_ids(url) if ids is None else ids
    if not targets:
        return 0
    if url.get_backend_name() == "postgresql":
        listed = ", ".join(str(pid) for pid in targets)
        psql(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN ({listed}) "
            f"AND datname = '{url.database}'",
        )
    else:
        mariadb("; ".join(f"KILL CONNECTION {number}" for number in targets))
    _until(lambda: not set(targets) & set(session_ids(url)), "gone")
    return len(targets)


# A private PostgreSQL instance: restarted and configured at will, never the shared one.


@dataclass
class PrivatePostgres:
    """A PostgreSQL instance of our own: password (scram) logins over TCP, trust on its
    Unix socket for the test's own psql."""

    directory: Path
    port: int
    password: str

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str = "postgres", *, password: str | None = None) -> URL:
        """A URL over TCP as the superuser, with ``password`` (default: the right one)."""
        chosen = self.password if password is None else password
        return normalise_url(
            f"postgresql://postgres:{chosen}@127.0.0.1:{self.port}/{database}?connect_timeout=5"
        )

    def psql(self, sql: str, database: str = "postgres") -> str:
        """psql through the instance's own socket (trust)."""
        return psql(sql, host=str(self.directory), port=self.port, database=database)

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        options += " -c fsync=off -c max_connections=20 -c shared_buffers=16MB"
        log = str(self.directory / "server.log")
        where = ["-D", str(self.data), "-l", log, "-o", options]
        _run([str(PG_BIN / "pg_ctl"), *where, "-w", "-t", "30", *args], user="postgres")

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        """A fast restart: every session is cut, as when an operator restarts the server."""
        self._ctl("-m", "fast", "restart")

    def stop(self) -> None:
        self._ctl("-m", "immediate", "stop")


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """initdb, start; stop and remove afterwards. The directory is owned by postgres."""
    require_root("chown", "setuid", "setgid", why="runs a private PostgreSQL as postgres")
    directory = Path(tempfile.mkdtemp(prefix="ag-private-pg-"))
    shutil.chown(directory, "postgres", "postgres")
    password = "right-Pw-4-private"
    pwfile = directory / "pwfile"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    shutil.chown(pwfile, "postgres", "postgres")
    instance = PrivatePostgres(directory, free_port(), password)
    auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
    initdb = [str(PG_BIN / "initdb"), "-D", str(instance.data), "-U", "postgres", "--no-sync"]
    started = False
    try:
        _run([*initdb, *auth], user="postgres")
        instance.start()
        started = True
        yield instance
    finally:
        if started:
            with contextlib.suppress(AssertionError):
                instance.stop()
        shutil.rmtree(directory, ignore_errors=True)


# Network faults


class CommitCutter:
    """A TCP relay to a database server that, once armed, lets the next COMMIT through and
    drops the connection before the server's answer reaches the client.

    The server commits; the client only sees its connection die. That is the case a client
    can never resolve by itself: the change is stored, and nobody told it so.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._armed = threading.Event()
        self.cut = threading.Event()
        self._closing = False
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self) -> None:
        """Cut the next COMMIT's answer."""
        self.cut.clear()
        self._armed.set()

    def close(self) -> None:
        self._closing = True
        self._listener.close()
        _hang_up(*self._sockets)

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, server]
            cutting = threading.Event()
            threading.Thread(
                target=self._to_server, args=(client, server, cutting), daemon=True
            ).start()
            threading.Thread(
                target=self._to_client, args=(server, client, cutting), daemon=True
            ).start()

    def _to_server(
        self, client: socket.socket, server: socket.socket, cutting: threading.Event
    ) -> None:
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                # The client waits for every answer before it sends COMMIT, so whatever the
                # server says next is the COMMIT's answer.
                if self._armed.is_set() and _COMMIT.search(data):
                    self._armed.clear()
                    cutting.set()
                server.sendall(data)
        _hang_up(client, server)

    def _to_client(
        self, server: socket.socket, client: socket.socket, cutting: threading.Event
    ) -> None:
        with contextlib.suppress(OSError):
            while data := server.recv(65536):
                if cutting.is_set():
                    self.cut.set()
                    break
                client.sendall(data)
        _hang_up(client, server)


def _hang_up(*sockets: socket.socket) -> None:
    """End both sides of a relayed connection. shutdown() first: close() alone neither
    wakes the other direction's blocked recv nor ends the TCP connection while it waits."""
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A port whose connections are accepted (by the kernel's backlog) but never answered:
    a hung server, or a tunnel whose far end is gone."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
