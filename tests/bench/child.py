"""The benchmark's child processes: ``python -m tests.bench.child KIND --out FILE ...``.

Each child does one measurement in a fresh interpreter and writes one JSON object to
``--out``. Only the standard library is imported up here: the start-up children time their
own imports, from the moment the parent spawned them (``AG_BENCH_SPAWNED_NS``, the
parent's ``time.time_ns()`` just before the spawn).

- ``startup-bare``: a bare Textual app (a Header, one Static, a Footer); the first frame,
  then exit.
- ``startup-console``: the console through its real entry point (``tui.cli.main``); the
  first frame and the first frame showing table rows, then exit.
- ``console``: open a view and key to repaint (see `tests.bench.driving`).
- ``stall``: the event-loop stall figure, on a database copy it may write to.
- ``memory``: browse the console, then report peak and current RSS.
- ``cli``: the command line (``tui.cli.main``, what ``python -m tui`` runs) with the
  arguments after ``--``, then its own peak RSS. Its own, read from /proc: the kernel's
  ``ru_maxrss`` for a child also counts the parent's pages the child had before it exec'd.

Both start-up kinds take the headless driver from ``TEXTUAL_DRIVER``, which Textual 8.2.8
reads in ``App.get_driver_class``; the child records the driver it got, so a Textual that
ignored the variable would show up in the results rather than open a terminal.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SPAWNED_ENV = "AG_BENCH_SPAWNED_NS"
HEADLESS_DRIVER = "textual.drivers.headless_driver:HeadlessDriver"


def main(argv: list[str] | None = None) -> int:
    """Run the measurement ``argv`` names and write its result."""
    argv = sys.argv[1:] if argv is None else argv
    cli_arguments = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="python -m tests.bench.child")
    parser.add_argument(
        "kind", choices=["startup-bare", "startup-console", "console", "stall", "memory", "cli"]
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--url", default="")
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--scratch", type=Path, default=None)
    parser.add_argument("--import-csv", type=Path, default=None)
    # On a terminal (`tests.bench.terminal_figures`): keep running after the first frame,
    # until the parent has seen it drawn and ends the process.
    parser.add_argument("--stay", action="store_true")
    args = parser.parse_args(argv)
    if args.kind == "startup-bare":
        result = _startup(console_url=None, stay=args.stay)
    elif args.kind == "startup-console":
        result = _startup(console_url=args.url)
    elif args.kind == "cli":
        from tui.cli import main as cli_main

        result = {"exit_status": cli_main(cli_arguments), **_memory()}
    else:
        import asyncio

        result = asyncio.run(_console(args))
    args.out.write_text(json.dumps(result), encoding="utf-8")
    return 0


def _startup(*, console_url: str | None, stay: bool = False) -> dict[str, Any]:
    """Milliseconds from spawn to the first frame (and to the first rows, for the console).

    ``textual_ms`` is when Textual has loaded: for the console, with the console's own
    modules (`tui.app`), as it loads them itself. (Loading Textual first, to hook its
    frames, would change the console's order: its first page is read by a thread while
    Textual loads.) The console's run also says where the time went after its first rows:
    ``imported_ms`` when the opener (in its worker, after the first frame) has imported
    the data core, ``opened_ms`` when it has connected and checked the schema,
    ``core_rows_ms`` when the data core's own first page is on screen.
    """
    spawned_ns = int(os.environ[SPAWNED_ENV])

    def since_spawn_ms(wall_ns: int | None = None) -> float:
        return ((time.time_ns() if wall_ns is None else wall_ns) - spawned_ns) / 1e6

    result: dict[str, Any] = {}

    def on_frame(app: Any, _perf_ns: int, wall_ns: int) -> None:
        if "paint_ms" not in result:
            result["paint_ms"] = since_spawn_ms(wall_ns)
            result["driver"] = type(app._driver).__name__
        if "data_ms" not in result and (console_url is None or _rows_shown(app)):
            result["data_ms"] = since_spawn_ms(wall_ns)
        # The console's first rows may come before its data core (`data.first_page`): it
        # runs on until the data core's own rows are on screen, to time that too.
        if "data_ms" in result and (console_url is None or getattr(app, "is_open", False)):
            if console_url is not None and not _rows_shown(app, from_data_core=True):
                return
            result.setdefault("core_rows_ms", since_spawn_ms(wall_ns))
            if not stay:
                app.exit()

    if console_url is None:
        from textual.app import App, ComposeResult
        from textual.widgets import Footer, Header, Static

        from tests.bench.frames import stamp_every_app

        result["textual_ms"] = since_spawn_ms()
        stamp_every_app(on_frame)

        class Bare(App[None]):
            def compose(self) -> ComposeResult:
                yield Header()
                yield Static("AccessGuard")
                yield Footer()

        Bare().run()
    else:
        _stamp_the_opener(result, since_spawn_ms)
        _stamp_frames_once_loaded(result, since_spawn_ms, on_frame)
        from tui.cli import main as console_main

        result["exit_status"] = console_main(["--db", console_url])
    return result


def _stamp_frames_once_loaded(
    result: dict[str, Any],
    since_spawn_ms: Callable[[], float],
    on_frame: Callable[[Any, int, int], None],
) -> None:
    """Hook the console's frames when it builds its app, Textual loaded by then."""
    from tui.cli import console

    build = vars(console)["console_app"]

    def built(*args: Any, **options: Any) -> Any:
        from tests.bench.frames import stamp_every_app

        result["textual_ms"] = since_spawn_ms()
        stamp_every_app(on_frame)
        return build(*args, **options)

    setattr(console, "console_app", built)  # noqa: B010 - as in _stamp_the_opener


