"""Deterministic demo data: realistic users and products for trying the console out.

Everything comes from one ``random.Random(seed)``, and timestamps are counted back from a
fixed date rather than from now, so the same seed gives byte-identical rows on every run and
every backend. Rows go in with Core executemany in chunks inside one write unit of work:
the ORM's per-object bookkeeping would make 100,000 rows take minutes instead of seconds.
"""

from __future__ import annotations

import math
import random
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from data.actor import Actor
from data.bulk import roomy_sqlite_cache
from data.database import Database
from data.errors import Invalid
from data.trail import new_batch, write_entry
from data.unit import writing
from models import Base, Product, User

COUNT_MAX = 10_000_000
SEED_MAX = 2**63 - 1
CHUNK = 5_000
# Demo rows are dated in the two years before this instant; a fixed date (not "now") is
# what makes two runs with one seed byte-identical.
DEMO_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
DEMO_SPAN_S = 2 * 365 * 24 * 3600

FIRST_NAMES = (
    "Amara",
    "Chinedu",
    "Ngozi",
    "Kwame",
    "Ama",
    "Thandiwe",
    "Sipho",
    "Kenji",
    "Yuki",
    "Hiroshi",
    "Mei",
    "Wei",
    "Jing",
    "Min-jun",
    "Seo-yeon",
    "Linh",
    "Minh",
    "Priya",
    "Arjun",
    "Ananya",
    "Rohan",
    "Fatima",
    "Omar",
    "Layla",
    "Youssef",
    "Sofia",
    "Mateo",
    "Lucía",
    "Javier",
    "João",
    "Ana",
    "Chloé",
    "Léa",
    "Luca",
    "Giulia",
    "Zoë",
    "Björn",
    "Ingrid",
    "Lars",
    "Astrid",
    "Siobhán",
    "Aoife",
    "Tomasz",
    "Agnieszka",
    "Olga",
    "Dmitri",
    "Mehmet",
    "Elif",
    "Aroha",
    "Tane",
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Grace",
    "Samuel",
)
LAST_NAMES = (
    "Okafor",
    "Adeyemi",
    "Mensah",
    "Nkosi",
    "Sato",
    "Tanaka",
    "Suzuki",
    "Wang",
    "Chen",
    "Kim",
    "Park",
    "Nguyen",
    "Tran",
    "Patel",
    "Sharma",
    "Iyer",
    "Haddad",
    "Khan",
    "Al-Sayed",
    "García",
    "Fernández",
    "Silva",
    "Santos",
    "Rossi",
    "Bianchi",
    "Müller",
    "Schmidt",
    "Dubois",
    "Lefèvre",
    "Johansson",
    "Nielsen",
    "Virtanen",
    "O'Brien",
    "Murphy",
    "Nowak",
    "Kowalski",
    "Y\u0131lmaz",
    "Demir",
    "Cohen",
    "Levi",
    "Papadopoulos",
    "Ngata",
    "Smith",
    "Johnson",
    "Brown",
    "Walker",
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
# Letters NFKD cannot take apart into ASCII; without these, Yilmaz spelt with a dotless i
# (U+0131) would get the address "ylmaz".
_TRANSLITERATE = str.maketrans({"\u0131": "i", "ø": "o", "ß": "ss", "æ": "ae", "ł": "l", "đ": "d"})

ADJECTIVES = (
    "Brushed",
    "Matte",
    "Polished",
    "Compact",
    "Classic",
    "Rustic",
    "Modern",
    "Vintage",
    "Insulated",
    "Foldable",
    "Heavy-Duty",
    "Slim",
    "Ergonomic",
    "Waterproof",
    "Stackable",
    "Adjustable",
    "Hand-Finished",
    "Everyday",
)
MATERIALS = (
    "Steel",
    "Oak",
    "Walnut",
    "Ceramic",
    "Bamboo",
    "Copper",
    "Linen",
    "Cotton",
    "Glass",
    "Brass",
    "Aluminium",
    "Cork",
    "Wool",
    "Leather",
    "Stoneware",
    "Titanium",
)
NOUNS = (
    "Kettle",
    "Desk Lamp",
    "Chair",
    "Backpack",
    "Water Bottle",
    "Notebook",
    "Cutting Board",
    "Teapot",
    "Skillet",
    "Mug",
    "Bookshelf",
    "Planter",
    "Blanket",
    "Umbrella",
    "Toolbox",
    "Wall Clock",
    "Stool",
    "Serving Tray",
    "Pepper Mill",
    "Coat Hook",
    "Cable Organiser",
    "Lunch Box",
    "Picture Frame",
    "Headphone Stand",
)
SELLING_POINTS = (
    "Built for years of daily use.",
    "Ships flat and assembles in minutes.",
    "Dishwasher safe.",
    "Backed by a two-year warranty.",
    "Made in small batches.",
    "A bestseller since launch.",
    "Pairs well with the rest of the range.",
    "Packed in recycled cardboard.",
)
CARE_NOTES = (
    "Care: wipe clean with a damp cloth.",
    "Care: hand wash only; dry straight away.",
    "Note: colours may vary slightly between batches.",
)
# (lowest, highest) whole currency units and how often a price falls in the band: most
# demo products are cheap, a few are expensive, as in a real catalogue.
PRICE_BANDS = ((3, 19), (20, 99), (100, 499), (500, 2498))
PRICE_BAND_WEIGHTS = (35, 35, 20, 10)
PRICE_CENTS = ("00", "50", "95", "99")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SKU_NUMBERS = 90_000  # the five digits run from 10000 to 99999
SKU_SPACE = 26**3 * SKU_NUMBERS


@dataclass(frozen=True)
class SeedResult:
    """How many demo rows `seed_demo` inserted."""

    users: int
    products: int


def seed_demo(
    db: Database, *, users: int = 100, products: int = 300, seed: int = 1, actor: Actor
) -> SeedResult:
    """Fill an empty database with ``users`` users and ``products`` products made from ``seed``.

    One unit of work: all rows or none, with one "seed" audit entry (an entry per demo row
    would double the cost of seeding). Refused with `Invalid` when the arguments are out of
    range or the database already holds users or products.
    """
    _check_arguments(users=users, products=products, seed=seed)
    draw = _Draw(seed)
    with writing(db.sessions) as session, roomy_sqlite_cache(session):
        _require_empty(session)
        _insert_chunks(session, _users_table(), _user_rows(draw, users))
        owner_ids = _user_ids(session)
        _insert_chunks(session, _products_table(), _product_rows(draw, products, owner_ids))
        write_entry(
            session,
            actor=actor,
            batch=new_batch(),
            action="seed",
            entity="users",
            record_id=None,
            new={"users": users, "products": products, "seed": seed},
        )
        _refresh_statistics(session)
    return SeedResult(users=users, products=products)


def _refresh_statistics(session: Session) -> None:
    """Let PostgreSQL's planner see the new rows now rather than when autovacuum wakes.

    Its plans and the estimated counts of big tables (data.paging) read these statistics;
    ANALYZE in the seeding transaction counts that transaction's rows.
    """
    if session.get_bind().dialect.name == "postgresql":
        for table in (User.__tablename__, Product.__tablename__):
            session.execute(text(f"ANALYZE {table}"))


def _check_arguments(*, users: int, products: int, seed: int) -> None:
    errors: dict[str, str] = {}
    for name, value, highest in (
        ("users", users, COUNT_MAX),
        ("products", products, COUNT_MAX),
        ("seed", seed, SEED_MAX),
    ):
        # bool is an int to Python, but "--users True" is a mistake, not a count.
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= highest:
            errors[name] = f"must be a whole number from 0 to {highest:,}"
    if errors:
        raise Invalid(errors)


def _require_empty(session: Session) -> None:
    user_count = int(session.scalar(select(func.count()).select_from(User)) or 0)
    product_count = int(session.scalar(select(func.count()).select_from(Product)) or 0)
    if user_count or product_count:
        raise Invalid(
            {
                "database": f"already holds {user_count} users and {product_count} products; "
                "seed fills an empty database only"
            }
        )


def _users_table() -> Table:
    return Base.metadata.tables[User.__tablename__]


def _products_table() -> Table:
    return Base.metadata.tables[Product.__tablename__]


def _insert_chunks(session: Session, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    """Insert ``rows`` with executemany, ``CHUNK`` at a time.

    Chunks keep memory flat and each statement well under the servers' packet limits.
    """
    iterator = iter(rows)
    while chunk := list(islice(iterator, CHUNK)):
        session.execute(insert(table), chunk)


def _user_ids(session: Session) -> array[int]:
    """The ids of the users just inserted, in insertion order.

    Read back rather than assumed to be 1..N: a server's sequence may have moved on. The
    table was empty and filled in order by one transaction, so id order is insertion order.
    """
    return array("q", session.scalars(select(User.id).order_by(User.id)))


class _Draw:
    """Seeded draws built on ``random()`` alone, much cheaper per call than ``choice``."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed).random

    def below(self, n: int) -> int:
        return int(self.random() * n)

    def pick(self, items: Sequence[str]) -> str:
        return items[int(self.random() * len(items))]

    def chance(self, p: float) -> bool:
        return self.random() < p


def _user_rows(draw: _Draw, count: int) -> Iterator[dict[str, Any]]:
    taken: dict[str, int] = {}
    for _ in range(count):
        first, last = draw.pick(FIRST_NAMES), draw.pick(LAST_NAMES)
        domain = draw.pick(EMAIL_DOMAINS)
        local = f"{_EMAIL_WORDS[first]}.{_EMAIL_WORDS[last]}"
        created, updated = _timestamps(draw)
        yield {
            "name": f"{first} {last}",
            "email": _unique_email(taken, local, domain),
            "role": _role(draw),
            "is_active": not draw.chance(0.08),
            "password_hash": None,
            "created_at": created,
            "updated_at": updated,
            "version": 1,
        }


def _role(draw: _Draw) -> str:
    """Mostly viewers, some editors, a few admins."""
    roll = draw.random()
    return "admin" if roll < 0.03 else "editor" if roll < 0.20 else "viewer"


def _unique_email(taken: dict[str, int], local: str, domain: str) -> str:
    """``local@domain``, or ``local2@domain``, ``local3@domain``... when already taken.

    A local part made from names holds no digit, so a numbered address can never collide
    with a plain one or with another base's numbered one.
    """
    base = f"{local}@{domain}"
    seen = taken.get(base, 0) + 1
    taken[base] = seen
    return base if seen == 1 else f"{local}{seen}@{domain}"


def _ascii_word(name: str) -> str:
    """``Siobhán`` -> ``siobhan``, ``O'Brien`` -> ``obrien``: fit for an email local part."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_TRANSLITERATE))
    return "".join(ch for ch in decomposed.lower() if ch.isascii() and (ch.isalpha() or ch == "-"))


_EMAIL_WORDS = {name: _ascii_word(name) for name in (*FIRST_NAMES, *LAST_NAMES)}


def _timestamps(draw: _Draw) -> tuple[datetime, datetime]:
    created = DEMO_EPOCH - timedelta(seconds=draw.below(DEMO_SPAN_S))
    age = int((DEMO_EPOCH - created).total_seconds())
    # About a third of the demo rows were never edited after they were created.
    updated = created if draw.chance(0.35) else created + timedelta(seconds=draw.below(age))
    return created, updated


def _product_rows(draw: _Draw, count: int, owner_ids: Sequence[int]) -> Iterator[dict[str, Any]]:
    skus = _sku_codes(draw)
    for index in range(count):
        adjective, material, noun = draw.pick(ADJECTIVES), draw.pick(MATERIALS), draw.pick(NOUNS)
        created, updated = _timestamps(draw)
        owned = bool(owner_ids) and draw.chance(0.85)
        yield {
            "sku": skus(index),
            "name": f"{adjective} {material} {noun}",
            "description": _description(draw, adjective, material, noun),
            "price": _price(draw),
            "stock": 0 if draw.chance(0.1) else 1 + draw.below(500),
            "is_active": not draw.chance(0.05),
            "owner_id": owner_ids[draw.below(len(owner_ids))] if owned else None,
            "created_at": created,
            "updated_at": updated,
            "version": 1,
        }


def _sku_codes(draw: _Draw) -> Callable[[int], str]:
    """A function from row number to a SKU like ``ABC-10042``, unique by construction.

    ``i -> (step * i + offset) mod SKU_SPACE`` is a bijection when ``step`` is coprime with
    the space, so SKUs look scattered yet never repeat, with no set of 10 million seen ones.
    """
    offset = draw.below(SKU_SPACE)
    step = 1 + draw.below(SKU_SPACE - 1)
    while math.gcd(step, SKU_SPACE) != 1:
        step = 1 + draw.below(SKU_SPACE - 1)

    def sku(index: int) -> str:
        letters, number = divmod((step * index + offset) % SKU_SPACE, SKU_NUMBERS)
        first, rest = divmod(letters, 26 * 26)
        second, third = divmod(rest, 26)
        return f"{_LETTERS[first]}{_LETTERS[second]}{_LETTERS[third]}-{10000 + number}"

    return sku


def _description(draw: _Draw, adjective: str, material: str, noun: str) -> str:
    text = f"{adjective} {noun.lower()} in {material.lower()}. {draw.pick(SELLING_POINTS)}"
    # Some descriptions run over two lines, as real ones do (and as CSV export must handle).
    if draw.chance(0.2):
        text += "\n" + draw.pick(CARE_NOTES)
    return text


def _price(draw: _Draw) -> Decimal:
    """A shop-like price from 3.50 to 2498.99, exact to the cent (no float on the way)."""
    roll, band = draw.random() * sum(PRICE_BAND_WEIGHTS), 0
    while roll >= PRICE_BAND_WEIGHTS[band]:
        roll -= PRICE_BAND_WEIGHTS[band]
        band += 1
    low, high = PRICE_BANDS[band]
    units = low + draw.below(high - low + 1)
    cents = max(int(draw.pick(PRICE_CENTS)), 50 if units == 3 else 0)
    return Decimal(f"{units}.{cents:02d}")


__all__ = ["SeedResult", "seed_demo"]
