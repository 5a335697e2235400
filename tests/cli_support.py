"""The command line run in the test's own process, seen as a script would see it.

Starting ``accessguard`` as a child costs about a second of CPU (SQLAlchemy and our modules
import each time). Where the process is not what a test is about, `in_process` calls
`tui.cli.main` here instead, on real file descriptors: a pipe (every byte as written) or a
pseudo-terminal (``isatty()`` true, read back from its master, with the terminal's own
line discipline), a stdin pipe holding given bytes, a working directory and environment
variables for the run. Output is drained by threads as it is written, so a command that
writes more than a pipe holds never blocks on it.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

from tui.cli import main

Output = Literal["pipe", "terminal"]
# The size of every terminal the tests give a command or console (support_input.Terminal's).
ROWS, COLUMNS = 24, 80
TERMINAL_ENV = {"TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(ROWS)}


@dataclass(frozen=True)
class Ran:
    """What one run of the command line did: its exit status and the bytes it wrote.

    ``terminal`` holds what a pseudo-terminal showed (stdout and stderr share it, as on a
    real one); ``stdout`` and ``stderr`` what went into their pipes.
    """

    status: int
    stdout: bytes
    stderr: bytes
    terminal: bytes = b""

    @classmethod
    def of(cls, done: subprocess.CompletedProcess[bytes]) -> Ran:
        """What a child process (run with ``capture_output``) did."""
        return cls(done.returncode, done.stdout, done.stderr)

    @property
    def out(self) -> str:
        """Stdout as text (UTF-8, what the command line writes)."""
        return self.stdout.decode("utf-8")

    @property
    def err(self) -> str:
        """Stderr as text."""
        return self.stderr.decode("utf-8")

    @property
    def shown(self) -> str:
        """What the terminal showed, as text."""
        return self.terminal.decode("utf-8")

    @property
    def json(self) -> Any:
        """Stdout parsed as JSON."""
        return json.loads(self.stdout)


class Cli(Protocol):
    """Runs ``accessguard ARGV...`` and tells what it did."""

    def __call__(self, *argv: str, cwd: Path | None = None, stdin: bytes | None = b"") -> Ran:
        """Run the command line with ``argv``."""
        ...


def in_process(
    *argv: str,
    cwd: Path | None = None,
    stdin: bytes | None = b"",
    stdout: Output = "pipe",
    stderr: Output = "pipe",
    env: Mapping[str, str | None] | None = None,
) -> Ran:
    """Run ``accessguard ARGV...`` through `tui.cli.main` in this process.

    ``cwd``: the working directory for the run. ``stdin``: the bytes a pipe on stdin holds,
    or None to leave ``sys.stdin`` as the test set it. ``stdout``/``stderr``: a pipe, or a
    pseudo-terminal of 24x80 (both on one when both ask for it; ``TERM``, ``COLUMNS`` and
    ``LINES`` then set as a terminal's session has them). ``env``: variables set for the
    run, None removing one.
    """
    variables = dict(env or {})
    pty = _Pty() if "terminal" in (stdout, stderr) else None
    if pty is not None:
        variables = {**TERMINAL_ENV, **variables}
    out = pty if stdout == "terminal" and pty else _Pipe()
    err = pty if stderr == "terminal" and pty else _Pipe()
    streams = {"stdout": out.stream("stdout"), "stderr": err.stream("stderr")}
    if stdin is not None:
        streams["stdin"] = _stdin(stdin)
    saved = {name: getattr(sys, name) for name in streams}
    try:
        with _environment(variables), _working_directory(cwd):
            for name, stream in streams.items():
                setattr(sys, name, stream)
            status = main(list(argv))
    finally:
        for name, stream in saved.items():
            setattr(sys, name, stream)
        for stream in streams.values():
            # Flushes what the command left buffered, as the interpreter does at exit (which
            # ignores a stream the command pointed at /dev/null); closed, it cannot write to
            # the descriptor's number once that is reused.
            with suppress(OSError, ValueError):
                stream.close()
        written_out = out.finish()
        written_err = err.finish() if err is not out else written_out
    return Ran(
        status,
        b"" if out is pty else written_out,
        b"" if err is pty else written_err,
        written_out if out is pty else written_err if err is pty else b"",
    )


def _stdin(data: bytes) -> TextIO:
    """A pipe holding ``data`` then closed, as stdin: fed by a thread (it may hold more
    than a pipe does)."""
    read_end, write_end = os.pipe()

    def feed() -> None:
        # Unbuffered: all of it is written inside the suppress, none left for close.
        with open(write_end, "wb", buffering=0) as pipe, suppress(BrokenPipeError):
            pipe.write(data)  # BrokenPipeError: the command stopped reading

    threading.Thread(target=feed, daemon=True).start()
    like = sys.__stdin__
    return io.TextIOWrapper(
        open(read_end, "rb"),
        encoding=like.encoding if like else "utf-8",
        errors=like.errors if like else "strict",
        newline="\n",
    )


class _Pipe:
    """A pipe whose write end is the command's stream; a thread keeps its bytes."""

    def __init__(self) -> None:
        self.read_end, self.write_end = os.pipe()
        self.data = bytearray()
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self) -> None:
        with open(self.read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                self.data.extend(chunk)

    def stream(self, name: str) -> TextIO:
        """A text stream on the write end, made as Python makes a script's ``name``."""
        return _text(self.write_end, name, terminal=False)

    def finish(self) -> bytes:
        """Close the write end and return every byte written."""
        os.close(self.write_end)
        self.reader.join()
        return bytes(self.data)


class _Pty:
    """A pseudo-terminal whose slave is the command's stream; a thread reads the master."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.data = bytearray()
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the slave is closed and everything was read
                break
            if not chunk:
                break
            self.data.extend(chunk)
        os.close(self.master)

    def stream(self, name: str) -> TextIO:
        """A text stream on the slave, made as Python makes a script's ``name`` on a
        terminal."""
        return _text(self.slave, name, terminal=True)

    def finish(self) -> bytes:
        """Close the slave and return every byte the terminal showed."""
        os.close(self.slave)
        self.reader.join()
        return bytes(self.data)


def _text(fd: int, name: str, *, terminal: bool) -> TextIO:
    """What Python makes of a script's ``name`` (stdout or stderr) on ``fd``, started with
    this environment and locale (those of the test's own interpreter): the same encoding
    and error handler, no newline translation, unbuffered under ``PYTHONUNBUFFERED``, else
    line-buffered on a terminal (and stderr always)."""
    like = getattr(sys, f"__{name}__")
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(
        raw if unbuffered else io.BufferedWriter(raw),
        encoding=like.encoding if like else "utf-8",
        errors=like.errors if like else "strict",
        newline="\n",
        line_buffering=not unbuffered and (terminal or name == "stderr"),
        write_through=unbuffered,
    )


@contextmanager
def _environment(variables: Mapping[str, str | None]) -> Iterator[None]:
    """``variables`` set (None: removed) while inside, as they were after."""
    before = {name: os.environ.get(name) for name in variables}
    try:
        for name, value in variables.items():
            _set(name, value)
        yield
    finally:
        for name, value in before.items():
            _set(name, value)


def _set(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@contextmanager
def _working_directory(path: Path | None) -> Iterator[None]:
    """``path`` the working directory while inside (None: this one)."""
    if path is None:
        yield
        return
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)
