"""The process: from the command line's words to an exit status.

`main` parses, then runs a command or the console, and owns what a process must get right
whatever the command: exit codes, Ctrl-C and closing signals, broken pipes, and crash output
that never holds a URL's password.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from data.config import BadDatabaseURL
from data.errors import AccessGuardError, Invalid
from data.redact import redact
from tui.cli.admin import config_settings
from tui.cli.console import console_command
from tui.cli.database import configured, open_database, startup_notices
from tui.cli.output import EXIT_REFUSED, EXIT_USAGE, PROG, silence, warn
from tui.cli.parsing import build_parser, console_start
from tui.collector import resume_after_start
from tui.signalled import Signalled
from tui.text import visible_lines

EXIT_INTERRUPTED = 130
# What a shell reports for a process killed by SIGPIPE (128 + 13), as `yes | head` gives.
EXIT_BROKEN_PIPE = 141
DEBUG_ENV_VAR = "ACCESSGUARD_DEBUG"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status (the console script exits with it)."""
    try:
        return _run(argv)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Signalled as stopped:
        return stopped.exit_status
    except BrokenPipeError:
        silence(sys.stdout)
        return EXIT_BROKEN_PIPE


def _run(argv: Sequence[str] | None) -> int:
    args = _parsed(argv)
    if isinstance(args, int):
        return args
    if args.handler is not None or args.web:
        resume_after_start()  # only the console's own start holds garbage collection
    console_only = [flag for flag in ("demo", "theme", "no_mouse", "web") if getattr(args, flag)]
    if args.handler is not None and console_only:
        flag = "--" + console_only[0].replace("_", "-")
        build_parser().print_usage(sys.stderr)
        warn(f"{PROG}: error: {flag} is for the console and cannot be combined with a command")
        return EXIT_USAGE
    if args.handler is not None and not args.needs_database:
        return _guarded(lambda: args.handler(args, None))
    # The URL's text (and any password in it) is kept out of args, which outlive this call.
    cli_url, args.db = args.db, None
    notices = startup_notices(cli_url)
    # On stderr for the console too: the line is still there when the console has closed.
    for notice in notices:
        warn(f"{PROG}: warning: {notice}")
    if args.handler is None:
        return _guarded(lambda: console_command(args, cli_url, notices))
    return _guarded(lambda: _execute(args, configured(cli_url, config_settings(console=False))))


def _parsed(argv: Sequence[str] | None) -> argparse.Namespace | int:
    """The arguments, or the exit status when there is nothing to run (--help, --version,
    a usage error: printed already)."""
    start = console_start(argv)  # the console's own start skips every command's grammar
    if start is not None:
        return start
    try:
        return build_parser().parse_args(argv)
    except SystemExit as stop:  # --help (0) and usage errors (2): main returns, never exits
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE


def _guarded(run: Callable[[], int]) -> int:
    """Run a command, turning every failure into a message on stderr and an exit status."""
    from tui.settings import ConfigError

    try:
        return run()
    except ConfigError as error:
        warn(f"{PROG}: {error}")
        return EXIT_USAGE
    except BadDatabaseURL as error:
        warn(f"{PROG}: {error.title}: {error.message}")
        return EXIT_USAGE
    except Invalid as error:
        for field, reason in error.errors.items():
            warn(f"{PROG}: {field}: {reason}")
        return EXIT_REFUSED
    except AccessGuardError as error:
        warn(f"{PROG}: {error.title}: {error.message}")
        return EXIT_REFUSED
    except (KeyboardInterrupt, Signalled, BrokenPipeError):
        raise
    except OSError as error:  # a file to import or export: missing, unreadable, disk full
        where = f" {error.filename}" if error.filename else ""
        warn(f"{PROG}: cannot use{where}: {error.strerror or error}")
        return EXIT_REFUSED
    except UnicodeDecodeError:
        warn(f"{PROG}: the file is not UTF-8 text; save it as UTF-8 and try again")
        return EXIT_REFUSED
    except Exception as error:
        return _crashed(error)


def _execute(args: argparse.Namespace, raw_url: str | None) -> int:
    from data.translate import translate_errors

    db = open_database(
        raw_url, read_only=args.read_only, check_schema=args.check_schema, create=args.creates
    )
    try:
        for exposure in db.exposure_warnings():
            warn(f"{PROG}: warning: {exposure}")
        # Some commands work outside the data layer's own units of work (schema status and
        # upgrade); translate their driver errors the same way, so none reaches the admin raw.
        with translate_errors():
            status: int = args.handler(args, db)
        # Flush here, inside the handlers of main, so a closed pipe is caught like the rest.
        sys.stdout.flush()
        return status
    finally:
        db.dispose()


def _crashed(error: BaseException) -> int:
    """One line for an unexpected error; the (redacted) traceback only when debugging."""
    if os.environ.get(DEBUG_ENV_VAR) == "1":
        sys.stderr.write(visible_lines(redact("".join(traceback.format_exception(error)))))
    first_line = (str(error).strip().splitlines() or [""])[0]
    detail = f": {first_line}" if first_line else ""
    hint = f"(set {DEBUG_ENV_VAR}=1 for details)"
    warn(f"{PROG}: unexpected error: {type(error).__name__}{detail} {hint}")
    return EXIT_REFUSED
