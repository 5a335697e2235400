"""Search text as a WHERE clause each backend can answer from an index.

``alice`` finds records where any searched column contains "alice", in any case; ``^alice``
finds those where one starts with it. What makes that fast differs per backend (see
migration 0004):

- SQLite: LIKE is case-insensitive (for ASCII) and can use a NOCASE index for a prefix;
  a substring of three characters or more goes through the table's FTS5 trigram index.
- PostgreSQL: ``lower(column) LIKE`` uses the ``text_pattern_ops`` index for a prefix and the
  pg_trgm GIN index for a substring.
- MySQL/MariaDB: ``lower(column) LIKE``, scanning for a substring.

Case folds one way everywhere (see data.casefold): a search holding other letters than
ASCII goes through the fold function on SQLite, whose LIKE folds ASCII only.

Shorter substrings than a trigram scan on every backend: on a large table they match
densely, so the first page still arrives quickly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, literal_column, or_, select, table, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from data.casefold import FOLD_FUNCTION, fold_case
from data.errors import Invalid
from data.paging import SEARCH_MAX, Column, escape_like

PREFIX_MARK = "^"
TRIGRAM = 3
# Up to this many matches a page is read through the search index and sorted; beyond, it is
# faster to walk the page's own order testing each row. Measured on a million users: the
# index costs ~0.2 ms per thousand matches, the walk ~20,000 / matches ms, so they cross
# near 10,000 matches at ~2 ms; counting up to FEW candidates first costs ~1 ms at most.
FEW = 10_000


@dataclass(frozen=True)
class Search:
    """What the admin typed, understood: the text, and whether it must start a value."""

    text: str
    prefix: bool


def parse_search(raw: str) -> Search | None:
    """The search in ``raw``, or None when it is blank; `Invalid` when it is over-long."""
    if len(raw) > SEARCH_MAX:
        raise Invalid({"search": f"is too long (at most {SEARCH_MAX} characters)"})
    text = raw.strip()
    prefix = text.startswith(PREFIX_MARK)
    if prefix:
        text = text[len(PREFIX_MARK) :].lstrip()
    return Search(text, prefix) if text else None


@dataclass(frozen=True)
class Match:
    """The rows a search matches, as conditions for the two ways a database can find them.

    ``indexed`` asks the search index for every match: right for counting, and for a page
    when the matches are few. ``walked`` is the same test applied row by row while walking
    the page's sort order, which stops after one page: right when matches are many.
    SQLite cannot tell which from the pattern, so `condition` first counts the candidates in
    the search index, stopping past FEW. PostgreSQL's planner decides from its statistics
    and gets one condition. (Probing there too was slower: on 100k users the planner scanned
    for the probe itself.)
    """

    indexed: ColumnElement[bool]
    walked: ColumnElement[bool]
    # The matching ids as the search index finds them, at most FEW + 1.
    candidates: Select[Any] | None = None

    def condition(self, session: Session, *, for_page: bool) -> ColumnElement[bool]:
        """The WHERE clause for this unit of work: every match (a count), or the fastest
        way to one page of them."""
        if session.get_bind().dialect.name == "postgresql":
            # psycopg prepares a statement run five times, and PostgreSQL may then keep one
            # generic plan for any parameters: for LIKE :pattern that plan cannot use the
            # search indexes (65 ms instead of 5 for a rare substring on 100k users). Pages
            # without a search keep their cheaper prepared plans.
            session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        if not for_page or self.candidates is None:
            return self.indexed
        counted = select(func.count()).select_from(self.candidates.subquery())
        return self.indexed if (session.scalar(counted) or 0) <= FEW else self.walked


def matching(
    raw: str,
    columns: Sequence[Column],
    *,
    dialect: str,
    id_column: Column,
    trigram_table: str | None = None,
) -> Match | None:
    """The rows where one of ``columns`` contains (or starts with) the search; None if blank.

    ``trigram_table`` names the SQLite FTS5 table that indexes ``columns`` by trigram,
    with the record id as its rowid.
    """
    search = parse_search(raw)
    if search is None:
        return None
    if dialect != "sqlite":
        pattern = _pattern(fold_case(search.text) or "", prefix=search.prefix)
        condition = or_(
            *(_lowered(column, dialect).like(pattern, escape="\\") for column in columns)
        )
        return Match(indexed=condition, walked=condition)
    if not search.text.isascii():
        # SQLite's LIKE and lower() fold ASCII only: the connection's fold function lowers
        # as the servers do. No index holds that, so every row is tested.
        pattern = _pattern(fold_case(search.text) or "", prefix=search.prefix)
        folded = or_(
            *(getattr(func, FOLD_FUNCTION)(column).like(pattern, escape="\\") for column in columns)
        )
        return Match(indexed=folded, walked=folded)
    # SQLite's LIKE folds ASCII case itself; lower() would stop it using the NOCASE index.
    pattern = _pattern(search.text, prefix=search.prefix)
    like = or_(*(column.like(pattern, escape="\\") for column in columns))
    # ``column || ''`` is the same value but no index's: SQLite then walks the page order.
    unindexed = or_(*(column.concat("").like(pattern, escape="\\") for column in columns))
    if search.prefix:
        candidates = select(id_column).where(like).limit(FEW + 1)
        return Match(indexed=like, walked=unindexed, candidates=candidates)
    if len(search.text) < TRIGRAM or trigram_table is None:
        return Match(indexed=like, walked=like)  # no index can answer: always walked
    trigrams = _trigram_matches(trigram_table, search.text)
    return Match(indexed=id_column.in_(trigrams), walked=like, candidates=trigrams.limit(FEW + 1))


def _lowered(column: Column, dialect: str) -> ColumnElement[str]:
    """``lower(column)``, compared byte for byte: MariaDB's case-insensitive collations
    would also make ``e`` match ``é`` and ``ss`` match ``ß``, which PostgreSQL never does."""
    lowered: ColumnElement[str] = func.lower(column)
    return lowered.collate("utf8mb4_bin") if dialect in ("mysql", "mariadb") else lowered


def _pattern(text: str, *, prefix: bool) -> str:
    escaped = escape_like(text)
    return f"{escaped}%" if prefix else f"%{escaped}%"


def _trigram_matches(trigram_table: str, text: str) -> Select[Any]:
    """The rowids whose indexed columns contain ``text``: an FTS5 phrase query.

    A quoted phrase takes every character literally (quotes doubled), and the trigram
    tokenizer matches it anywhere inside a value, ignoring case: LIKE '%text%'.
    """
    phrase = '"' + text.replace('"', '""') + '"'
    index = table(trigram_table)
    return (
        select(literal_column("rowid"))
        .select_from(index)
        .where(literal_column(trigram_table).op("MATCH")(phrase))
    )
