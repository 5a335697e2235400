"""Concurrency (issue 5, items 1-5): colleagues in other processes never lose anyone's work.

Every test runs on SQLite, PostgreSQL and MariaDB. Colleagues are real OS processes forked
from this one, each with an engine of its own (see support_concurrency). Random timings come
from a seeded generator: set ``AG_CONCURRENCY_SEED`` to replay a run; failures print it.
"""

from __future__ import annotations

import io
import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL, Engine
from textual.content import Content
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Static

from data.actor import Actor
from data.database import Database
from data.errors import NotFound, Unavailable
from data.import_report import ImportReport
from data.records import PageRequest
from data.transfer import import_records
from data.translate import NOT_SAVED
from models import AuditEntry
from tests.conftest import BACKENDS
from tests.console_support import settle, table, wait_until
from tests.data_support import find
from tests.reliability.support_concurrency import (
    Adjusted,
    InjectedFault,
    Outcome,
    adjust_stock,
    colleagues,
    command_line,
    create,
    create_together,
    empty,
    gather,
    holdings,
    open_transactions,
    process_id,
    read_then_delete,
    read_then_delete_many,
    read_then_update,
    throwaway_database,
    update,
)
from tui.app import AccessGuardApp
from tui.cli import main as cli_main
from tui.screens.dialogs import ConfirmDialog, ConflictDialog
from tui.screens.form import RecordForm
from tui.screens.records import RecordScreen


@pytest.fixture(scope="module", params=BACKENDS)
def module_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """One database per backend for the module: SQLite, PostgreSQL and MariaDB, always."""
    with throwaway_database(request.param, tmp_path_factory.mktemp("concurrency")) as db:
        yield db


@pytest.fixture
def db(module_db: Database) -> Database:
    """The module's database on this test's backend, empty."""
    empty(module_db)
    return module_db


@pytest.fixture
def url(db: Database) -> URL:
    """Its URL, for colleagues and the command line."""
    return db.engine.url


SEED = int(os.environ.get("AG_CONCURRENCY_SEED", "20260505"))
ADMIN = Actor("alice", client_addr="10.0.0.7", source="console:concurrency")
SIZE = (80, 24)
EDIT_TRIALS = 100
DELETE_TRIALS = 50
CREATE_TRIALS = 20
BULK_TRIALS = 10
STOCK_WORKERS = 8
STOCK_ADJUSTMENTS = 50
# Each colleague pauses a random 0..MAX_DELAY_S between reading and saving: sometimes one
# is well ahead, sometimes both reach the row lock at the same moment.
MAX_DELAY_S = 0.004


def seeded(label: str) -> str:
    """What a failure message starts with, so the run can be replayed."""
    return f"[{label}; replay with AG_CONCURRENCY_SEED={SEED}]"


def audit_rows(db: Database, entity: str, record_id: int) -> list[AuditEntry]:
    """The record's audit entries, oldest first."""
    with db.sessions() as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity == entity, AuditEntry.record_id == record_id)
                .order_by(AuditEntry.id)
            )
        )


def audit_rows_of(db: Database, action: str) -> list[AuditEntry]:
    """Every audit entry of one action, oldest first."""
    with db.sessions() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


def in_front(app: AccessGuardApp, screen: Screen[Any]) -> bool:
    """Whether ``screen`` is the one in front."""
    return app.screen is screen


def plain(widget: Static) -> str:
    """The text a Static shows."""
    visual = widget.visual
    assert isinstance(visual, Content)
    return visual.plain


def conflict_grid(dialog: ConflictDialog) -> dict[str, tuple[str, str, str]]:
    """The conflict dialog's rows: field label -> (yours, theirs, original) as shown."""
    cells = [plain(cell) for cell in dialog.query("#conflict-grid > *").results(Static)]
    rows = [cells[at : at + 4] for at in range(4, len(cells), 4)]
    return {row[0].lstrip("≠ ").strip(): (row[1], row[2], row[3]) for row in rows}


async def type_into(pilot: Pilot[Any], field: Input, text: str) -> None:
    """Put ``text`` in ``field`` as if typed: all but its last character set at once (each
    key press costs a frame, ~0.1 s on a busy machine), the last one a real key press."""
    field.focus()
    await pilot.pause()  # focusing selects the field's text; the key must not replace it
    field.value = text[:-1]
    field.cursor_position = len(field.value)
    await pilot.press(text[-1])
    assert field.value == text


def cli_url(url: URL) -> str:
    """The URL as an admin would type it after --db (these test servers have no password)."""
    return url.render_as_string(hide_password=False)


