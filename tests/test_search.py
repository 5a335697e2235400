"""Search and sort as the admin sees them, and the indexes that keep them fast at any size.

The behaviour tests run on all three backends. The plan tests pin the speed without timing
anything: they ask the database how it would answer, and fail if it would scan the table.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, text
from sqlalchemy.engine import URL

from data import paging
from data.actor import Actor
from data.database import Database
from data.records import Count, Cursor, PageRequest
from data.schema import alembic_config, upgrade
from tests.data_support import find


def _user_names(db: Database, search: str, **request: Any) -> list[str]:
    return [user.name for user in db.users.page(PageRequest(search=search, **request)).records]


@pytest.fixture
def people(db: Database, actor: Actor) -> Database:
    for name, email in [
        ("Amara Okafor", "amara.okafor@example.com"),
        ("Tamara Reid", "tamara@example.org"),
        ("Bob Stone", "bob.amara@example.net"),
        ('Quote "Q" Smith', "q@example.com"),
    ]:
        db.users.create({"name": name, "email": email}, actor=actor)
    return db


def test_caret_finds_names_or_emails_that_start_with_the_text(people: Database) -> None:
    assert _user_names(people, "^amara") == ["Amara Okafor"]
    assert _user_names(people, "^AMA") == ["Amara Okafor"]
    assert _user_names(people, "^bob.am") == ["Bob Stone"]  # by email
    assert _user_names(people, "^tam", sort="name") == ["Tamara Reid"]
    assert _user_names(people, "^  ") == _user_names(people, "")  # blank: everyone
    assert people.users.count(search="^example") == 0


def test_plain_text_finds_it_anywhere_in_any_case(people: Database) -> None:
    assert _user_names(people, "amara", sort="name") == ["Amara Okafor", "Bob Stone", "Tamara Reid"]
    assert _user_names(people, "MARA O") == ["Amara Okafor"]  # spaces are part of the text
    assert _user_names(people, "ok") == ["Amara Okafor"]  # shorter than a trigram
    assert _user_names(people, '"q"') == ['Quote "Q" Smith']  # quotes taken literally
    assert _user_names(people, 'ote "') == ['Quote "Q" Smith']
    assert people.users.count(search="example.") == 4
    assert people.users.count(search="amara.okafor@example.com ") == 1


def test_wildcards_and_sql_in_search_are_literal(people: Database) -> None:
    for search in ("%", "_", "\\", "' OR 1=1--", "%%%", "^%", "^_"):
        assert people.users.count(search=search) == 0, search


def test_products_match_by_sku_or_name_in_any_case(db: Database, actor: Actor) -> None:
    db.products.create({"sku": "TEA-1", "name": "Green tea", "price": "3"}, actor=actor)
    db.products.create({"sku": "POT-2", "name": "Teapot", "price": "20"}, actor=actor)
    db.products.create({"sku": "CUP-3", "name": "Steady cup", "price": "5"}, actor=actor)

    def skus(search: str) -> list[str]:
        return [p.sku for p in db.products.page(PageRequest(search=search, sort="sku")).records]

    assert skus("^tea") == ["POT-2", "TEA-1"]
    assert skus("tea") == ["CUP-3", "POT-2", "TEA-1"]
    assert skus("a-1") == ["TEA-1"]
    assert skus("^cup-") == ["CUP-3"]


def test_search_follows_renames_deletes_and_undo(people: Database, actor: Actor) -> None:
    amara = find(people, "users", "amara.okafor@example.com")
    renamed = people.users.update(
        amara.id, {"name": "Ngozi Okafor"}, expected_version=amara.version, actor=actor
    )
    assert _user_names(people, "ngozi") == ["Ngozi Okafor"]
    assert _user_names(people, "^amara") == ["Ngozi Okafor"]  # the email still starts so
    assert _user_names(people, "amara o") == []

    people.users.delete(renamed.id, expected_version=renamed.version, actor=actor)
    assert _user_names(people, "ngozi") == []
    people.audit.undo_last(actor=actor)
    assert _user_names(people, "ngozi") == ["Ngozi Okafor"]


def test_names_sort_without_regard_to_case(db: Database, actor: Actor) -> None:
    for index, name in enumerate(["beth", "Adam", "carl", "Dora", "adam"]):
        db.users.create({"name": name, "email": f"u{index}@example.com"}, actor=actor)
    ascending = _user_names(db, "", sort="name")
    assert [name.lower() for name in ascending] == ["adam", "adam", "beth", "carl", "dora"]
    # Equal names keep their id order, and paging from the middle agrees with the sort.
    assert ascending[:2] == ["Adam", "adam"]
    first = db.users.page(PageRequest(sort="name", limit=2))
    rest = db.users.page(PageRequest(sort="name", limit=10, after=first.next))
    assert [u.name for u in first.records + rest.records] == ascending
    backward = db.users.page(PageRequest(sort="name", limit=10, before=Cursor("carl", 10**6)))
    assert [u.name for u in backward.records] == ["Adam", "adam", "beth", "carl"]
    assert _user_names(db, "", sort="name", descending=True) == ascending[::-1]


def test_sort_by_a_few_distinct_values_pages_through_ties(db: Database, actor: Actor) -> None:
    for index in range(9):
        role = ("admin", "editor", "viewer")[index % 3]
        db.users.create(
            {"name": f"u{index}", "email": f"u{index}@x.org", "role": role}, actor=actor
        )
    seen: list[tuple[str, int]] = []
    page = db.users.page(PageRequest(sort="role", limit=2, descending=True))
    seen += [(u.role, u.id) for u in page.records]
    while page.has_next:
        page = db.users.page(PageRequest(sort="role", limit=2, descending=True, after=page.next))
        seen += [(u.role, u.id) for u in page.records]
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == 9


def test_display_count_is_exact_for_searches_small_tables_and_non_postgres(
    people: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert people.users.display_count() == Count(4)
    assert people.users.display_count("amara") == Count(3)
    monkeypatch.setattr(paging, "ESTIMATE_FROM", 2)
    with people.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("ANALYZE users"))
    shown = people.users.display_count()
    if people.engine.dialect.name == "postgresql":
        # Above the threshold PostgreSQL answers from its statistics, marked approximate.
        assert shown == Count(4, exact=False)
        assert str(shown) == "~4"
    else:
        assert shown == Count(4)
    assert people.users.display_count("amara") == Count(3)  # searches are always exact


def test_upgrading_a_0003_database_indexes_its_existing_rows(database_url: URL) -> None:
    db = Database.connect(database_url)
    try:
        with db.engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0003_exact_keys")
            connection.execute(
                text(
                    "INSERT INTO users (id, name, email, role, is_active, created_at,"
                    " updated_at, version) VALUES (7, 'Zora Neale', 'zora@example.com',"
                    " 'viewer', :yes, :at, :at, 1)"
                ),
                {"yes": True, "at": "2026-01-01 00:00:00"},
            )
        upgrade(db.engine)
        assert [u.id for u in db.users.page(PageRequest(search="neale")).records] == [7]
        assert [u.id for u in db.users.page(PageRequest(search="^ZOR")).records] == [7]
    finally:
        db.dispose()


# Query plans: the database would answer from an index, not by reading the table.


SORTS = ["name", "email", "role", "is_active", "created_at", "updated_at"]
INDEXED_SEARCHES = {
    "sqlite": [
        ("^amara", "ix_users_name_nocase"),
        ("^amara", "ix_users_email_nocase"),
        ("mara", "users_search"),
    ],
    "postgresql": [
        ("^amara", "ix_users_name_prefix"),
        ("^amara", "ix_users_email_prefix"),
        ("mara", "ix_users_name_trigram"),
        ("mara", "ix_users_email_trigram"),
    ],
}


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("sort", SORTS)
def test_a_page_from_a_cursor_seeks_in_an_index_for_every_sort(people: Database, sort: str) -> None:
    value = getattr(people.users.page(PageRequest(sort=sort)).records[1], sort)
    for descending in (False, True):
        request = PageRequest(sort=sort, descending=descending, after=Cursor(value, 2))
        plan = _plan(people, lambda request=request: people.users.page(request), in_order=True)
        assert not re.search(r"SCAN users\b(?!_)|Seq Scan|Sort|B-TREE", plan), plan


@pytest.mark.parametrize(
    ("database_url", "search", "index"),
    [
        pytest.param(backend, search, index, id=f"{backend}-{index}")
        for backend, cases in INDEXED_SEARCHES.items()
        for search, index in cases
    ],
    indirect=["database_url"],
)
def test_searches_are_answered_from_an_index(people: Database, search: str, index: str) -> None:
    plan = _plan(people, lambda: people.users.count(search=search))
    assert index in plan, plan
    assert not re.search(r"SCAN users\b(?!_)", plan), plan
    assert "Seq Scan" not in plan, plan


def _plan(db: Database, call: Any, *, in_order: bool = False) -> str:
    """The database's plans for the SELECTs that ``call`` ran.

    PostgreSQL is told to avoid sequential scans: on a table of four rows it would rightly
    prefer one, and the question here is whether an index can answer at all. With
    ``in_order`` it is also told to avoid sorting and bitmap scans: can an index walk
    return the rows in page order by itself?
    """
    captured: list[tuple[str, Any]] = []

    def remember(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    plans: list[str] = []
    with db.engine.connect() as connection:
        explain = "EXPLAIN QUERY PLAN" if connection.dialect.name == "sqlite" else "EXPLAIN"
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET enable_seqscan = off")
            if in_order:
                connection.exec_driver_sql("SET enable_sort = off")
                connection.exec_driver_sql("SET enable_bitmapscan = off")
        for statement, parameters in captured:
            rows = connection.exec_driver_sql(f"{explain} {statement}", parameters)
            plans.extend(str(row[-1]) for row in rows)
    # Without a plan every "no table scan" assertion would pass.
    assert captured, "the call ran no SELECT: there is no plan to check"
    assert all(plans), f"the database gave an empty plan for {captured}"
    return "\n".join(plans)