def _stamp_the_opener(result: dict[str, Any], since_spawn_ms: Callable[[], float]) -> None:
    """Note when the console's opener has imported the data core and opened the database.

    `tui.cli.console` imports neither Textual nor the data core, so wrapping the opener it
    calls changes nothing about what loads when. The wrapper imports what `open_database`
    imports first, to time the imports apart from connecting and checking the schema.
    """
    from tui.cli import console

    open_database = vars(console)["open_database"]  # its own name for it, not an export

    def timed(*args: Any, **options: Any) -> Any:
        importlib.import_module("data.schema")  # what open_database imports first
        result["imported_ms"] = since_spawn_ms()
        db = open_database(*args, **options)
        result["opened_ms"] = since_spawn_ms()
        return db

    setattr(console, "open_database", timed)  # noqa: B010 - mypy: not an exported name


def _rows_shown(app: Any, *, from_data_core: bool = False) -> bool:
    """Whether the screen in front shows a record table with records (``from_data_core``:
    its data core's, not the first page read before the data core loaded).

    Looked up lazily in sys.modules: importing the table here, before the console does,
    would import SQLAlchemy early and change what start-up measures.
    """
    module = sys.modules.get("tui.widgets.record_table")
    if module is None:
        return False
    for table in app.screen.query(module.RecordTable):
        shown = table.loaded_once and table.cursor_record is not None
        return bool(shown and not (from_data_core and table.previewed))
    return False


async def _console(args: argparse.Namespace) -> dict[str, Any]:
    from tests.bench import driving

    app, db = driving.new_app(args.url)
    result: dict[str, Any]
    try:
        async with app.run_test(size=driving.SIZE) as pilot:
            console = await driving.started(app, pilot)
            if args.kind == "console":
                result = {
                    "open": await driving.open_view(console),
                    "keys": await driving.key_repaint(console, db, args.presses),
                }
            elif args.kind == "stall":
                background = driving.Background(
                    db=db, export_to=args.scratch / "stall-export.csv", import_from=args.import_csv
                )
                result = await driving.stall(console, background)
            else:
                await driving.browse(console)
                result = _memory()
            result["frames"] = console.frames
            await pilot.exit(None)
    finally:
        db.dispose()
    return result


def _memory() -> dict[str, Any]:
    """Peak and current resident set size in KiB, from the kernel's own account."""
    fields: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                fields[name] = int(value.split()[0])
    return {"peak_kib": fields["VmHWM"], "current_kib": fields["VmRSS"], "at": time.time()}


if __name__ == "__main__":
    raise SystemExit(main())
