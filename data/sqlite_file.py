"""The SQLite file behind an engine: opened by its exact name.

Naming. A ``sqlite:///`` URL's path is percent-decoded by SQLAlchemy, as in any URL: a file
``a?b.db`` is ``sqlite:///a%3Fb.db`` and ``100%.db`` is ``sqlite:///100%25.db`` (``#``,
spaces, brackets and non-ASCII letters may be written as they are). The engine then opens
that path through a ``file:`` URI it builds itself, every byte quoted, so nothing in the
name can be read as a URI's query, fragment or escape, in read-only and read-write mode
alike; ``mode=ro`` / ``mode=rw`` means SQLite never creates a file either (AccessGuard
creates a new one itself, 0600). AccessGuard builds the URI, so a URL may carry no SQLite
URI options of its own: only ``timeout``.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import URL

from data.config import BadDatabaseURL

# The pysqlite options a SQLite URL may carry (`data.engine.sqlite_busy_timeout_ms` reads it).
ALLOWED_OPTIONS = frozenset({"timeout"})


def sqlite_path(url: URL) -> Path:
    """The database file ``url`` names, made absolute against the working directory now."""
    name = url.database or ""
    if "\x00" in name:
        raise BadDatabaseURL("the SQLite file name holds a NUL character (%00)")
    return Path(os.path.abspath(name))


def check_options(url: URL) -> None:
    """Refuse query options other than ``timeout``: a ``?`` meant as part of the file name,
    or SQLite URI options (``mode``, ``uri``, ``cache``...) AccessGuard decides itself."""
    unknown = sorted(set(url.query) - ALLOWED_OPTIONS)
    if unknown:
        raise BadDatabaseURL(
            f"the SQLite URL has options AccessGuard does not take ({', '.join(unknown)}); "
            "only ?timeout=SECONDS is. A ? in the file name is written %3F and a % is %25, "
            "e.g. sqlite:///a%3Fb.db; for read-only use --read-only"
        )


def file_uri(path: Path, *, read_only: bool) -> str:
    """The ``file:`` URI that opens exactly ``path`` (absolute) and never creates it.

    Every byte outside the unreserved set is percent-encoded (from the file system's own
    bytes, so any name round-trips), and the empty authority keeps a path that starts
    with ``//`` a path.
    """
    quoted = quote(os.fsencode(path), safe="/")
    return f"file://{quoted}?mode={'ro' if read_only else 'rw'}"