# 1. Two editors, one record


def test_two_editors_one_record_100_races_lose_no_update(db: Database, url: URL) -> None:
    rng = random.Random(SEED)
    user = db.users.create({"name": "Ann", "email": "ann@example.com"}, actor=ADMIN)
    lost: list[str] = []
    wins: Counter[int] = Counter()
    with colleagues(url, 2) as workers:
        pids = [worker.call(process_id) for worker in workers]
        assert os.getpid() not in pids
        assert len(set(pids)) == 2
        for trial in range(EDIT_TRIALS):
            for number, worker in enumerate(workers):
                worker.send(
                    read_then_update,
                    entity="user",
                    record_id=user.id,
                    changes={"name": f"Trial {trial} by {number}"},
                    delay=rng.uniform(0, MAX_DELAY_S),
                    who=f"editor{number}",
                )
            answers: list[tuple[Any, Outcome]] = gather(workers)
            where = seeded(f"trial {trial}")
            read_versions = {read.version for read, _ in answers}
            assert len(read_versions) == 1, f"{where} both opened the same version"
            saved = [n for n, (_, outcome) in enumerate(answers) if outcome.kind == "done"]
            refused = [n for n, (_, outcome) in enumerate(answers) if outcome.kind != "done"]
            # Two saves from one version read: the second overwrote what it never saw.
            if len(saved) != 1:
                lost.append(f"{where}: {len(saved)} saves from version {read_versions}")
                continue
            winner = answers[saved[0]][1].record
            loser = answers[refused[0]][1]
            wins[saved[0]] += 1
            assert loser.kind == "conflict", f"{where} {loser}"
            assert loser.record == winner, f"{where} the refusal carries the current record"
            assert (
                loser.message == f"User {user.id} was changed by someone else since you opened it."
            )
            assert db.users.get(user.id) == winner, f"{where} the first save stays"
    print(f"editor races won: {dict(wins)}, lost updates: {len(lost)}")
    assert lost == [], f"lost updates: {lost}"
    # Both colleagues won some races: the timing really varied.
    assert set(wins) == {0, 1}, f"{seeded('wins')} {wins}"
    # The audit trail is one unbroken chain: every save started from the value before it.
    updates = [row for row in audit_rows(db, "user", user.id) if row.action == "update"]
    assert len(updates) == EDIT_TRIALS
    chain = ["Ann", *(row.new_values["name"] for row in updates if row.new_values)]
    assert [row.old_values["name"] for row in updates if row.old_values] == chain[:-1]
    assert db.users.get(user.id).version == 1 + EDIT_TRIALS


async def test_console_save_over_a_colleagues_shows_both_and_keeps_your_edits(
    db: Database, url: URL
) -> None:
    ann = db.users.create({"name": "Ann", "email": "ann@example.com"}, actor=ADMIN)
    with colleagues(url, 1) as [bob]:
        app = AccessGuardApp(db, actor=ADMIN)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("e")
            await settle(app, pilot)
            form = app.screen
            assert isinstance(form, RecordForm)
            # The colleague's console saves while this form is open.
            theirs = bob.call(
                update,
                entity="user",
                record_id=ann.id,
                changes={"name": "Ann (Bob)", "role": "editor"},
                expected_version=ann.version,
                who="bob",
            )
            assert theirs.kind == "done"
            await type_into(pilot, form.query_one("#field-name", Input), "Ann (Alice)")
            await pilot.press("ctrl+s")
            await settle(app, pilot)

            dialog = app.screen
            assert isinstance(dialog, ConflictDialog)
            # Only the field both changed; their role change merges, it is no conflict.
            assert conflict_grid(dialog) == {"Name": ("Ann (Alice)", "Ann (Bob)", "Ann")}
            await pilot.press("e")  # keep editing
            await settle(app, pilot)
            assert in_front(app, form)
            assert form.values()["name"] == "Ann (Alice)"
            assert form.dirty
    # The first save stays; the refused one wrote nothing, not even an audit entry.
    assert db.users.get(ann.id) == theirs.record
    assert [row.source for row in audit_rows(db, "user", ann.id)] == [
        ADMIN.source,
        "test:bob",
    ]


# 2. One deletes while another edits


