"""A process on a real pseudo-terminal at 80x24: every byte it writes is kept, to be
searched for what must never reach an admin's terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time
from pathlib import Path

from tests.reliability.support_input import accessguard

ROWS, COLUMNS = 24, 80
KEY_DEADLINE_S = 15.0


class Terminal:
    """The console running on a real pseudo-terminal; everything it writes is kept."""

    def __init__(
        self, url: str, *args: str, cwd: Path | None = None, columns: int = COLUMNS
    ) -> None:
        """``accessguard --db URL ARGS...`` (the console without ARGS), in ``cwd``, on a
        terminal ``columns`` wide."""
        self.output = bytearray()
        pid, fd = pty.fork()
        if pid == 0:  # the child: the console, as an admin would start it
            os.environ["TERM"] = "xterm-256color"
            os.environ["COLUMNS"], os.environ["LINES"] = str(columns), str(ROWS)
            try:
                if cwd is not None:
                    os.chdir(cwd)
                os.execv(accessguard(), [accessguard(), "--db", url, *args])
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, columns, 0, 0))

    def read(self, timeout: float) -> bool:
        """Read what is there (waiting up to ``timeout``); False once the console has gone."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.output.extend(data)
        return bool(data)

    def wait_for(self, marker: bytes, *, since: int = 0) -> None:
        """Read until ``marker`` has been written after offset ``since``."""
        deadline = time.monotonic() + KEY_DEADLINE_S
        while marker not in self.output[since:]:
            if time.monotonic() > deadline:
                tail = bytes(self.output[-400:])
                raise AssertionError(f"{marker!r} not shown within {KEY_DEADLINE_S} s: {tail!r}")
            if not self.read(0.05):
                raise AssertionError(f"the console exited before showing {marker!r}")

    def press(self, keys: bytes, then_shows: bytes) -> None:
        """Type ``keys`` and read until the console shows ``then_shows`` (after them; with
        no keys, anything shown so far counts)."""
        since = len(self.output) if keys else 0
        os.write(self.fd, keys)
        self.wait_for(then_shows, since=since)

    def quit(self) -> int:
        """Press q and read until the console exits; its exit status."""
        os.write(self.fd, b"q")
        return self.wait()

    def wait(self) -> int:
        """Read until the process exits (closing the terminal); its exit status."""
        deadline = time.monotonic() + KEY_DEADLINE_S
        while self.read(0.05):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                raise AssertionError("the process did not end")
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)

    def close(self) -> None:
        """Make sure the child is gone (after a failed assertion)."""
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass

    def walk(self, *steps: tuple[bytes, bytes]) -> tuple[int, bytes]:
        """Press each step's keys and read until it shows its marker, then quit; the exit
        status and every byte written. The process is gone afterwards, whatever happened."""
        try:
            for keys, then_shows in steps:
                self.press(keys, then_shows)
            status = self.quit()
        finally:
            self.close()
        return status, bytes(self.output)
