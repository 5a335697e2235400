"""The tests' fork server: AccessGuard imported once, a real process forked per command.

Run as ``python -m tests.preloaded_server SOCKET`` (tests/preloaded.py starts one per test
process, with the interpreter and environment a child of the tests would get). It imports
what ``python -m tui`` and the console import, freezes that heap, and answers on a Unix
socket: a request is a command (``python -m tui ...`` or a script such as the installed
``accessguard``), its environment and working directory, and the three descriptors it
runs on, passed with SCM_RIGHTS. For each one the server forks; the child makes itself the
fresh interpreter the command would have had (descriptors, std streams, environment,
signal dispositions, settings read at import), leaves the server's loop and runs the
command as the interpreter would, up to its normal exit (atexit, flushing, exit status).
The server sends the child's pid, then its wait status once it has reaped it.

Its stdin is a pipe from the test process: end of file there (the tests are gone) stops it.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib
import io
import json
import os
import pkgutil
import runpy
import selectors
import signal
import socket
import sys
import termios
from dataclasses import dataclass
from typing import Any

# The most a request may carry (a command line and its environment).
MAX_REQUEST = 1 << 20

# Variables the interpreter itself reads at start-up, before any of our code: a child whose
# environment differs from the server's in one of them would not be the process it claims
# to be, so the server refuses it (tests/preloaded.py says to start a real process instead).
# PYTHONUNBUFFERED and PYTHONDONTWRITEBYTECODE are the exceptions the child applies itself.
STARTUP_VARIABLES = (
    "PYTHONHASHSEED",
    "PYTHONUTF8",
    "PYTHONIOENCODING",
    "PYTHONOPTIMIZE",
    "PYTHONWARNINGS",
    "PYTHONSAFEPATH",
    "PYTHONNOUSERSITE",
    "PYTHONDEVMODE",
    "PYTHONFAULTHANDLER",
    "PYTHONTRACEMALLOC",
    "PYTHONMALLOC",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "COVERAGE_PROCESS_START",
    "COVERAGE_FILE",
    # Read by Textual's app module at import (not only by textual.constants).
    "TEXTUAL_DEBUG",
)


def preload() -> None:
    """Import everything a command or a console of the tests would import."""
    import alembic.command
    import alembic.runtime.migration
    import sqlalchemy.dialects.mysql.pymysql
    import sqlalchemy.dialects.postgresql.psycopg
    import sqlalchemy.dialects.sqlite.pysqlite
    import textual.app
    import textual.drivers.headless_driver
    import textual.drivers.linux_driver
    import textual.widgets

    for name in ("psycopg", "pymysql", "tui", "tui.cli", "tui.app", "data", "models"):
        importlib.import_module(name)
    for package in ("tui", "data", "models"):
        module = sys.modules[package]
        for found in pkgutil.walk_packages(module.__path__, prefix=package + "."):
            # __main__ runs the command line; migrations are loaded by alembic from files.
            if found.name.endswith("__main__") or found.name.startswith("data.migrations"):
                continue
            importlib.import_module(found.name)
    del alembic, sqlalchemy, textual


def initial_dispositions() -> dict[int, Any]:
    """Every signal's disposition as this interpreter started: what a fresh one has."""
    dispositions: dict[int, Any] = {}
    for signum in signal.valid_signals():
        with contextlib.suppress(OSError, ValueError):
            dispositions[signum] = signal.getsignal(signum)
    return dispositions


