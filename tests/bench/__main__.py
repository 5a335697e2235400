"""``python -m tests.bench``: build (or reuse) the databases, run every figure, print, save."""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from tests.bench import (
    console_figures,
    data_figures,
    live_figures,
    process_figures,
    terminal_figures,
    undo_figures,
)
from tests.bench.databases import (
    BenchDatabase,
    default_cache_dir,
    postgres_admin,
    postgres_database,
    sqlite_database,
)
from tests.bench.report import Outcome, failed, save, say, table

# In the order they run and print.
FAMILIES = (
    "keyset-page",
    "prefix-search",
    "substring-search",
    "open-view",
    "key-repaint",
    "stall",
    "memory",
    "startup",
    "startup-terminal",
    "export",
    "import",
    "import-memory",
    "undo-import",
    "live",
)
# Figures that are also measured on PostgreSQL when it is reachable. The rest write to
# their database or measure a process, and run on SQLite, the default backend.
ON_POSTGRES = frozenset(
    {"keyset-page", "prefix-search", "substring-search", "open-view", "key-repaint"}
)
EXPORT_SMALL_ROWS = 10_000
RESULTS = Path(__file__).resolve().parent / "results"


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; see the package docstring for what each figure measures."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description="AccessGuard's on-demand benchmarks: every figure, one table.",
    )
    parser.add_argument(
        "--rows",
        type=_count,
        default=1_000_000,
        help="large size, users and products each (default 1000000)",
    )
    parser.add_argument("--small", type=_count, default=1_000, help="small size (default 1000)")
    parser.add_argument(
        "--only",
        type=_families,
        default=set(FAMILIES),
        metavar="FIGURE[,FIGURE]",
        help=f"run only these figures: {', '.join(FAMILIES)}",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="results file (default: tests/bench/results/<UTC time>.json)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=default_cache_dir(),
        help="where built databases are kept (default: %(default)s)",
    )
    parser.add_argument(
        "--presses", type=_count, default=200, help="timed presses per key (default 200)"
    )
    args = parser.parse_args(argv)
    if args.small >= args.rows:
        parser.error("--small must be smaller than --rows")
    return args


def _count(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _families(text: str) -> set[str]:
    chosen = {name.strip() for name in text.split(",") if name.strip()}
    unknown = chosen - set(FAMILIES)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(FAMILIES)}")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit status 0 when every judged figure passes, 1 otherwise."""
    args = parse_arguments(argv)
    started = datetime.now(UTC)
    clock = time.perf_counter()
    load_at_start = _load_average()
    families: set[str] = args.only
    say(
        f"AccessGuard benchmark: {args.rows:,} and {args.small:,} rows; figures: "
        f"{', '.join(f for f in FAMILIES if f in families)}"
    )
    say(f"cache: {args.cache}")

    sqlite = {
        "small": sqlite_database(args.cache, args.small),
        "large": sqlite_database(args.cache, args.rows),
    }
    if "export" in families and EXPORT_SMALL_ROWS not in (args.small, args.rows):
        sqlite["10k"] = sqlite_database(args.cache, EXPORT_SMALL_ROWS)
    postgres, postgres_note = _postgres(args, families)
    databases = [*sqlite.values(), *postgres.values()]

    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="scratch-", dir=args.cache) as directory:
        scratch = Path(directory)
        for backend, sized in (("sqlite", sqlite), ("postgresql", postgres)):
            if sized:
                outcomes.extend(_run_backend(backend, sized, families, args, scratch))
    if postgres_note:
        say(postgres_note)
    # Each figure's rows together, SQLite's before PostgreSQL's (the sort keeps sub-rows in place).
    outcomes.sort(key=lambda outcome: FAMILIES.index(outcome.family))

    say("")
    say(table(outcomes, small_rows=args.small, large_rows=args.rows))
    seconds = time.perf_counter() - clock
    results = args.json or RESULTS / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    load = {"start": load_at_start, "end": _load_average()}
    save(results, _document(args, started, seconds, databases, outcomes, postgres_note, load))
    say(
        f"\nresults: {results}  ({seconds / 60:.1f} min; load average {load['start']} at the "
        f"start, {load['end']} at the end, {os.cpu_count()} CPUs)"
    )
    return 1 if any(outcome.passed is False for outcome in outcomes) else 0


