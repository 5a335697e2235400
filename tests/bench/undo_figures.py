"""Undoing a 100k-row import: how long against the import itself, and whether a colleague's
saves go through meanwhile (issue 12, item 4).

The import and its undo run through the data core, in this process, on a copy of the
large SQLite database; a colleague thread saves one record every `COLLEAGUE_EVERY_S`
while the undo runs, each save timed.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from data.actor import Actor
from data.errors import AccessGuardError
from data.transfer import import_records
from tests.bench.data_figures import IMPORT_ROWS, write_users_csv
from tests.bench.databases import BenchDatabase, writable_copy
from tests.bench.report import Outcome, failed, step

UNDO_RATIO = 5.0
COLLEAGUE_EVERY_S = 0.3
CONSOLE = Actor(os_user="accessguard-bench", source="console:bench-undo")
COLLEAGUE = Actor(os_user="accessguard-bench-colleague", source="console:bench-colleague")


def undo_import(large: BenchDatabase, scratch: Path) -> list[Outcome]:
    """Import 100k users, then undo them; the ratio of the two and the colleague's saves."""
    family, figure = "undo-import", f"undo an import of {IMPORT_ROWS:,} users"
    target = f"<= {UNDO_RATIO:g}x the import; every colleague save succeeds"
    source = scratch / "undo-users.csv"
    write_users_csv(source, IMPORT_ROWS, tag="undo")
    with step(f"copying the {large.rows:,}-row SQLite database"):
        copy = writable_copy(large, scratch, "undo-target")
    db = copy.connect()
    try:
        colleague = db.users.create(
            {"name": "Bench Colleague", "email": "colleague@bench.example"}, actor=COLLEAGUE
        )
        with step(f"importing {IMPORT_ROWS:,} users"), source.open(newline="") as handle:
            begin = time.perf_counter()
            import_records(db, "users", handle, fmt="csv", actor=CONSOLE, dry_run=False)
            imported_s = time.perf_counter() - begin
        saves: list[float] = []
        refused: list[str] = []
        done = threading.Event()

        def colleague_saves() -> None:
            turn = 0
            while not done.is_set():
                turn += 1
                start = time.perf_counter()
                try:
                    version = db.users.get(colleague.id).version
                    db.users.update(
                        colleague.id,
                        {"name": f"Colleague {turn}"},
                        expected_version=version,
                        actor=COLLEAGUE,
                    )
                    saves.append(time.perf_counter() - start)
                except AccessGuardError as error:
                    refused.append(error.message)
                done.wait(COLLEAGUE_EVERY_S)

        with step(f"undoing the import, a colleague saving every {COLLEAGUE_EVERY_S} s"):
            plan = db.audit.undo_plan(actor=CONSOLE)
            thread = threading.Thread(target=colleague_saves)
            begin = time.perf_counter()
            thread.start()
            db.audit.take_back(plan, actor=CONSOLE)
            undone_s = time.perf_counter() - begin
            done.set()
            thread.join()
    finally:
        db.dispose()
        if copy.path is not None:
            copy.path.unlink(missing_ok=True)
    if plan.total != IMPORT_ROWS:
        return [failed(family, figure, "sqlite", target, f"undo planned {plan.total} rows")]
    ratio = undone_s / imported_s
    slowest = max(saves, default=0.0)
    return [
        Outcome(
            family=family,
            figure=figure,
            backend="sqlite",
            small="-",
            large=(
                f"{undone_s:.1f} s vs import {imported_s:.1f} s; {len(saves)} colleague "
                f"saves, slowest {slowest * 1000:.0f} ms, {len(refused)} refused"
            ),
            ratio=f"{ratio:.1f}x the import",
            target=target,
            passed=ratio <= UNDO_RATIO and not refused and bool(saves),
            raw={
                "import_s": imported_s,
                "undo_s": undone_s,
                "colleague_saves_s": saves,
                "colleague_refused": refused,
                "rows": IMPORT_ROWS,
            },
            notes=(
                "undo: chunks of data.undo.UNDO_CHUNK entries, each its own transaction, "
                "with a pause for waiting writers between them on SQLite",
            ),
        )
    ]