@dataclass
class Request:
    """One command to run in a child: what ``python -m`` or the script would be given."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    module: str | None
    path: str | None
    terminal: bool

    @classmethod
    def parse(cls, payload: bytes) -> Request:
        """The request a client sent (JSON)."""
        raw = json.loads(payload)
        return cls(
            argv=[str(arg) for arg in raw["argv"]],
            env={str(k): str(v) for k, v in raw["env"].items()},
            cwd=str(raw["cwd"]),
            module=raw.get("module"),
            path=raw.get("path"),
            terminal=bool(raw.get("terminal")),
        )

    def refusal(self) -> str | None:
        """Why this server cannot be the process asked for, or None."""
        for name in STARTUP_VARIABLES:
            if self.env.get(name) != os.environ.get(name):
                return f"{name} differs from the fork server's: run a real process"
        for entry in filter(None, self.env.get("PYTHONPATH", "").split(os.pathsep)):
            if os.path.abspath(entry) not in sys.path:
                return f"PYTHONPATH entry {entry} is not on the fork server's path"
        if (self.module is None) == (self.path is None):
            return "a request names a module or a script, not both"
        return None


class Server:
    """The selector loop: accept clients, fork a child per request, report its end."""

    def __init__(self, path: str, dispositions: dict[int, Any]) -> None:
        self.dispositions = dispositions
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(path)
        self.listener.listen(64)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
        # pid -> (pidfd, the client's connection or None once it hung up)
        self.children: dict[int, tuple[int, socket.socket | None]] = {}

    def serve(self) -> Request:
        """Serve until the tests are gone (then exit); in a forked child, return its request."""
        while True:
            for key, _ in self.selector.select():
                what = key.data
                if what == "accept":
                    connection, _ = self.listener.accept()
                    self.selector.register(connection, selectors.EVENT_READ, "client")
                elif what == "stdin":
                    if not os.read(sys.stdin.fileno(), 4096):
                        raise SystemExit(0)
                elif what == "client":
                    assert isinstance(key.fileobj, socket.socket)
                    request = self.receive(key.fileobj)
                    if request is not None:
                        return request
                else:
                    self.reap(what)

    def receive(self, connection: socket.socket) -> Request | None:
        """Read one request from ``connection`` and fork its child; the request in the child."""
        try:
            payload, fds, _, _ = socket.recv_fds(connection, MAX_REQUEST, 3)
        except OSError:
            payload, fds = b"", []
        if not payload:  # the client hung up; its children still get reaped
            self.forget(connection)
            return None
        try:
            request = Request.parse(payload)
            problem = request.refusal() or (None if len(fds) == 3 else "three descriptors")
            if problem is not None:
                connection.send(b"refused " + problem.encode())
                return None
            pid = os.fork()
            if pid == 0:
                self.close_in_child()
                become_child(request, fds, self.dispositions)
                return request
        finally:
            if pid_is_parent():
                for fd in fds:
                    os.close(fd)
        pidfd = os.pidfd_open(pid)
        self.children[pid] = (pidfd, connection)
        self.selector.register(pidfd, selectors.EVENT_READ, pid)
        connection.send(b"pid %d" % pid)
        return None

    def reap(self, pid: int) -> None:
        """``pid`` has ended: reap it and tell its client the wait status."""
        pidfd, connection = self.children.pop(pid)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.send(b"status %d" % status)

    def close_in_child(self) -> None:
        """Close the server's own descriptors through their objects (a socket or selector
        left to the garbage collector would close whatever later reuses its number)."""
        for key in list(self.selector.get_map().values()):
            if isinstance(key.fileobj, socket.socket):
                key.fileobj.close()
        for pidfd, _ in self.children.values():
            os.close(pidfd)
        self.children.clear()
        self.selector.close()
        self.listener.close()

    def forget(self, connection: socket.socket) -> None:
        """A client closed its connection."""
        self.selector.unregister(connection)
        connection.close()
        for pid, (pidfd, held) in list(self.children.items()):
            if held is connection:
                self.children[pid] = (pidfd, None)


_SERVER_PID = os.getpid()


def pid_is_parent() -> bool:
    """True in the server, False in a child it forked."""
    return os.getpid() == _SERVER_PID


def become_child(request: Request, fds: list[int], dispositions: dict[int, Any]) -> None:
    """Make this forked process the fresh interpreter ``request`` would have started."""
    if request.terminal:
        os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target, inheritable=True)
    if request.terminal:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    # A child of subprocess (close_fds) or of exec has only 0, 1 and 2: this drops the
    # server's socket, selector, pidfds and the descriptors just received.
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))

    os.environ.clear()
    os.environ.update(request.env)
    os.chdir(request.cwd)
    sys.dont_write_bytecode = bool(request.env.get("PYTHONDONTWRITEBYTECODE"))

    signal.set_wakeup_fd(-1)
    for signum, disposition in dispositions.items():
        # Coverage, when on, has just started again in this child (its fork hook) and put
        # its own SIGTERM handler in place, as it does in every process it starts in.
        if signum == signal.SIGTERM and coverage_is_on():
            continue
        with contextlib.suppress(OSError, ValueError, TypeError):
            signal.signal(signum, disposition)

    rebuild_std_streams(unbuffered=bool(request.env.get("PYTHONUNBUFFERED")))
    reread_import_time_settings()


def rebuild_std_streams(*, unbuffered: bool) -> None:
    """New sys.stdin/stdout/stderr on 0/1/2, made as CPython's start-up makes them."""
    encoding = sys.__stdout__.encoding if sys.__stdout__ else "utf-8"
    errors = sys.__stdout__.errors if sys.__stdout__ else "strict"
    streams = []
    for fd, name in ((0, "<stdin>"), (1, "<stdout>"), (2, "<stderr>")):
        writing = fd != 0
        # stdin is always buffered (TextIOWrapper needs read1); -u unbuffers the others.
        buffering = 0 if unbuffered and writing else -1
        binary: Any = open(fd, "wb" if writing else "rb", buffering, closefd=False)  # noqa: SIM115
        raw = binary if buffering == 0 else binary.raw
        raw.name = name
        stream = io.TextIOWrapper(
            binary,
            encoding=encoding,
            errors="backslashreplace" if fd == 2 else errors,
            newline="\n",
            line_buffering=not unbuffered and (raw.isatty() or fd == 2),
            write_through=unbuffered,
        )
        stream.mode = "w" if writing else "r"  # type: ignore[misc]
        streams.append(stream)
    sys.stdin, sys.stdout, sys.stderr = streams
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams  # type: ignore[misc]


