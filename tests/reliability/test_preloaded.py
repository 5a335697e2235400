"""The fork server's children are the processes they stand for (tests/preloaded.py).

Each test runs the same thing twice, as a fresh interpreter (``subprocess``, ``pty.fork``
and exec: what the tests did before) and forked from the preloaded server, and compares
what a test can see: bytes, exit statuses, signals, terminals, environment, coverage.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import preloaded
from tests.preloaded import ACCESSGUARD, REPO, PtyChild
from tests.reliability.support_signals import PtyConsole
from tests.reliability.support_sqlite_file import url_for

PROBE = [sys.executable, "-m", "tests.preloaded_probe"]


def probe_environment(**extra: str) -> dict[str, str]:
    """This process's environment with the checkout importable (the probe lives in tests/)."""
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def fresh_and_preloaded(
    argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[subprocess.CompletedProcess[bytes], subprocess.CompletedProcess[bytes]]:
    """``argv`` run piped (stdin empty) as a fresh interpreter, then forked from the server."""
    options: dict[str, Any] = {"input": b"", "capture_output": True, "env": env, "cwd": cwd}
    fresh = subprocess.run(argv, timeout=60, check=False, **options)
    forked = preloaded.run(argv, timeout=60, **options)
    return fresh, forked


def on_a_terminal(argv: list[str], *, env: dict[str, str]) -> tuple[dict[str, Any], ...]:
    """The probe's facts on a new pseudo-terminal: fresh (pty.fork, exec), then forked."""
    facts = []
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    facts.append(json.loads(_drain(fd)))
    os.waitpid(pid, 0)
    child = PtyChild(argv, env=env)
    facts.append(json.loads(_drain(child.fd)))
    assert child.wait(30) == 0
    return tuple(facts)


def _drain(fd: int) -> bytes:
    """Everything written to a terminal until its last writer closed it."""
    data = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child has gone
            break
        if not chunk:
            break
        data += chunk
    os.close(fd)
    return data.replace(b"\r\n", b"\n")


def test_a_command_piped_writes_the_same_bytes_and_status(tmp_path: Path) -> None:
    """The command line on pipes: what it wrote, byte for byte, and its exit status, for a
    database made, a listing, a missing database (1) and a usage error (2)."""
    url = url_for(tmp_path / "a.db")
    command = [sys.executable, "-m", "tui", "--db", url]
    made = preloaded.run([*command, "db", "upgrade"], capture_output=True, timeout=60)
    assert made.returncode == 0, made.stderr
    preloaded.run([*command, "users", "add", "--name", "Ana", "--email", "ana@example.com"])
    cases = {
        "users list": ([*command, "users", "list", "--format", "json"], 0),
        "missing database": (
            [sys.executable, "-m", "tui", "--db", url_for(tmp_path / "none.db"), "users", "list"],
            1,
        ),
        "usage error": ([*command, "users", "list", "--bogus"], 2),
    }
    for what, (argv, status) in cases.items():
        fresh, forked = fresh_and_preloaded(argv)
        assert (forked.returncode, forked.stdout, forked.stderr) == (
            fresh.returncode,
            fresh.stdout,
            fresh.stderr,
        ), what
        assert forked.returncode == status, (what, forked.stderr)
    assert b"Ana" in fresh_and_preloaded(cases["users list"][0])[1].stdout


def test_the_process_is_made_as_a_fresh_interpreter_makes_it(tmp_path: Path) -> None:
    """Std streams (buffering, encoding, names), open descriptors, signal dispositions,
    environment, working directory, argv and what modules read from the environment at
    import (Textual's constants, PyMySQL's default user), with settings unlike the server's."""
    env = probe_environment(
        TEXTUAL_FPS="7",
        TEXTUAL_DRIVER="textual.drivers.headless_driver:HeadlessDriver",
        TEXTUAL_THEME="nord",
        TEXTUAL_DIM_FACTOR="12",
        ESCDELAY="333",
        NO_COLOR="1",
        USER="someone-else",
        LOGNAME="someone-else",
        PYTHONUNBUFFERED="1",
    )
    fresh, forked = fresh_and_preloaded([*PROBE, "an", "argument"], env=env, cwd=tmp_path)
    assert forked.returncode == fresh.returncode == 0, forked.stderr
    expected, got = json.loads(fresh.stdout), json.loads(forked.stdout)
    assert got == expected
    assert got["textual"]["MAX_FPS"] == 7
    assert got["pymysql_user"] == "someone-else"
    assert got["cwd"] == str(tmp_path)
    assert got["stdout"]["write_through"] is True


def test_each_child_sees_only_its_own_environment() -> None:
    """A variable given to one child is gone for the next, and buffering follows each."""
    first = preloaded.run(
        PROBE, capture_output=True, env=probe_environment(ONLY_FOR_ONE="1", PYTHONUNBUFFERED="1")
    )
    env = probe_environment()
    env.pop("PYTHONUNBUFFERED", None)
    second = preloaded.run(PROBE, capture_output=True, env=env)
    assert json.loads(first.stdout)["environ"]["ONLY_FOR_ONE"] == "1"
    facts = json.loads(second.stdout)
    assert "ONLY_FOR_ONE" not in facts["environ"]
    assert facts["stdout"]["write_through"] is False
    assert facts["environ"] == env


def test_on_a_terminal_the_child_has_it_as_its_controlling_terminal() -> None:
    """On a pseudo-terminal: the three streams are ttys (stdout line-buffered), the child
    leads its own session, as with pty.fork and exec."""
    env = probe_environment()
    env.pop("PYTHONUNBUFFERED", None)
    fresh, forked = on_a_terminal(PROBE, env=env)
    assert forked == fresh
    assert forked["stdout"]["isatty"]
    assert forked["stdin"]["isatty"]
    assert forked["stdout"]["line_buffering"] is True
    assert forked["session_leader"] is True


@pytest.mark.parametrize(
    ("signum", "returncode"),
    [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, -signal.SIGINT)],
)
def test_a_signal_ends_the_child_as_it_ends_a_fresh_one(signum: int, returncode: int) -> None:
    """SIGTERM kills; SIGINT raises KeyboardInterrupt, which ends the interpreter by SIGINT:
    the same return code and stderr (no traceback's worth of difference) either way."""
    outcomes = []
    for start in (subprocess.Popen, preloaded.Child):
        child: Any = start(
            [*PROBE, "sleep"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=probe_environment(),
        )
        with child:
            assert child.stdout.readline() == b"ready\n"
            child.send_signal(signum)
            child.wait(30)
            outcomes.append((child.returncode, child.stderr.read().splitlines()[-1:]))
    assert outcomes[1] == outcomes[0]
    assert outcomes[1][0] == returncode


def console(url: str, *, fresh: bool) -> PtyConsole:
    """The console on a terminal, its first rows drawn."""
    shell = PtyConsole(url, fresh=fresh)
    shell.expect("Row 1 of", seconds=60)
    return shell


@pytest.mark.parametrize(
    ("ending", "status"),
    [("hang up", 128 + signal.SIGHUP), ("SIGTERM", 128 + signal.SIGTERM)],
)
def test_a_console_ends_with_the_status_of_a_fresh_one(
    tmp_path: Path, ending: str, status: int
) -> None:
    """A console whose terminal hangs up exits 129, its output buffered (PYTHONUNBUFFERED
    unset, as an admin runs it: a flush failing at exit once made it 120); SIGTERM, 143."""
    url = url_for(tmp_path / "a.db")
    for command in (["db", "upgrade"], ["users", "add", "--name", "Ana", "--email", "a@b.example"]):
        assert preloaded.run([str(ACCESSGUARD), "--db", url, *command]).returncode == 0
    statuses = []
    for fresh in (True, False):
        shell = console(url, fresh=fresh)
        try:
            if ending == "hang up":
                shell.hang_up()
            else:
                shell.send(signal.SIGTERM)
            statuses.append(shell.wait(15))
        finally:
            shell.kill()
    assert statuses[1] == statuses[0]
    assert os.WIFEXITED(statuses[1])
    assert os.WEXITSTATUS(statuses[1]) == status


def test_a_child_measures_its_coverage_in_a_data_file_of_its_own(tmp_path: Path) -> None:
    """With coverage on in the server, a child's lines are saved under the child's pid (its
    own run of `tui.cli.main`), not lost and not mixed with the server's imports."""
    env = {
        **os.environ,
        "COVERAGE_PROCESS_START": str(REPO / "pyproject.toml"),
        "COVERAGE_FILE": str(tmp_path / ".coverage"),
    }
    # When this run is measured itself (CI), coverage hands its own settings, data file
    # included, to every process started from here; this server is to use the ones above.
    env.pop("COVERAGE_PROCESS_CONFIG", None)
    server = preloaded.Server(env)
    try:
        child = preloaded.Child(
            [sys.executable, "-m", "tui", "--version"],
            stdout=subprocess.DEVNULL,
            env=env,
            via=server,
        )
        assert child.wait(60) == 0
    finally:
        server.stop()
    from coverage import CoverageData

    files = list(tmp_path.glob(f".coverage.*.pid{child.pid}.*"))
    assert len(files) == 1, sorted(path.name for path in tmp_path.iterdir())
    data = CoverageData(basename=str(files[0]))
    data.read()
    measured = {Path(name).relative_to(REPO).as_posix(): name for name in data.measured_files()}
    assert "tui/cli/process.py" in measured
    server_files = [path for path in tmp_path.glob(".coverage.*") if path not in files]
    assert server_files, "the server saved no data of its own (its imports)"


def test_a_command_after_the_server_died_fails_saying_so() -> None:
    """A server that died is not replaced behind the test's back: the next command fails
    with its pid, its exit status and the end of what it wrote."""
    server = preloaded.Server()
    try:
        server.process.kill()
        server.process.wait()
        with pytest.raises(preloaded.ServerGone, match=r"the fork server \(pid \d+\) is gone"):
            preloaded.Child([sys.executable, "-m", "tui", "--version"], via=server)
    finally:
        server.stop()
