"""Real local faults for tests/reliability/test_local_faults.py: another process holding a
lock or a snapshot through the database's own command-line client, a tiny file system that
fills up, read-only mounts, and the CLI run in a forked process (as an unprivileged user
when a test needs the kernel to refuse a root-owned process nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from sqlalchemy.engine import URL
from textual import events
from textual.app import App

from tests.needs import require_root

SHELL_SECONDS = 15.0
CLI_SECONDS = 60.0


class SqlShell:
    """A database's own command-line client (sqlite3, psql, mariadb) in a process of its
    own, fed SQL on stdin and read line by line, so a test can hold a transaction open in
    another process for as long as it likes."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self._process = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._marks = 0
        threading.Thread(target=self._pump, daemon=True).start()

    @classmethod
    def for_url(cls, url: URL) -> SqlShell:
        """The client that speaks to ``url``'s database, as its admin."""
        backend = url.get_backend_name()
        if backend == "sqlite":
            return cls(["sqlite3", "-batch", str(url.database)])
        host, port = url.host or "127.0.0.1", str(url.port or "")
        if backend == "postgresql":
            user, port = url.username or "postgres", port or "5432"
            options = ["-X", "-q", "-A", "-t", "-h", host, "-p", port, "-U", user]
            return cls(["psql", *options, "-d", str(url.database)])
        user, port = url.username or "root", port or "3306"
        options = ["--batch", "--skip-column-names", "--unbuffered", "--force"]
        return cls(["mariadb", *options, "-h", host, "-P", port, "-u", user, str(url.database)])

    def _pump(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def query(self, sql: str) -> list[str]:
        """Run ``sql`` (statements ending in ``;``) and return the lines it printed."""
        self._marks += 1
        mark = f"--mark-{self._marks}--"
        assert self._process.stdin is not None
        self._process.stdin.write(f"{sql}\nSELECT '{mark}';\n")
        self._process.stdin.flush()
        deadline = time.monotonic() + SHELL_SECONDS
        lines: list[str] = []
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                raise AssertionError(f"{self.argv[0]} did not answer {sql!r}: {lines}") from None
            if line is None:
                raise AssertionError(f"{self.argv[0]} ended while running {sql!r}: {lines}")
            if line.strip() == mark:
                return lines
            lines.append(line)

    def value(self, sql: str) -> str:
        """The single line one query printed."""
        lines = self.query(sql)
        assert len(lines) == 1, f"{sql!r} printed {lines}"
        return lines[0].strip()

    def close(self) -> None:
        """End the client: its connection closes and any open transaction rolls back."""
        if self._process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self._process.stdin.close()
        try:
            self._process.wait(timeout=SHELL_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> SqlShell:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def write_lock_sql(url: URL, user_id: int) -> str:
    """SQL that takes the lock a save of user ``user_id`` needs, and keeps it until ROLLBACK.

    SQLite has one write lock for the whole file; the servers lock the row.
    """
    if url.get_backend_name() == "sqlite":
        return "BEGIN IMMEDIATE;"
    return f"BEGIN; SELECT id FROM users WHERE id = {user_id} FOR UPDATE;"


def snapshot_sql(url: URL) -> str:
    """SQL that opens a transaction reading one snapshot until it ends."""
    backend = url.get_backend_name()
    if backend == "postgresql":
        return "BEGIN ISOLATION LEVEL REPEATABLE READ;"
    if backend == "mysql":
        return "START TRANSACTION WITH CONSISTENT SNAPSHOT;"
    return "BEGIN;"


# The command line, in a forked copy of this (already imported) process


@dataclass(frozen=True)
class CliRun:
    """What one run of the command line did."""

    status: int
    stdout: str
    stderr: str
    seconds: float

    def says(self, *phrases: str) -> bool:
        """Whether stderr holds every phrase (case-insensitive) and no traceback."""
        text = self.stderr.lower()
        return "traceback" not in text and all(phrase.lower() in text for phrase in phrases)


def run_cli(argv: Sequence[str], *, user: str | None = None) -> CliRun:
    """Run ``accessguard argv`` in a forked child, optionally as the unprivileged ``user``.

    Forking keeps each run cheap (nothing to import again) and lets the child drop root,
    which no file permission stops. The child gets its own stdout and stderr files.
    """
    from tui.cli import main

    if user is not None:
        require_root("setuid", "setgid", why=f"runs the CLI as the user {user}")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            _cli_child(main, list(argv), out, err, user)
        timer = threading.Timer(CLI_SECONDS, _kill, (pid,))
        timer.start()
        try:
            _, wait_status = os.waitpid(pid, 0)
        finally:
            timer.cancel()
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return CliRun(
            status=os.waitstatus_to_exitcode(wait_status),
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            seconds=seconds,
        )


def _cli_child(
    main: Callable[[Sequence[str]], int],
    argv: list[str],
    out: IO[bytes],
    err: IO[bytes],
    user: str | None,
) -> None:  # pragma: no cover - runs in the child
    status = 99
    try:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        if user is not None:
            entry = pwd.getpwnam(user)
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            # Another user has their own config and state: the test's XDG directories
            # belong to root (0700), and an unreadable config file is refused (exit 2).
            home = Path(entry.pw_dir)
            os.environ["XDG_CONFIG_HOME"] = str(home / ".config")
            os.environ["XDG_STATE_HOME"] = str(home / ".local" / "state")
        status = main(argv)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(status)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 9)


# Mounts: a tiny file system, read-only views


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


def _unmount(path: Path) -> None:
    try:
        _run("umount", str(path))
    except subprocess.CalledProcessError:
        _run("umount", "--lazy", str(path))  # still busy: detach it now, free it when idle


@contextlib.contextmanager
def tiny_filesystem(path: Path, *, size: str = "8m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path``: a disk that really fills up."""
    require_root("sys_admin", why="mounts a tiny tmpfs")
    path.mkdir(parents=True, exist_ok=True)
    _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path))
    try:
        yield path
    finally:
        _unmount(path)


