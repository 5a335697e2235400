"""Search folds case one way on every backend (issue 11, item 13; the rule: data.casefold).

Case-insensitive by Unicode lower case, one character at a time; accent-sensitive; sharp s
is not ``ss``; final sigma is not sigma; the dotted capital I is ``i``; full-width letters
fold to full-width.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import URL

from data.actor import Actor
from data.casefold import fold_case
from data.records import PageRequest
from tests.reliability.support_input import cli_url, migrated, run_cli

ACTOR = Actor("alice", source="test-search-case")
NAMES = (
    "\u00c9mile Zola",  # É
    "\u00e9mile zola",
    "Emile Plain",
    "\u00c4rger",  # Ä
    "\u00e4rger",
    "\u039f\u0394\u039f\u03a3",  # ΟΔΟΣ
    "\u03bf\u03b4\u03bf\u03c2",  # οδος, final sigma
    "\u03c3\u03bf\u03c6\u03af\u03b1",  # σοφία
    "Stra\u00dfe",  # Straße
    "STRASSE",
    "\u0130stanbul",  # İstanbul
    "\u0131\u015f\u0131k",  # Turkish "isik" with dotless i
    "\uff21\uff22\uff23",  # full-width capitals ABC
    "\uff41\uff42\uff43",  # full-width small abc
    "ABC plain",
)
# Each search and the names it must find, spelled out (the rule, not the code, decides).
FAMILY = {
    "^\u00e9mile": {0, 1},  # ^émile: both cases, not the unaccented Emile
    "^\u00c9MILE": {0, 1},
    "^emile": {2},
    "\u00e4rg": {3, 4},
    "^\u00c4": {3, 4},
    "\u03a3": {5, 7},  # capital sigma finds sigma, not final sigma
    "\u03c3": {5, 7},
    "\u03c2": {6},
    "\u03bf\u03b4\u03bf\u03c3": {5},  # οδοσ: the capital's fold, not the final-sigma word
    "ss": {9},
    "\u00df": {8},
    "STRA\u00dfE": {8},
    "^\u0130stanbul": {10},
    "\u0131\u015f": {11},
    "\uff41\uff42": {12, 13},  # full-width small ab finds both full-width names
    "\uff21\uff22\uff23": {12, 13},
    "abc": {14},  # ASCII finds ASCII only
}


def test_the_rule_is_written_down_once() -> None:
    # The oracle the family is written from.
    assert fold_case("\u00c9\u00c4\u03a3\u0130\uff21") == "\u00e9\u00e4\u03c3i\uff41"
    assert fold_case("\u039f\u0394\u039f\u03a3") == "\u03bf\u03b4\u03bf\u03c3"
    assert fold_case("STRASSE") != fold_case("Stra\u00dfe")


def test_every_backend_finds_the_same_family(database_url: URL) -> None:
    with migrated(database_url) as db:
        for number, name in enumerate(NAMES):
            db.users.create({"name": name, "email": f"u{number}@example.com"}, actor=ACTOR)
        ids = {
            user.email: int(user.email[1:].split("@")[0]) for user in db.users.stream(PageRequest())
        }
        for search, expected in FAMILY.items():
            page = db.users.page(PageRequest(search=search))
            found = {ids[user.email] for user in page.records}
            assert found == expected, (search, sorted(NAMES[i] for i in found))
            assert db.users.count(search) == len(expected), search
        # The command line searches the same way.
        status, out, err = run_cli(
            "--db",
            cli_url(db.engine.url),
            "users",
            "list",
            "--search",
            "^\u00e9mile",
            "--format",
            "json",
        )
        assert status == 0, err
        assert {row["name"] for row in json.loads(out)} == {NAMES[0], NAMES[1]}


@pytest.mark.parametrize("search", sorted(FAMILY))
def test_family_is_the_rule(search: str) -> None:
    """The family's expectations follow the rule as written (prefix: ``^``)."""
    prefix = search.startswith("^")
    text = fold_case(search.lstrip("^")) or ""
    folded = [fold_case(name) or "" for name in NAMES]
    if prefix:
        by_rule = {number for number, name in enumerate(folded) if name.startswith(text)}
    else:
        by_rule = {number for number, name in enumerate(folded) if text in name}
    assert by_rule == FAMILY[search]