def _postgres(args: argparse.Namespace, families: set[str]) -> tuple[dict[str, BenchDatabase], str]:
    """The PostgreSQL databases, or none and a note saying why."""
    if args.no_postgres:
        return {}, "PostgreSQL skipped (--no-postgres)."
    if not families & ON_POSTGRES:
        return {}, ""
    admin, detail = postgres_admin()
    if admin is None:
        note = f"PostgreSQL skipped: {detail}."
        say(note)
        return {}, note
    try:
        say(f"PostgreSQL {detail} reachable")
        return {
            "small": postgres_database(admin, args.small),
            "large": postgres_database(admin, args.rows),
        }, ""
    finally:
        admin.dispose()


def _run_backend(
    backend: str,
    sized: dict[str, BenchDatabase],
    families: set[str],
    args: argparse.Namespace,
    scratch: Path,
) -> list[Outcome]:
    """Every chosen figure that runs on ``backend``, in `FAMILIES` order."""
    small, large = sized["small"], sized["large"]
    ten_thousand = sized.get("10k") or (small if small.rows == EXPORT_SMALL_ROWS else large)
    chosen = [f for f in FAMILIES if f in families and (backend == "sqlite" or f in ON_POSTGRES)]
    figures: dict[str, Callable[[], list[Outcome]]] = {
        "keyset-page": lambda: data_figures.keyset_page(small, large),
        "prefix-search": lambda: data_figures.prefix_search(small, large),
        "substring-search": lambda: data_figures.substring_search(small, large),
        "open-view": lambda: console_figures.open_and_keys(
            small, large, presses=args.presses, families=families
        ),
        "stall": lambda: console_figures.stall(large, scratch),
        "memory": lambda: process_figures.memory(small, large),
        "startup": lambda: process_figures.startup(small, large),
        "startup-terminal": lambda: terminal_figures.startup_on_a_terminal(small, large),
        "export": lambda: process_figures.export(ten_thousand, large, scratch),
        "import": lambda: data_figures.import_figure(large, scratch),
        "import-memory": lambda: process_figures.import_memory(args.rows, scratch),
        "undo-import": lambda: undo_figures.undo_import(large, scratch),
        "live": lambda: live_figures.live(small, large, scratch),
    }
    # Open a view and key to repaint share one console child per size.
    if "key-repaint" in chosen and "open-view" not in chosen:
        chosen[chosen.index("key-repaint")] = "open-view"
    elif "key-repaint" in chosen:
        chosen.remove("key-repaint")
    outcomes = []
    for family in chosen:
        try:
            outcomes.extend(figures[family]())
        except Exception as error:  # one broken figure must not lose the others' numbers
            say(f"{family} on {backend} failed: {type(error).__name__}: {error}")
            outcomes.append(
                failed(family, family, backend, "-", f"{type(error).__name__}: {error}")
            )
    return outcomes


def _document(
    args: argparse.Namespace,
    started: datetime,
    seconds: float,
    databases: list[BenchDatabase],
    outcomes: list[Outcome],
    postgres_note: str,
    load: dict[str, str],
) -> dict[str, Any]:
    """Everything the run measured, and what it ran on."""
    return {
        "started_utc": started.isoformat(),
        "seconds": seconds,
        "arguments": {
            key: sorted(value) if isinstance(value, set) else value
            for key, value in vars(args).items()
        },
        "machine": {
            "platform": platform.platform(),
            "python": sys.version,
            "cpus": os.cpu_count(),
            "load_average": load,
            "textual": version("textual"),
            "sqlalchemy": version("sqlalchemy"),
            "sqlite": sqlite3.sqlite_version,
        },
        "postgres_note": postgres_note,
        "databases": [
            {
                "backend": database.backend,
                "rows": database.rows,
                "url": database.url.render_as_string(hide_password=True),
                "built_s": database.built_s,
            }
            for database in databases
        ],
        "figures": [outcome.as_json() for outcome in outcomes],
    }


def _load_average() -> str:
    """The 1-minute load average: colleagues' test runs show up in every figure."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
