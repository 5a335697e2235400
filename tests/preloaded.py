"""Commands and consoles as real processes forked from a preloaded server (the tests' side).

A child costs ~1 s of CPU importing SQLAlchemy, Textual and AccessGuard when it starts
fresh. `tests/preloaded_server.py` imports them once per test process and forks a real
process per command instead: its own pid, the descriptors given here (pipes, files, a
pseudo-terminal), its real exit status and signals. `Child` is shaped like
`subprocess.Popen`, `run` like `subprocess.run`, `PtyChild` puts one on a new terminal.

Only a command the server can be runs here: ``[sys.executable, "-m", "tui", ...]`` or the
installed ``accessguard`` script, with an environment that differs from the tests' in
nothing the interpreter reads at start-up (the server refuses it otherwise). Tests whose
subject is the process itself (start-up, imports, entry points) start real ones.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from tests.preloaded_server import STARTUP_VARIABLES

REPO = Path(__file__).resolve().parent.parent
ACCESSGUARD = Path(sys.executable).with_name("accessguard")

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
STDOUT = subprocess.STDOUT

# How long the server may take to import everything (it takes ~1-3 s).
START_SECONDS = 60.0

Spec = int | IO[Any] | None


def startup_environment() -> dict[str, str]:
    """The variables of this process that the interpreter reads at start-up (LANG, PYTHON*):
    a child forked from the server must have them as the server has them."""
    return {name: os.environ[name] for name in STARTUP_VARIABLES if name in os.environ}


class ServerGone(RuntimeError):
    """The fork server is not there to run a command."""


class Server:
    """The fork server of this test process."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        """Start a server with the interpreter and ``env`` (default: this process's)."""
        self.directory = tempfile.mkdtemp(prefix="ag-fork-")
        self.path = os.path.join(self.directory, "socket")
        self.log = os.path.join(self.directory, "server.log")
        with open(self.log, "wb") as log:
            # The server's stdin is this process's pipe: when the tests end, it ends.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.preloaded_server", self.path],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=REPO,
                env=env,
            )
        assert self.process.stdout is not None
        ready = selectors.DefaultSelector()
        ready.register(self.process.stdout, selectors.EVENT_READ)
        line = self.process.stdout.readline() if ready.select(START_SECONDS) else b""
        ready.close()
        if line != b"ready\n":
            self.process.kill()
            self.process.wait()
            raise ServerGone(f"the fork server did not start:\n{self.log_tail()}")

    def log_tail(self) -> str:
        """The end of what the server wrote to its stderr."""
        with contextlib.suppress(OSError), open(self.log, "rb") as log:
            return log.read()[-3000:].decode(errors="replace")
        return ""

    def gone(self) -> ServerGone:
        """The error for a call after the server died."""
        status = self.process.poll()
        return ServerGone(
            f"the fork server (pid {self.process.pid}) is gone (exit status {status});"
            f" its stderr ends with:\n{self.log_tail()}"
        )

    def connect(self) -> socket.socket:
        """A new connection to the server, for one child."""
        if self.process.poll() is not None:
            raise self.gone()
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            connection.connect(self.path)
        except OSError as error:
            connection.close()
            raise self.gone() from error
        return connection

    def stop(self) -> None:
        """End the server (coverage, when on, saves its data on SIGTERM) and its files."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        for name in (self.path, self.log):
            with contextlib.suppress(OSError):
                os.unlink(name)
        with contextlib.suppress(OSError):
            os.rmdir(self.directory)


_server: Server | None = None


def server() -> Server:
    """This test process's fork server, started on first use."""
    global _server
    if _server is None:
        _server = Server()
    return _server


def stop_server() -> None:
    """Stop the fork server if one was started (pytest_sessionfinish)."""
    global _server
    if _server is not None:
        _server.stop()
        _server = None


def _entry(argv: Sequence[str]) -> dict[str, Any]:
    """What the server is to run for ``argv``: ``python -m MODULE ...`` or the script."""
    args = [os.fspath(arg) for arg in argv]
    if len(args) >= 3 and args[:2] == [sys.executable, "-m"]:
        return {"module": args[2], "argv": ["-m", *args[3:]]}
    if args and Path(args[0]) == ACCESSGUARD:
        return {"path": args[0], "argv": args}
    raise ValueError(f"the fork server runs `python -m MODULE` or accessguard, not {args[:3]}")


