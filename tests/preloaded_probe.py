"""``python -m tests.preloaded_probe [sleep]``: what a process is, as JSON on stdout.

tests/reliability/test_preloaded.py runs it as a fresh interpreter and forked from the fork
server, and compares: std streams, descriptors, environment, working directory, signal
dispositions, settings other modules read from the environment at import. With ``sleep``
it says ``ready`` and waits for a signal instead.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any


def disposition(handler: Any) -> str:
    """A signal's disposition, named the same in every process."""
    if handler in (signal.SIG_DFL, signal.SIG_IGN, None):
        return str(handler)
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', '?')}"


def stream(file: Any) -> dict[str, Any]:
    """How a std stream is made."""
    return {
        "isatty": file.isatty(),
        "encoding": file.encoding,
        "errors": file.errors,
        "line_buffering": file.line_buffering,
        "write_through": file.write_through,
        "buffer": type(file.buffer).__name__,
        "name": getattr(file.buffer, "name", None),
        "mode": file.mode,
    }


def facts() -> dict[str, Any]:
    """Everything compared."""
    import pymysql.connections
    import textual.app
    import textual.constants
    import textual.filter
    import textual.screen

    constants = {
        name: getattr(textual.constants, name)
        for name in dir(textual.constants)
        if name.isupper() and isinstance(getattr(textual.constants, name), str | int | float)
    }
    signals = {}
    for signum in sorted(signal.valid_signals()):
        try:
            signals[signal.Signals(signum).name] = disposition(signal.getsignal(signum))
        except (ValueError, OSError):
            continue
    return {
        "stdin": stream(sys.stdin),
        "stdout": stream(sys.stdout),
        "stderr": stream(sys.stderr),
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        "cwd": os.getcwd(),
        "environ": dict(os.environ),
        "argv": sys.argv[1:],
        "main": sys.argv[0],
        "signals": signals,
        "blocked": sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])),
        "wakeup_fd": signal.set_wakeup_fd(-1),
        "textual": constants,
        "update_period": textual.screen.UPDATE_PERIOD,
        "dim_factor": getattr(textual.filter, "DIM_FACTOR"),  # noqa: B009
        "theme": textual.app.App.theme._default,
        "pymysql_user": pymysql.connections.DEFAULT_USER,
        "session_leader": os.getsid(0) == os.getpid(),
        "dont_write_bytecode": sys.dont_write_bytecode,
    }


def main() -> None:
    """Print the facts, or wait for a signal."""
    if sys.argv[1:] == ["sleep"]:
        # A shell starts a background job with SIGINT ignored, and a fresh interpreter keeps
        # that: the SIGINT case wants the KeyboardInterrupt an interactive start would give.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("ready", flush=True)
        time.sleep(60)
        return
    print(json.dumps(facts(), sort_keys=True))


if __name__ == "__main__":
    main()
