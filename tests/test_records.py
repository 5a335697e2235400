"""Creating, reading, paging and searching records through the public operations."""

from __future__ import annotations

import pickle
from dataclasses import fields
from decimal import Decimal
from typing import Any

import pytest

from data.actor import Actor
from data.database import Database
from data.errors import Invalid, NotFound
from data.records import PageRequest
from data.specs import EntitySpec, spec_of
from tests.data_support import find

USERS = spec_of("users")
PRODUCTS = spec_of("products")


def _add_users(db: Database, actor: Actor, names: list[str]) -> None:
    for index, name in enumerate(names):
        db.users.create({"name": name, "email": f"user{index}@example.com"}, actor=actor)


def test_create_normalises_and_returns_a_plain_record(db: Database, actor: Actor) -> None:
    user = db.users.create(
        {"name": "  Amara Okafor ", "email": " Amara.Okafor@Example.ORG ", "role": "Editor"},
        actor=actor,
    )
    assert (user.name, user.email, user.role) == (
        "Amara Okafor",
        "amara.okafor@example.org",
        "editor",
    )
    assert user.is_active is True
    assert user.has_password is False
    assert user.version == 1
    assert user.created_at.tzinfo is not None
    assert db.users.get(user.id) == user


def test_product_price_is_an_exact_decimal_and_owner_resolves_by_email(
    db: Database, actor: Actor
) -> None:
    owner = db.users.create({"name": "Kenji Sato", "email": "kenji@example.com"}, actor=actor)
    product = db.products.create(
        {
            "sku": "kt-100",
            "name": "Kettle",
            "price": "0.10",
            "stock": "7",
            "owner": "KENJI@example.com",
        },
        actor=actor,
    )
    assert product.sku == "KT-100"
    assert product.price == Decimal("0.10")
    assert isinstance(product.price, Decimal)
    assert str(product.price) == "0.10"
    assert (product.stock, product.owner_id, product.owner_email) == (
        7,
        owner.id,
        "kenji@example.com",
    )


def test_big_price_survives_every_backend_exactly(db: Database, actor: Actor) -> None:
    product = db.products.create(
        {"sku": "MAX", "name": "Max", "price": "9999999999.99"}, actor=actor
    )
    assert db.products.get(product.id).price == Decimal("9999999999.99")


def test_invalid_input_names_every_bad_field_and_writes_nothing(db: Database, actor: Actor) -> None:
    with pytest.raises(Invalid) as refused:
        db.products.create(
            {"sku": "bad sku!", "name": " ", "price": "12,50", "stock": "-1"}, actor=actor
        )
    assert set(refused.value.errors) == {"sku", "name", "price", "stock"}
    assert "dot" in refused.value.errors["price"]
    assert db.products.count() == 0
    assert db.audit.count() == 0


def test_unknown_owner_is_refused_on_the_owner_field(db: Database, actor: Actor) -> None:
    with pytest.raises(Invalid) as refused:
        db.products.create(
            {"sku": "A1", "name": "A", "price": "1", "owner": "nobody@example.com"}, actor=actor
        )
    assert refused.value.errors == {"owner": "no user with email nobody@example.com"}


def test_get_and_find(db: Database, actor: Actor) -> None:
    user = db.users.create({"name": "Ana", "email": "ana@example.com"}, actor=actor)
    assert find(db, "users", " ANA@example.com") == user
    with pytest.raises(NotFound):
        db.users.get(user.id + 1000)
    with pytest.raises(NotFound):
        find(db, "users", "nobody@example.com")


def test_keyset_pages_walk_forward_and_back_in_both_directions(db: Database, actor: Actor) -> None:
    # Duplicated names force the id tie-breaker to do its work.
    names = [f"name {index // 3:02d}" for index in range(23)]
    _add_users(db, actor, names)
    for descending in (False, True):
        expected = sorted(db.users.stream(PageRequest(sort="id")), key=lambda u: (u.name, u.id))
        if descending:
            expected.reverse()
        seen: list[Any] = []
        page = db.users.page(PageRequest(sort="name", descending=descending, limit=5))
        assert page.has_prev is False
        seen.extend(page.records)
        while page.has_next:
            page = db.users.page(
                PageRequest(sort="name", descending=descending, limit=5, after=page.next)
            )
            seen.extend(page.records)
        assert [u.id for u in seen] == [u.id for u in expected]
        # Walk back from the last page to the first.
        back: list[Any] = []
        page = db.users.page(
            PageRequest(sort="name", descending=descending, limit=5, from_end=True)
        )
        assert page.has_next is False
        back[:0] = page.records
        while page.has_prev:
            page = db.users.page(
                PageRequest(sort="name", descending=descending, limit=5, before=page.prev)
            )
            back[:0] = page.records
        assert [u.id for u in back] == [u.id for u in expected]