def test_delete_while_editing_the_late_save_recreates_nothing(db: Database, url: URL) -> None:
    rng = random.Random(SEED + 2)
    products = [
        db.products.create({"sku": f"RACE-{n}", "name": f"Raced {n}", "price": "1.00"}, actor=ADMIN)
        for n in range(DELETE_TRIALS)
    ]
    outcomes: Counter[str] = Counter()
    with colleagues(url, 2) as (deleter, editor):
        for trial, product in enumerate(products):
            where = seeded(f"trial {trial}")
            deleter.send(
                read_then_delete,
                entity="product",
                record_id=product.id,
                delay=rng.uniform(0, MAX_DELAY_S),
                who="deleter",
            )
            editor.send(
                read_then_update,
                entity="product",
                record_id=product.id,
                changes={"name": f"Edited {trial}", "stock": trial + 1},
                delay=rng.uniform(0, MAX_DELAY_S),
                who="editor",
            )
            (_, deleted), (_, edited) = gather([deleter, editor])
            assert [deleted.kind, edited.kind].count("done") == 1, f"{where} {deleted} {edited}"
            if deleted.kind == "done":
                outcomes["deleted first"] += 1
                assert edited.kind == "conflict", where
                assert edited.record is None, where
                assert edited.message == f"Product {product.id} was deleted by someone else."
                with pytest.raises(NotFound):
                    db.products.get(product.id)
            else:
                outcomes["edited first"] += 1
                assert deleted.kind == "conflict", where
                assert deleted.record == edited.record == db.products.get(product.id), where
    print(f"delete or edit first: {dict(outcomes)}")
    assert set(outcomes) == {"deleted first", "edited first"}, seeded(str(outcomes))
    # Nothing came back: exactly the products whose edit won are still there.
    assert db.products.count() == outcomes["edited first"]
    kept = {record.id for record in db.products.stream(PageRequest())}
    for product in products:
        actions = [row.action for row in audit_rows(db, "product", product.id)]
        if product.id in kept:
            assert actions == ["create", "update"], actions
        else:
            assert actions == ["create", "delete"], actions


def test_overlapping_bulk_deletes_one_wins_the_other_is_told(db: Database, url: URL) -> None:
    # Two consoles delete the same marked rows, marked in opposite orders. Locking them in
    # the order marked would deadlock on a server (one side then told "busy, try again").
    with colleagues(url, 2) as workers:
        for trial in range(BULK_TRIALS):
            where = seeded(f"trial {trial}")
            ids = [
                db.products.create(
                    {"sku": f"BULK-{trial}-{n}", "name": "Marked", "price": "1.00"}, actor=ADMIN
                ).id
                for n in range(6)
            ]
            for number, (worker, order) in enumerate(zip(workers, (ids, ids[::-1]), strict=True)):
                worker.send(
                    read_then_delete_many, entity="product", record_ids=order, who=f"d{number}"
                )
            outcomes: list[Outcome] = gather(workers)
            assert sorted(outcome.kind for outcome in outcomes) == ["conflict", "done"], (
                f"{where} {outcomes}"
            )
            refused = next(outcome for outcome in outcomes if outcome.kind == "conflict")
            assert refused.message.endswith(
                "was deleted by someone else. None of the 6 products were deleted. "
                "Reload and try again."
            ), where
    assert db.products.count() == 0
    assert len(audit_rows_of(db, "delete")) == BULK_TRIALS * 6


async def test_console_save_of_a_record_deleted_by_the_cli_says_so(db: Database, url: URL) -> None:
    lamp = db.products.create({"sku": "LAMP-1", "name": "Lamp", "price": "9.50"}, actor=ADMIN)
    with colleagues(url, 1) as [bob]:
        app = AccessGuardApp(db, actor=ADMIN)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("2")
            await settle(app, pilot)
            await pilot.press("e")
            await settle(app, pilot)
            form = app.screen
            assert isinstance(form, RecordForm)
            # A colleague deletes it with the command line, in another process.
            status, errors = bob.call(
                command_line,
                argv=["--db", cli_url(url), "products", "delete", str(lamp.id), "--yes"],
            )
            assert status == 0, errors
            # The live views tell the open form at once: who deleted it, and when.
            await wait_until(pilot, lambda: "Deleted meanwhile" in _notice(form))
            await type_into(pilot, form.query_one("#field-stock", Input), "12")
            await pilot.press("ctrl+s")
            await settle(app, pilot)
            assert in_front(app, form)
            summary = plain(form.query_one("#form-summary", Static))
            assert summary.startswith("Not saved: "), summary
            assert " deleted it at " in summary, summary
            assert form.values()["stock"] == "12"
            # Saving again is refused again: a late save never brings the record back.
            await pilot.press("ctrl+s")
            await settle(app, pilot)
            assert in_front(app, form)
            assert db.products.count() == 0
            await pilot.press("escape")
            await settle(app, pilot)
            assert isinstance(app.screen, ConfirmDialog)  # unsaved edits: it asks first
            await pilot.press("y")
            await settle(app, pilot)
            assert isinstance(app.screen, RecordScreen)
            await pilot.press("r")  # and the table keeps working
            await settle(app, pilot)
            assert table(app).cursor_record is None
    assert db.products.count() == 0
    assert [row.action for row in audit_rows(db, "product", lamp.id)] == ["create", "delete"]