class Child:
    """A command running in a process forked by the server; like `subprocess.Popen`.

    ``returncode`` follows subprocess: the exit status, or -N after signal N.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        stdin: Spec = None,
        stdout: Spec = None,
        stderr: Spec = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        text: bool = False,
        terminal: bool = False,
        via: Server | None = None,
    ) -> None:
        """Start ``argv`` (see `_entry`) on the given descriptors (PIPE, DEVNULL, STDOUT, a
        descriptor or file; None: this process's), as a session leader with its stdin as
        controlling terminal when ``terminal``; ``via`` another server than this process's."""
        request = _entry(argv)
        request["env"] = dict(os.environ if env is None else env)
        request["cwd"] = os.path.abspath(os.fspath(cwd if cwd is not None else os.getcwd()))
        request["terminal"] = terminal
        self.args = list(argv)
        self.stdin: IO[Any] | None = None
        self.stdout: IO[Any] | None = None
        self.stderr: IO[Any] | None = None
        self.returncode: int | None = None
        self.wait_status: int | None = None
        to_close: list[int] = []
        fds: list[int] = []
        try:
            for fd, spec in enumerate((stdin, stdout, stderr)):
                if spec == PIPE:
                    read, write = os.pipe()
                    ours, theirs = (write, read) if fd == 0 else (read, write)
                    to_close.append(theirs)
                    mode = ("w" if fd == 0 else "r") + ("" if text else "b")
                    opened = open(ours, mode, encoding="utf-8" if text else None)  # noqa: SIM115
                    setattr(self, ("stdin", "stdout", "stderr")[fd], opened)
                    fds.append(theirs)
                elif spec == DEVNULL:
                    null = os.open(os.devnull, os.O_RDWR)
                    to_close.append(null)
                    fds.append(null)
                elif spec == STDOUT and fd == 2:
                    fds.append(fds[1])
                elif spec is None:
                    fds.append(fd)
                elif isinstance(spec, int):
                    fds.append(spec)
                else:
                    fds.append(spec.fileno())
            self._server = via or server()
            self._connection = self._server.connect()
            payload = json.dumps(request).encode()  # as Request.parse reads it
            socket.send_fds(self._connection, [payload], fds)
            answer = self._answer(None)
        finally:
            for fd in to_close:
                os.close(fd)
        if answer is None or not answer.startswith(b"pid "):
            self._connection.close()
            raise ServerGone(f"the fork server did not start {self.args}: {answer!r}")
        self.pid = int(answer.split()[1])

    def _answer(self, timeout: float | None) -> bytes | None:
        """The server's next message about this child (None on timeout)."""
        ready = selectors.DefaultSelector()
        ready.register(self._connection, selectors.EVENT_READ)
        try:
            if not ready.select(timeout):
                return None
        finally:
            ready.close()
        message = self._connection.recv(4096)
        if not message:
            raise self._server.gone()
        return message

    def poll(self) -> int | None:
        """The return code if the child has ended, else None."""
        if self.returncode is None:
            self._wait(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child; its return code. Raises subprocess.TimeoutExpired."""
        if self.returncode is None and not self._wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def _wait(self, timeout: float | None) -> bool:
        answer = self._answer(timeout)
        if answer is None:
            return False
        if not answer.startswith(b"status "):
            raise ServerGone(f"unexpected answer from the fork server: {answer!r}")
        self.wait_status = int(answer.split()[1])
        self.returncode = os.waitstatus_to_exitcode(self.wait_status)
        self._connection.close()
        return True

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the child (nothing once it has been reaped)."""
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        """SIGTERM."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL."""
        self.send_signal(signal.SIGKILL)

    def communicate(
        self, input: bytes | str | None = None, timeout: float | None = None
    ) -> tuple[Any, Any]:
        """Write ``input``, read stdout and stderr to their ends, wait; like Popen's."""
        chunks: dict[int, list[bytes]] = {}
        deadline = None if timeout is None else time.monotonic() + timeout
        selector = selectors.DefaultSelector()
        pending = b""
        if self.stdin is not None:
            pending = input.encode() if isinstance(input, str) else (input or b"")
            if pending:
                selector.register(self.stdin.fileno(), selectors.EVENT_WRITE)
            else:
                self.stdin.close()
        for stream in (self.stdout, self.stderr):
            if stream is not None:
                chunks[stream.fileno()] = []
                selector.register(stream.fileno(), selectors.EVENT_READ)
        try:
            while selector.get_map():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise subprocess.TimeoutExpired(self.args, timeout or 0)
                for key, _ in selector.select(left):
                    fd = key.fd
                    if fd in chunks:
                        data = os.read(fd, 65536)
                        if data:
                            chunks[fd].append(data)
                        else:
                            selector.unregister(fd)
                        continue
                    try:
                        written = os.write(fd, pending[:65536])
                    except BrokenPipeError:
                        written = len(pending)
                    pending = pending[written:]
                    if not pending:
                        selector.unregister(fd)
                        assert self.stdin is not None
                        with contextlib.suppress(BrokenPipeError):
                            self.stdin.close()
        finally:
            selector.close()
        self.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        results: list[Any] = []
        for stream in (self.stdout, self.stderr):
            if stream is None:
                results.append(None)
                continue
            data = b"".join(chunks[stream.fileno()])
            text = "b" not in stream.mode
            stream.close()
            results.append(data.decode() if text else data)
        return results[0], results[1]

    def __enter__(self) -> Child:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Like Popen's: close the pipes and wait (killing it first after an exception)."""
        for stream in (self.stdin, self.stdout, self.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if error is not None and self.poll() is None:
            self.kill()
        if self.returncode is None:
            self.wait()


def run(
    argv: Sequence[str],
    *,
    input: bytes | str | None = None,
    capture_output: bool = False,
    stdin: Spec = None,
    stdout: Spec = None,
    stderr: Spec = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    text: bool = False,
    timeout: float | None = None,
    check: bool = False,
    via: Server | None = None,
) -> subprocess.CompletedProcess[Any]:
    """Like `subprocess.run`, in a preloaded child; a timeout kills it and raises."""
    if capture_output:
        stdout = stderr = PIPE
    if input is not None:
        stdin = PIPE
    with Child(
        argv, stdin=stdin, stdout=stdout, stderr=stderr, env=env, cwd=cwd, text=text, via=via
    ) as c:
        try:
            out, err = c.communicate(input, timeout)
        except subprocess.TimeoutExpired:
            c.kill()
            c.wait()
            raise
    done = subprocess.CompletedProcess(list(argv), c.wait(), out, err)
    if check:
        done.check_returncode()
    return done


class PtyChild(Child):
    """A child on a new pseudo-terminal of ``rows`` x ``columns``, as `pty.fork` gives: its
    own session, the terminal its controlling one and its stdin, stdout and (unless
    ``stderr`` is given) stderr. ``fd`` is the terminal's master side."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        rows: int = 24,
        columns: int = 80,
        stderr: Spec = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        try:
            super().__init__(
                argv,
                stdin=slave,
                stdout=slave,
                stderr=slave if stderr is None else stderr,
                env=env,
                cwd=cwd,
                terminal=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.fd = master
