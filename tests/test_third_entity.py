"""A third entity, declared in this module alone, gets all that users and products get.

`Shelf` is a model, `SHELVES` its declaration, and `shelves_table` its migration:
the three files an entity takes (docs/adding-an-entity.md). Nothing in data/ or tui/ knows
it: the console lists, searches, creates, edits, deletes and undoes shelves and follows
their manager to the users screen; the command line lists and adds them; export and import
round-trip them; the audit records them; and deleting a user unlinks the shelves they
manage, as it does their products.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import ForeignKey, Integer, MetaData, String
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from data.actor import Actor
from data.database import Database
from data.entities import register, registered, unregister
from data.entity import Entity, Field
from data.errors import Invalid
from data.migration_helpers import create_search_table
from data.records import PageRequest
from data.transfer import export_records, import_records
from models import User
from models.base import NAMING_CONVENTION, UTCDateTime, exact_key, searchable, sortable, utcnow
from tests.console_support import console, current, settle, table, table_lines
from tests.data_support import find
from tui.cli import main

SIZE = (80, 24)


class _TestBase(DeclarativeBase):
    """A metadata of this module's own, so the product's schema checks never see it."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Shelf(_TestBase):
    """The model: what is stored, nothing else."""

    __tablename__ = "shelves"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(exact_key(16), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey(User.id, ondelete="SET NULL"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")

    # A plain class attribute, as in models/: SQLAlchemy reads it so.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


sortable(Shelf.code, Shelf.name, Shelf.created_at, Shelf.updated_at, fold_case={"name"})
searchable(Shelf.code, Shelf.name)

# The declaration: everything else derives from it.
SHELVES = Entity(
    entity="shelf",
    plural="shelves",
    key="9",
    model=f"{__name__}:Shelf",
    natural_key="code",
    fields=(
        Field("code", "code", width=10, sort=True, search=True, required=True, help="short code"),
        Field("name", "text", width=20, grow=2, sort=True, search=True, required=True),
        Field("manager", "relation", to="users", width=24, grow=1, help="the manager's email"),
    ),
)


def shelves_table(engine: Engine) -> None:
    """The migration: the table and its indexes from the model, the search table by helper."""
    _TestBase.metadata.create_all(engine)
    with engine.begin() as connection:
        create_search_table(connection, "shelves", ("code", "name"))


TOOLS = {"code": "tools", "name": "Tools", "manager": "ana@example.com"}


@pytest.fixture
def shelves(db: Database) -> Iterator[Database]:
    """``db`` with shelves declared, registered and migrated (for this test only)."""
    register(SHELVES)
    try:
        shelves_table(db.engine)
        yield db
    finally:
        unregister(SHELVES)


@pytest.fixture
def ana(db: Database, actor: Actor) -> object:
    return db.users.create({"name": "Ana Lima", "email": "ana@example.com"}, actor=actor)


# The data core


def test_create_search_update_and_audit_by_declaration(
    shelves: Database, ana: object, actor: Actor
) -> None:
    db = shelves
    tools = db.shelves.create(
        {"code": "tools", "name": "Hand tools", "manager": "ANA@example.com"}, actor=actor
    )
    assert (tools.code, tools.manager_email) == ("TOOLS", "ana@example.com")
    db.shelves.create({"code": "garden", "name": "Garden"}, actor=actor)
    found = db.shelves.page(PageRequest(search="tool")).records
    assert [shelf.code for shelf in found] == ["TOOLS"]
    moved = db.shelves.update(
        tools.id, {"name": "Tools"}, expected_version=tools.version, actor=actor
    )
    assert (moved.name, moved.version) == ("Tools", tools.version + 1)
    entries = db.audit.page(PageRequest(search=f"shelf {tools.id}")).records
    assert [(e.action, e.changes.get("name")) for e in entries] == [
        ("update", ("Hand tools", "Tools")),
        ("create", (None, "Hand tools")),
    ]


def test_a_relation_is_checked_and_unlinked_when_its_user_goes(
    shelves: Database, ana: object, actor: Actor
) -> None:
    db = shelves
    with pytest.raises(Invalid) as refused:
        db.shelves.create({"code": "x", "name": "X", "manager": "nobody@example.com"}, actor=actor)
    assert refused.value.errors == {"manager": "no user with email nobody@example.com"}
    managed = db.shelves.create(
        {"code": "tools", "name": "Tools", "manager": "ana@example.com"}, actor=actor
    )
    user = find(db, "users", "ana@example.com")
    consequences = [d.consequence(done=False) for d in db.dependants("users", [user.id])]
    assert consequences == ["1 shelf will lose its manager"]
    db.users.delete(user.id, expected_version=user.version, actor=actor)
    assert db.shelves.get(managed.id).manager_id is None
    db.audit.undo_last(actor=actor)
    assert db.shelves.get(managed.id).manager_email == "ana@example.com"


def test_export_and_import_round_trip(shelves: Database, ana: object, actor: Actor) -> None:
    db = shelves
    tools = db.shelves.create(
        {"code": "tools", "name": "Tools", "manager": "ana@example.com"}, actor=actor
    )
    out = io.StringIO()
    assert export_records(db, "shelves", out, fmt="csv") == 1
    header, _row = out.getvalue().splitlines()
    assert header == "id,code,name,manager_email,created_at,updated_at"
    # The exported id updates that shelf, its natural key (the code) corrected too.
    edited = out.getvalue().replace("TOOLS,Tools", "HAND-TOOLS,Tools and more")
    edited += ",GARDEN,Garden,,,\n"
    report = import_records(
        db, "shelves", io.StringIO(edited), fmt="csv", actor=actor, dry_run=False
    )
    assert (report.applied, report.count("update"), report.count("add")) == (True, 1, 1)
    stored = [(c.id, c.code, c.name) for c in db.shelves.stream(PageRequest(sort="code"))]
    assert stored[0] == (stored[0][0], "GARDEN", "Garden")
    assert stored[1] == (tools.id, "HAND-TOOLS", "Tools and more")
    changes = {(c.field, c.old, c.new) for c in report.changed[0].changes}
    assert changes == {("code", "TOOLS", "HAND-TOOLS"), ("name", "Tools", "Tools and more")}

    # A code another shelf holds is refused, naming the line and the field.
    taken = f"id,code,name\n{tools.id},GARDEN,Tools\n"
    report = import_records(db, "shelves", io.StringIO(taken), fmt="csv", actor=actor, dry_run=True)
    reason = f"GARDEN belongs to another shelf (id {stored[0][0]}), not to shelf {tools.id}"
    assert [(row.line, row.errors) for row in report.refused] == [(2, {"code": reason})]


# The command line


def test_the_command_line_lists_and_adds(
    shelves: Database, ana: object, capsys: pytest.CaptureFixture[str]
) -> None:
    url = shelves.engine.url.render_as_string(hide_password=False)
    added = main(
        [
            "--db",
            url,
            "shelves",
            "add",
            "--code",
            "tools",
            "--name",
            "Tools",
            "--manager",
            "ana@example.com",
        ]
    )
    assert (added, capsys.readouterr().out) == (0, "created shelf 1 <TOOLS>\n")
    assert main(["--db", url, "shelves", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(c["code"], c["name"], c["manager_email"]) for c in listed] == [
        ("TOOLS", "Tools", "ana@example.com")
    ]
    assert (
        main(
            [
                "--db",
                url,
                "shelves",
                "add",
                "--code",
                "x",
                "--name",
                "X",
                "--manager",
                "nobody@example.com",
            ]
        )
        == 1
    )
    assert "manager: no user with email nobody@example.com" in capsys.readouterr().err


def test_the_command_line_shows_and_updates(
    shelves: Database, ana: object, capsys: pytest.CaptureFixture[str]
) -> None:
    url = shelves.engine.url.render_as_string(hide_password=False)
    assert main(["--db", url, "shelves", "add", "--code", "tools", "--name", "Tools"]) == 0
    capsys.readouterr()
    updated = main(["--db", url, "shelves", "update", "TOOLS", "--manager", "ana@example.com"])
    assert (updated, capsys.readouterr().out) == (0, "updated shelf 1 <TOOLS> (version 2)\n")
    assert main(["--db", url, "shelves", "show", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[:4] == [
        "id: 1",
        "code: TOOLS",
        "name: Tools",
        "manager_email: ana@example.com",
    ]
    stale = ["--db", url, "shelves", "update", "1", "--name", "X", "--expect-version", "1"]
    assert main(stale) == 1
    assert "changed by someone else" in capsys.readouterr().err
    assert main(["--db", url, "audit", "list", "--entity", "shelves", "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [(e["action"], e["entity"]) for e in entries] == [
        ("update", "shelf"),
        ("create", "shelf"),
    ]
    # No secret field, so no set-password command.
    assert main(["--db", url, "shelves", "set-password", "1"]) == 2


# The console


async def test_console_lists_searches_edits_follows_deletes_and_undoes(
    shelves: Database, ana: object, actor: Actor, tmp_path: Path
) -> None:
    db = shelves
    db.shelves.create({"code": "tools", "name": "Tools", "manager": "ana@example.com"}, actor=actor)
    db.shelves.create({"code": "garden", "name": "Garden"}, actor=actor)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("9")
        await settle(app, pilot)
        assert app.current_mode == "shelves"
        assert table(app).total == 2
        assert any("TOOLS" in line and "ana@example.com" in line for line in table_lines(app))

        await pilot.press("slash", *"gard", "enter")
        await settle(app, pilot)
        assert (table(app).total, current(app).code) == (1, "GARDEN")
        await pilot.press("escape")
        await settle(app, pilot)

        await pilot.press("n", *"shoes", "tab", *"Shoes", "ctrl+s")
        await settle(app, pilot)
        shoes = find(db, "shelves", "SHOES")
        assert shoes.name == "Shoes"

        table(app).move_to(0)  # TOOLS, id 1
        await pilot.press("e", "tab", "home", "ctrl+k", *"Tools & Co", "ctrl+s")
        await settle(app, pilot)
        assert find(db, "shelves", "TOOLS").name == "Tools & Co"

        await pilot.press("u")  # undo this console's last change: the rename
        await settle(app, pilot)
        await pilot.press("enter")  # confirmed
        await settle(app, pilot)
        assert find(db, "shelves", "TOOLS").name == "Tools"

        manager_column = next(
            i for i, column in enumerate(table(app).columns) if column.link is not None
        )
        table(app).move_to(0)
        await pilot.press(*["l"] * manager_column, "enter")  # follow the manager
        await settle(app, pilot)
        assert app.current_mode == "users"
        assert current(app).email == "ana@example.com"

        await pilot.press("9")
        await settle(app, pilot)
        table(app).move_to(0)
        await pilot.press("d", "y")
        await settle(app, pilot)
        assert [c.code for c in db.shelves.stream(PageRequest())] == ["GARDEN", "SHOES"]


async def test_console_shows_a_shelf_whole_with_its_manager_and_history(
    shelves: Database, ana: object, actor: Actor
) -> None:
    from textual.widgets import Static

    from tui.screens.record_view import RecordView

    db = shelves
    tools = db.shelves.create(
        {"code": "tools", "name": "Tools", "manager": "ana@example.com"}, actor=actor
    )
    db.shelves.update(tools.id, {"name": "Hand tools"}, expected_version=tools.version, actor=actor)
    app = console(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("9", "v")
        await settle(app, pilot)
        view = app.screen
        assert isinstance(view, RecordView)
        cells = [str(cell.content) for cell in view.query_one(".record--fields").query(Static)]
        shown = dict(zip(cells[::2], cells[1::2], strict=True))
        assert shown["Code"] == "TOOLS"
        assert shown["Name"] == "Hand tools"
        assert shown["Manager"] == f"Ana Lima <ana@example.com>, user {tools.manager_id}"
        changes = [str(line.content) for line in view.query(".record--change").results(Static)]
        assert changes[0] == "name: Tools → Hand tools"


@pytest.mark.parametrize(
    ("declaration", "mistake"),
    [
        (
            SHELVES._replace(fields=(*SHELVES.fields, Field("keeper", "relation"))),
            "relation 'keeper' needs `to`",
        ),
        (
            SHELVES._replace(fields=(*SHELVES.fields, Field("size", "choice"))),
            "choice 'size' needs `choices`",
        ),
        (
            SHELVES._replace(fields=(*SHELVES.fields, Field("name", "text"))),
            "shelves: a field is declared twice",
        ),
        (SHELVES._replace(natural_key="label"), "natural key 'label' is not a field"),
    ],
)
def test_a_declaration_with_a_mistake_is_refused_when_registered(
    declaration: Entity, mistake: str
) -> None:
    with pytest.raises(ValueError, match=mistake):
        register(declaration)
    assert "shelves" not in [entity.plural for entity in registered()]