# 3. Eight workers, one product's stock


def test_eight_workers_adjust_one_stock_to_the_exact_total(db: Database, url: URL) -> None:
    rng = random.Random(SEED + 3)
    start = 100_000
    product = db.products.create(
        {"sku": "STOCK-1", "name": "Counted", "price": "1.00", "stock": start}, actor=ADMIN
    )
    plans = [
        [rng.choice((-1, 1)) * rng.randint(1, 9) for _ in range(STOCK_ADJUSTMENTS)]
        for _ in range(STOCK_WORKERS)
    ]
    with colleagues(url, STOCK_WORKERS) as workers:
        for number, (worker, deltas) in enumerate(zip(workers, plans, strict=True)):
            worker.send(
                adjust_stock,
                product_id=product.id,
                deltas=deltas,
                who=f"stock{number}",
                seed=SEED + 30 + number,
            )
        done: list[Adjusted] = gather(workers)
    expected = start + sum(sum(deltas) for deltas in plans)
    assert [report.total for report in done] == [sum(deltas) for deltas in plans]
    final = db.products.get(product.id)
    assert final.stock == expected, seeded(f"{final.stock} != {expected}; {done}")
    saves = STOCK_WORKERS * STOCK_ADJUSTMENTS
    assert final.version == 1 + saves
    # Every adjustment is in the trail, each starting from the stock the one before left.
    updates = [row for row in audit_rows(db, "product", product.id) if row.action == "update"]
    assert len(updates) == saves
    stocks = [start, *(row.new_values["stock"] for row in updates if row.new_values)]
    assert [row.old_values["stock"] for row in updates if row.old_values] == stocks[:-1]
    print(f"stock: {sum(report.conflicts for report in done)} conflicts retried for {saves} saves")


# 4. Two consoles create the same email


def test_same_email_created_at_once_one_wins_the_other_is_told(db: Database, url: URL) -> None:
    with colleagues(url, 2) as workers:
        for trial in range(CREATE_TRIALS):
            where = seeded(f"trial {trial}")
            variants = [f"Ann{trial}@X.com", f" ann{trial}@x.com "]
            if trial % 2:
                variants.reverse()
            for number, (worker, email) in enumerate(zip(workers, variants, strict=True)):
                worker.send(
                    create_together,
                    values={"name": f"Ann {trial} ({number})", "email": email},
                    then={"name": "Next", "email": f"next{trial}.{number}@x.com"},
                    who=f"creator{number}",
                )
            answers: list[tuple[Outcome, Outcome, int]] = gather(workers)
            firsts = [first for first, _, _ in answers]
            assert sorted(first.kind for first in firsts) == ["done", "invalid"], where
            refused = next(first for first in firsts if first.kind == "invalid")
            assert refused.errors == {"email": "is already used by another user"}, where
            # The refused process's session works on: its next create succeeded.
            assert all(after.kind == "done" for _, after, _ in answers), where
            stored = find(db, "users", f"ann{trial}@x.com")
            assert stored.email == f"ann{trial}@x.com"
    assert db.users.count() == CREATE_TRIALS * 3


async def test_console_create_of_a_taken_email_shows_the_field_and_works_on(
    db: Database, url: URL
) -> None:
    with colleagues(url, 1) as [bob]:
        app = AccessGuardApp(db, actor=ADMIN)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("n")
            await settle(app, pilot)
            form = app.screen
            assert isinstance(form, RecordForm)
            await type_into(pilot, form.query_one("#field-name", Input), "Ann Alice")
            await type_into(pilot, form.query_one("#field-email", Input), " ann@x.com ")
            # Another console creates the same address first.
            theirs = bob.call(
                create, entity="user", values={"name": "Ann Bob", "email": "Ann@X.com"}, who="bob"
            )
            assert theirs.kind == "done"
            await pilot.press("ctrl+s")
            await settle(app, pilot)

            assert in_front(app, form)
            error = form.query_one("#error-email", Static)
            assert error.has_class("-shown")
            assert plain(error) == "Email: is already used by another user"
            assert plain(form.query_one("#form-summary", Static)) == "Not saved: check Email"
            assert form.values()["email"] == " ann@x.com "
            # The screen works on: fix the address and save.
            await type_into(pilot, form.query_one("#field-email", Input), "ann.alice@x.com")
            await pilot.press("ctrl+s")
            await settle(app, pilot)
            assert isinstance(app.screen, RecordScreen)
            created = table(app).cursor_record
            assert created is not None
            assert created.email == "ann.alice@x.com"
    assert sorted(user.name for user in db.users.stream(PageRequest())) == [
        "Ann Alice",
        "Ann Bob",
    ]