@pytest.mark.parametrize(
    "sort", ["id", "sku", "name", "price", "stock", "is_active", "created_at", "updated_at"]
)
def test_every_sortable_product_column_pages_in_order(
    db: Database, actor: Actor, sort: str
) -> None:
    for index in range(12):
        db.products.create(
            {
                "sku": f"S{index:03d}",
                "name": f"P{index % 4}",
                "price": f"{index % 5}.25",
                "stock": str(index % 3),
                "is_active": index % 2 == 0,
            },
            actor=actor,
        )
    rows = list(db.products.stream(PageRequest(sort=sort)))
    pages: list[Any] = []
    page = db.products.page(PageRequest(sort=sort, limit=4))
    pages.extend(page.records)
    while page.has_next:
        page = db.products.page(PageRequest(sort=sort, limit=4, after=page.next))
        pages.extend(page.records)
    keys = [(getattr(p, sort), p.id) for p in pages]
    assert keys == sorted(keys)
    assert len(pages) == len(rows) == 12


def test_sort_outside_the_whitelist_is_refused(db: Database) -> None:
    with pytest.raises(Invalid) as refused:
        db.users.page(PageRequest(sort="password_hash"))
    assert "sort" in refused.value.errors
    with pytest.raises(Invalid):
        db.users.page(PageRequest(sort="name; DROP TABLE users"))


def test_search_matches_name_or_email_case_insensitively_and_wildcards_literally(
    db: Database, actor: Actor
) -> None:
    db.users.create({"name": "Grace Hopper", "email": "grace@example.com"}, actor=actor)
    db.users.create({"name": "Ada 100% Lovelace", "email": "ada_l@example.com"}, actor=actor)
    db.users.create({"name": "Linus", "email": "adaxl@example.com"}, actor=actor)
    assert [u.name for u in db.users.page(PageRequest(search="HOPPER")).records] == ["Grace Hopper"]
    assert [u.name for u in db.users.page(PageRequest(search="100%")).records] == [
        "Ada 100% Lovelace"
    ]
    # "_" is a LIKE wildcard; it must match only a literal underscore.
    assert [u.email for u in db.users.page(PageRequest(search="ada_")).records] == [
        "ada_l@example.com"
    ]
    assert db.users.count(search="example.com") == 3
    assert db.users.count(search="' OR 1=1--") == 0


def test_count_is_separate_and_respects_search(db: Database, actor: Actor) -> None:
    _add_users(db, actor, ["Zoe", "Zack", "Amy"])
    assert db.users.count() == 3
    assert db.users.count(search="z") == 2


def test_products_filter_by_owner(db: Database, actor: Actor) -> None:
    owner = db.users.create({"name": "Owner", "email": "owner@example.com"}, actor=actor)
    db.products.create({"sku": "A", "name": "Owned", "price": "1", "owner": owner.id}, actor=actor)
    db.products.create({"sku": "B", "name": "Free", "price": "1"}, actor=actor)
    owned = db.products.page(PageRequest(filters=(("owner_id", owner.id),))).records
    assert [p.sku for p in owned] == ["A"]
    assert db.products.count(filters=(("owner_id", None),)) == 1
    assert sum(d.count for d in db.dependants("users", [owner.id])) == 1


def test_start_at_rereads_a_window_in_place_including_its_first_row(
    db: Database, actor: Actor
) -> None:
    _add_users(db, actor, [f"n{i:02d}" for i in range(10)])
    first = db.users.page(PageRequest(sort="name", limit=3))
    second = db.users.page(PageRequest(sort="name", limit=3, after=first.next))
    again = db.users.page(PageRequest(sort="name", limit=3, start_at=second.prev))
    assert again.records == second.records
    assert again.has_prev is True
    newest = db.audit.page(PageRequest(limit=2))
    assert newest.next is not None
    from_second = db.audit.page(PageRequest(limit=2, start_at=newest.next))
    assert from_second.records[0] == newest.records[1]


@pytest.mark.parametrize("spec", [USERS, PRODUCTS], ids=["users", "products"])
def test_each_select_yields_its_record_fields_in_order(spec: EntitySpec[Any, Any]) -> None:
    # Records are built from rows by position: a column out of order would put an email
    # where a name belongs, on every screen.
    labels = [column.key for column in spec.select().selected_columns]
    assert labels == [item.name for item in fields(spec.record_type)]


def test_records_made_from_declarations_pickle_by_name(db: Database, actor: Actor) -> None:
    """Another process (a multiprocessing worker) gets the same record back."""
    product = db.products.create({"sku": "P-1", "name": "Pan", "price": "9.50"}, actor=actor)
    assert type(product).__qualname__ == "ProductRecord"
    assert pickle.loads(pickle.dumps(product)) == product
