"""Several records changed in one transaction (the console's staged quick edits)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from data.actor import Actor
from data.database import Database
from data.errors import Conflict, Invalid


def _products(db: Database, actor: Actor, count: int = 3) -> list[Any]:
    return [
        db.products.create(
            {"sku": f"QE-{n}", "name": f"Widget {n}", "price": "5.00", "stock": n}, actor=actor
        )
        for n in range(1, count + 1)
    ]


def test_every_change_is_saved_and_audited_in_one_batch(db: Database, actor: Actor) -> None:
    one, two, three = _products(db, actor)
    saved = db.products.update_many(
        [
            (three.id, three.version, {"stock": "30"}),
            (one.id, one.version, {"stock": "10", "price": "6.50"}),
            (two.id, two.version, {"name": "Gadget 2"}),
        ],
        actor=actor,
    )
    assert [record.id for record in saved] == [three.id, one.id, two.id]
    assert (db.products.get(one.id).stock, db.products.get(one.id).price) == (10, Decimal("6.50"))
    assert db.products.get(two.id).name == "Gadget 2"
    assert db.products.get(three.id).stock == 30
    assert all(record.version == 2 for record in saved)
    entries = [db.audit.for_record("product", p.id)[-1] for p in (one, two, three)]
    assert [entry.action for entry in entries] == ["update"] * 3
    assert entries[0].changes == {"stock": (1, 10), "price": ("5.00", "6.50")}
    assert entries[2].changes == {"stock": (3, 30)}
    assert len({entry.batch for entry in entries}) == 1
    # One undo reverts the whole commit.
    db.audit.undo_last(actor=actor)
    assert [db.products.get(p.id).stock for p in (one, two, three)] == [1, 2, 3]


def test_a_conflict_in_the_middle_saves_nothing_and_names_the_record(
    db: Database, actor: Actor, other_actor: Actor
) -> None:
    one, two, three = _products(db, actor)
    theirs = db.products.update(
        two.id, {"stock": 99}, expected_version=two.version, actor=other_actor
    )
    with pytest.raises(Conflict) as conflict:
        db.products.update_many(
            [(p.id, p.version, {"stock": "50"}) for p in (one, two, three)], actor=actor
        )
    assert f"Product {two.id} was changed by someone else" in conflict.value.message
    assert "None of the 3 products were saved" in conflict.value.message
    assert conflict.value.current == theirs
    assert [db.products.get(p.id).stock for p in (one, two, three)] == [1, 99, 3]
    assert [len(db.audit.for_record("product", p.id)) for p in (one, two, three)] == [1, 2, 1]


def test_an_invalid_value_is_refused_naming_record_and_field(db: Database, actor: Actor) -> None:
    one, two, _three = _products(db, actor)
    with pytest.raises(Invalid) as refused:
        db.products.update_many(
            [(one.id, one.version, {"stock": "7"}), (two.id, two.version, {"stock": "-4"})],
            actor=actor,
        )
    assert refused.value.errors == {f"product {two.id}, stock": "must not be negative"}
    # A value only the database can refuse (a SKU another product has) is named the same way.
    with pytest.raises(Invalid) as taken:
        db.products.update_many(
            [(one.id, one.version, {"stock": "7"}), (two.id, two.version, {"sku": one.sku})],
            actor=actor,
        )
    assert list(taken.value.errors) == [f"product {two.id}, sku"]
    assert [db.products.get(p.id).stock for p in (one, two)] == [1, 2]
    assert [db.products.get(p.id).version for p in (one, two)] == [1, 1]