# 5. A failure after row k of a bulk write


def _owned_users(db: Database) -> dict[int, int]:
    """Four users owning two products each, and a bystander; returns id -> version."""
    users = [
        db.users.create({"name": f"Owner {n}", "email": f"owner{n}@x.com"}, actor=ADMIN)
        for n in range(4)
    ]
    db.users.create({"name": "Bystander", "email": "by@x.com"}, actor=ADMIN)
    for user in users:
        for n in range(2):
            db.products.create(
                {
                    "sku": f"OWN-{user.id}-{n}",
                    "name": "Owned",
                    "price": "2.00",
                    "owner": user.email,
                },
                actor=ADMIN,
            )
    return {user.id: db.users.get(user.id).version for user in users}


def fault_sweep(db: Database, write: Callable[[], object], what: str) -> int:
    """Run ``write`` with a fault after row k = 0, 1, 2... until it writes every row without
    meeting one; after each fault, nothing may have changed. Returns the rows ``write`` wrote."""
    before = holdings(db)
    k = 0
    while True:
        refused: Unavailable | None = None
        with InjectedFault(db.engine, k) as fault:
            try:
                write()
            except Unavailable as error:
                refused = error
        if refused is None:
            assert not fault.struck
            assert holdings(db) != before
            return k
        assert fault.struck, refused
        assert f"injected fault after row {k}" in refused.message
        assert refused.message.endswith(NOT_SAVED)
        assert holdings(db) == before, f"{what}: a fault after row {k} left changes"
        assert open_transactions(db) == [], f"{what}: a fault after row {k} left a transaction"
        k += 1


def test_bulk_delete_failing_after_any_row_changes_nothing(db: Database) -> None:
    owners = _owned_users(db)
    written = fault_sweep(db, lambda: db.users.delete_many(owners, actor=ADMIN), "users")
    # Per user: two products unlinked and audited, then the user deleted and audited.
    assert written == len(owners) * (2 * 2 + 2)
    assert db.users.count() == 1
    products = {p.id: p.version for p in db.products.stream(PageRequest()) if p.id % 3}
    written = fault_sweep(db, lambda: db.products.delete_many(products, actor=ADMIN), "products")
    assert written == len(products) * 2
    assert db.products.count() == 8 - len(products)


def _import_file() -> str:
    lines = ["email,name,role"]
    lines += [f"owner{n}@x.com,Renamed {n},viewer" for n in range(2)]
    lines += [f"owner{n}@x.com,Owner {n},editor" for n in range(2, 4)]
    lines += [f"new{n}@x.com,New {n},viewer" for n in range(12)]
    return "\n".join(lines) + "\n"


def test_import_failing_after_any_row_changes_nothing(db: Database) -> None:
    _owned_users(db)
    reports: list[ImportReport] = []

    def run_import() -> None:
        source = io.StringIO(_import_file())
        reports.append(import_records(db, "users", source, fmt="csv", actor=ADMIN, dry_run=False))

    written = fault_sweep(db, run_import, "import")
    assert reports[-1].applied
    # 4 updates, 12 inserts, their 16 entries and the import's own.
    assert written == 4 + 12 + 16 + 1
    assert db.users.count() == 5 + 12


def test_cli_import_failing_half_way_changes_nothing(
    db: Database, url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _owned_users(db)
    path = tmp_path / "users.csv"
    path.write_text(_import_file(), encoding="utf-8")
    before = holdings(db)
    argv = ["--db", cli_url(url), "import", "users", str(path)]
    with InjectedFault(Engine, 10) as fault:
        status = cli_main(argv)
    assert fault.struck
    assert status == 1
    err = capsys.readouterr().err
    assert "Database unavailable" in err
    assert NOT_SAVED in err
    assert holdings(db) == before
    assert cli_main(argv) == 0  # the same import, unharmed, goes through whole
    assert db.users.count() == 5 + 12


def _notice(form: RecordForm) -> str:
    """The line under a form's title that says what others did to its record."""
    return plain(form.query_one("#form-notice", Static))
