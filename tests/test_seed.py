"""Demo data: deterministic, realistic, audited once, and only ever into an empty database."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from data.actor import Actor
from data.config import normalise_url
from data.database import Database
from data.errors import Invalid
from data.records import PageRequest
from data.schema import upgrade
from data.seed import DEMO_EPOCH, SeedResult, seed_demo
from data.specs import spec_of
from data.validation import validate_fields


@pytest.fixture
def sqlite_dbs(tmp_path: Path) -> Iterator[list[Database]]:
    """Two more empty databases (SQLite files) to seed and compare with the backend's."""
    databases = []
    for name in ("first", "second"):
        database = Database.connect(normalise_url(f"sqlite:///{tmp_path / name}.db"))
        upgrade(database.engine)
        databases.append(database)
    try:
        yield databases
    finally:
        for database in databases:
            database.dispose()


# What must be identical for one seed: every stored value except the ids.
USER_VALUES = ("name", "email", "role", "is_active", "has_password", "created_at", "updated_at")
PRODUCT_VALUES = (
    "sku",
    "name",
    "description",
    "price",
    "stock",
    "is_active",
    "owner_email",
    "created_at",
    "updated_at",
)


def _rows(db: Database) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every user and product in id order, as the values in USER_VALUES and PRODUCT_VALUES."""
    users = [
        (*(getattr(user, name) for name in USER_VALUES), user.version)
        for user in db.users.stream(PageRequest())
    ]
    products = [
        (*(getattr(product, name) for name in PRODUCT_VALUES), product.version)
        for product in db.products.stream(PageRequest())
    ]
    return users, products


def test_same_seed_gives_the_same_rows_on_every_backend(
    db: Database, actor: Actor, sqlite_dbs: list[Database]
) -> None:
    reference, other = sqlite_dbs
    assert seed_demo(db, users=40, products=120, seed=7, actor=actor) == SeedResult(40, 120)
    seed_demo(reference, users=40, products=120, seed=7, actor=actor)
    seed_demo(other, users=40, products=120, seed=8, actor=actor)

    assert _rows(db) == _rows(reference)
    users, products = _rows(db)
    other_users, other_products = _rows(other)
    assert users != other_users
    assert products != other_products


def test_demo_rows_are_realistic_and_valid(db: Database, actor: Actor) -> None:
    seed_demo(db, users=300, products=500, seed=1, actor=actor)
    users = list(db.users.stream(PageRequest()))
    products = list(db.products.stream(PageRequest()))
    assert (len(users), len(products)) == (300, 500)

    emails = [user.email for user in users]
    assert len(set(emails)) == len(emails)
    roles = Counter(user.role for user in users)
    assert roles["viewer"] > roles["editor"] > roles["admin"] > 0
    assert 0 < sum(not user.is_active for user in users) < 60
    for user in users:
        assert re.fullmatch(r"\S+ \S+", user.name)
        assert re.fullmatch(r"[a-z-]+\.[a-z-]+\d*@example\.(com|org|net)", user.email)
        # Stored exactly as the validators would store them, so an export re-imports unchanged.
        clean = validate_fields(
            spec_of("users").validators, {"name": user.name, "email": user.email}
        )
        assert (clean["name"], clean["email"]) == (user.name, user.email)
        assert user.created_at <= user.updated_at <= DEMO_EPOCH
        assert user.version == 1

    owned = [product for product in products if product.owner_email is not None]
    assert 0.7 * len(products) < len(owned) < len(products)
    assert {product.owner_email for product in owned} <= set(emails)
    assert len({product.sku for product in products}) == len(products)
    for product in products:
        assert re.fullmatch(r"[A-Z]{3}-\d{5}", product.sku)
        assert len(product.name.split()) >= 3
        assert isinstance(product.price, Decimal)
        assert Decimal("3.50") <= product.price <= Decimal("2499.00")
        assert product.price == product.price.quantize(Decimal("0.01"))
        assert 0 <= product.stock <= 500
        clean = validate_fields(
            spec_of("products").validators, {"description": product.description}
        )
        assert clean["description"] == product.description
        assert product.version == 1
    assert any("\n" in product.description for product in products)
    assert any(product.stock == 0 for product in products)


def test_many_users_get_unique_numbered_emails(db: Database, actor: Actor) -> None:
    seed_demo(db, users=4000, products=0, seed=3, actor=actor)
    emails = [user.email for user in db.users.stream(PageRequest())]
    assert len(emails) == len(set(emails)) == 4000
    assert any(re.search(r"\d@", email) for email in emails)


def test_seed_writes_one_audit_entry(db: Database, actor: Actor) -> None:
    seed_demo(db, users=25, products=10, seed=5, actor=actor)
    entries = db.audit.page(PageRequest()).records
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.action, entry.entity, entry.record_id) == ("seed", "users", None)
    assert entry.new == {"users": 25, "products": 10, "seed": 5}
    assert entry.actor == actor.label


def test_products_without_users_have_no_owner(db: Database, actor: Actor) -> None:
    seed_demo(db, users=0, products=30, seed=1, actor=actor)
    products = list(db.products.stream(PageRequest()))
    assert len(products) == 30
    assert all(product.owner_id is None for product in products)


def test_a_database_with_data_is_refused_untouched(db: Database, actor: Actor) -> None:
    db.users.create({"name": "Kenji Sato", "email": "kenji@example.com"}, actor=actor)
    with pytest.raises(Invalid) as refused:
        seed_demo(db, users=10, products=10, actor=actor)
    assert refused.value.errors == {
        "database": "already holds 1 users and 0 products; seed fills an empty database only"
    }
    assert (db.users.count(), db.products.count()) == (1, 0)
    assert [entry.action for entry in db.audit.page(PageRequest()).records] == ["create"]


def test_bad_arguments_are_refused_by_name(db: Database, actor: Actor) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"users": -1}, "users"),
        ({"products": 10_000_001}, "products"),
        ({"users": True}, "users"),  # a bool is an int to Python, but not a count
        ({"products": "5"}, "products"),
        ({"seed": -3}, "seed"),
    ]
    for arguments, field in cases:
        with pytest.raises(Invalid) as refused:
            seed_demo(db, actor=actor, **arguments)
        assert list(refused.value.errors) == [field]
        assert "must be a whole number from 0 to" in refused.value.errors[field]
    assert (db.users.count(), db.products.count()) == (0, 0)
    assert db.audit.count() == 0
