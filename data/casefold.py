"""The one case rule of search, on every backend: Unicode lower case, character by character.

A capital E with acute finds its small letter, as do A with diaeresis, capital sigma (small
sigma) and the full-width capitals; accents count (``e`` does not find an accented e),
sharp s and ``ss`` differ, final and medial sigma differ, and the dotted capital I is
``i``. That is what PostgreSQL's ``lower()`` in a UTF-8 locale and MariaDB's ``lower()``
do, compared byte for byte; SQLite's own ``lower()`` and ``LIKE`` fold ASCII only, so its
connections get `fold_case` as the SQL function `FOLD_FUNCTION`. Stdlib only.
"""

from __future__ import annotations

FOLD_FUNCTION = "ag_fold"
# Python's lower() goes beyond one character for one character (İ becomes "i̇", two) and
# by context (Σ at a word's end becomes ς): the servers map each character alone.
_ONE_BY_ONE = str.maketrans({"\u0130": "i", "\u03a3": "\u03c3"})


def fold_case(text: str | None) -> str | None:
    """``text`` in lower case as the database servers lower it, one character at a time."""
    if text is None:
        return None
    if text.isascii():
        return text.lower()
    return text.translate(_ONE_BY_ONE).lower()


__all__ = ["FOLD_FUNCTION", "fold_case"]