@contextlib.contextmanager
def read_only_view(path: Path) -> Iterator[Path]:
    """Make ``path`` (a file or a directory) read-only for every process, root included,
    with a read-only bind mount over it."""
    require_root("sys_admin", why="mounts a read-only bind mount")
    _run("mount", "--bind", str(path), str(path))
    try:
        _run("mount", "-o", "remount,ro,bind", str(path))
        yield path
    finally:
        _unmount(path)


def fill_disk(directory: Path) -> Path:
    """Write a file into ``directory`` until its file system has no room for another byte."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as file:
        for size in (65_536, 4_096, 1):
            with contextlib.suppress(OSError):
                while True:
                    file.write(b"\0" * size)
    return filler


@contextlib.contextmanager
def shared_directory() -> Iterator[Path]:
    """A directory under /tmp an unprivileged user can reach (pytest's own is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="ag-local-faults-", dir="/tmp"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        path.chmod(0o755)
        shutil.rmtree(path, ignore_errors=True)


# What a SQLite file holds, read by another process


@dataclass(frozen=True)
class SqliteFacts:
    """A SQLite database's health and contents, as the sqlite3 tool sees them."""

    integrity: str
    users: int
    products: int
    audit_entries: int


def sqlite_facts(path: Path) -> SqliteFacts:
    """Integrity check and row counts, read by the sqlite3 tool in its own process."""
    sql = (
        "PRAGMA integrity_check; SELECT count(*) FROM users; SELECT count(*) FROM products;"
        " SELECT count(*) FROM audit_entries;"
    )
    done = subprocess.run(
        ["sqlite3", "-batch", str(path), sql], capture_output=True, text=True, check=True
    )
    lines = done.stdout.split()
    assert len(lines) == 4, done
    return SqliteFacts(lines[0], int(lines[1]), int(lines[2]), int(lines[3]))


# The console


async def key_latency(app: App[Any], key: str, moved: Callable[[], bool]) -> float:
    """Seconds from pressing ``key`` until ``moved()`` holds (a cursor moved, say).

    The key goes in the way the terminal driver delivers one; the check is polled every
    millisecond, with a deadline, so the figure is what the admin would wait.
    """
    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    started = time.perf_counter()
    app.post_message(event)
    deadline = started + 5.0
    while not moved():
        if time.perf_counter() > deadline:
            raise AssertionError(f"{key!r} did not move anything in 5 s")
        await asyncio.sleep(0.001)
    return time.perf_counter() - started


def changed(read: Callable[[], object]) -> Callable[[], bool]:
    """A condition that holds once ``read()`` no longer returns what it returns now."""
    was = read()
    return lambda: read() != was


def notifications(app: App[Any]) -> list[tuple[str, str]]:
    """(title, message) of every toast the console has shown."""
    return [(note.title, note.message) for note in app._notifications]