def reread_import_time_settings() -> None:
    """Settings modules read from the environment when imported, read again for this child.

    Textual's `textual.constants` (TEXTUAL_*, ESCDELAY) and the few values other Textual
    modules copied from it at import; PyMySQL's default user (the login name). Our own
    `tui`, `data` and `models` read the environment only when called.
    """
    import pymysql.connections
    import textual.app
    import textual.constants
    import textual.filter
    import textual.screen

    constants = importlib.reload(textual.constants)
    # Final in Textual's eyes: set once, at import, which this child stands for.
    setattr(textual.screen, "UPDATE_PERIOD", 1 / constants.MAX_FPS)  # noqa: B010
    setattr(textual.filter, "DIM_FACTOR", constants.DIM_FACTOR)  # noqa: B010
    textual.app.App.theme._default = constants.DEFAULT_THEME
    try:
        import getpass

        user: str | None = getpass.getuser()
    except (KeyError, OSError):
        user = None
    pymysql.connections.DEFAULT_USER = user


def coverage_is_on() -> bool:
    """Whether coverage.py measures this process."""
    coverage = sys.modules.get("coverage")
    return coverage is not None and coverage.Coverage.current() is not None


def measure_children() -> None:
    """When coverage measures the server, have it measure each child on its own.

    This is what coverage's ``[run] patch = fork`` installs; it is not set in pyproject
    because it would apply to every process of the run. The hook is coverage's private
    ``coverage.control._after_fork_in_child`` (7.10+): it stops the server's measurement in
    the child without saving it and starts a new one, saved to the child's own data file.
    """
    if coverage_is_on():
        from coverage.control import _after_fork_in_child

        os.register_at_fork(after_in_child=_after_fork_in_child)


def run(request: Request) -> None:
    """Run the command in this child as the interpreter would (exceptions propagate)."""
    sys.argv = list(request.argv)
    if request.module is not None:  # python -m MODULE ARGS: sys.path[0] is the directory
        sys.path[0] = os.getcwd()
        runpy.run_module(request.module, run_name="__main__", alter_sys=True)
    else:
        assert request.path is not None
        sys.path[0] = os.path.dirname(os.path.abspath(request.path))
        runpy.run_path(request.path, run_name="__main__")


def main() -> Request:
    """Start the server; return only in a forked child, with the request it is to run."""
    dispositions = initial_dispositions()
    preload()
    measure_children()
    server = Server(sys.argv[1], dispositions)
    gc.collect()
    gc.freeze()  # the children's copies of the preloaded heap stay shared
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    return server.serve()


if __name__ == "__main__":
    run(main())
