"""Helpers for the bad-input tests: the corpus, one database per backend, the CLI in-process,
counting statements, storing text the way another tool would, and reading the screen."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Engine

from data.database import Database
from data.schema import upgrade
from tui.cli import main

CORPUS = Path(__file__).with_name("corpus.json")
AT = datetime(2026, 1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Entry:
    """One corpus entry: the text, its category and what must happen to it."""

    id: str
    category: str
    text: str
    expect: str
    named: str = ""  # the character a refusal names (ESC, U+009B, ...)
    field: str = ""  # the field it is refused in (numbers)
    message: str = ""  # the exact reason
    hidden: bool = False  # whether it holds characters nobody can see


def corpus(category: str) -> list[Entry]:
    """The corpus entries of ``category``, texts expanded (``repeat``)."""
    entries = json.loads(CORPUS.read_text(encoding="utf-8"))["entries"]
    chosen = []
    for raw in entries:
        if raw["category"] != category:
            continue
        fields = {k: v for k, v in raw.items() if k != "repeat"}
        fields["text"] = raw["text"] * raw.get("repeat", 1)
        chosen.append(Entry(**fields))
    return chosen


# One database per backend for a whole module: creating one per test (and migrating it)
# would cost most of the module's time budget on the servers.


@contextmanager
def migrated(url: URL) -> Iterator[Database]:
    """A `Database` at schema head on ``url``, disposed after."""
    db = Database.connect(url)
    upgrade(db.engine)
    try:
        yield db
    finally:
        db.dispose()


def empty(db: Database) -> None:
    """Remove every record and audit entry (the schema stays)."""
    with db.engine.begin() as connection:
        for table in ("products", "audit_entries", "users"):
            connection.execute(text(f"DELETE FROM {table}"))


def cli_url(url: URL) -> str:
    """``url`` as the command line takes it."""
    return url.render_as_string(hide_password=False)


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the command line in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


@contextmanager
def statements(engine: Engine | type[Engine]) -> Iterator[list[str]]:
    """Every statement ``engine`` runs while the block runs (`Engine` itself: every engine)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


# Storing text the way another tool would: plain SQL, no validation.


def raw_user(db: Database, user_id: int, name: str, email: str) -> None:
    """A user row written past validation."""
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, name, email, role, is_active, created_at, updated_at,"
                " version) VALUES (:id, :name, :email, 'viewer', :yes, :at, :at, 1)"
            ),
            {"id": user_id, "name": name, "email": email, "yes": True, "at": AT},
        )


def raw_product(
    db: Database, product_id: int, sku: str, name: str, owner_id: int | None, description: str = ""
) -> None:
    """A product row written past validation."""
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO products (id, sku, name, description, price, stock, is_active,"
                " owner_id, created_at, updated_at, version) VALUES (:id, :sku, :name,"
                " :description, 12.5, 3, :yes, :owner, :at, :at, 1)"
            ),
            {
                "id": product_id,
                "sku": sku,
                "name": name,
                "description": description,
                "owner": owner_id,
                "yes": True,
                "at": AT,
            },
        )


def fix_sequences(db: Database) -> None:
    """After rows with explicit ids, let PostgreSQL's id sequences continue past them."""
    if db.engine.dialect.name != "postgresql":
        return
    with db.engine.begin() as connection:
        for table in ("users", "products", "audit_entries"):
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            )


def stored(db: Database, sql: str, **params: Any) -> list[Any]:
    """The first column of ``sql``'s rows, read with plain SQL (not through the models)."""
    with db.engine.connect() as connection:
        return list(connection.execute(text(sql), params).scalars())


# Reading the screen


def python() -> str:
    """The interpreter running the tests (its venv has the ``accessguard`` script)."""
    return sys.executable


def accessguard() -> str:
    """The installed ``accessguard`` console script beside the interpreter."""
    return str(Path(sys.executable).with_name("accessguard"))
