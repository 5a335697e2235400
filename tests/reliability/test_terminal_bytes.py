"""Stored escapes never reach the terminal (issue 5, item 16): the bytes on a real pty.

Another tool (the sqlite3, psql or mariadb client itself) stores OSC 0/8/52, an unterminated
OSC, a CSI clear-screen, 8-bit C1 controls, NUL, DEL and CR in users, products and the audit
log. The real ``accessguard`` console then runs under a pseudo-terminal at 80x24 with
TERM=xterm-256color, and keystrokes walk it through the users, products and audit screens,
a record's form and its delete dialog. Every byte it writes is read; none of the stored
sequences may be among them, and their visible stand-ins must be.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from data.database import Database
from tests.conftest import BACKENDS
from tests.reliability.support_input import (
    Terminal,
    cli_url,
    fresh_database,
    run_client,
    sequences_past,
)

# Each stored payload, and the bytes that must never appear in what the console writes.
PAYLOADS = {
    "osc0": ("\x1b]0;PWN\x07", b"\x1b]0;PWN"),
    "osc52": ("\x1b]52;c;ZXZpbA==\x07", b"\x1b]52;"),
    "osc8": ("\x1b]8;;http://evil\x1b\\L", b"\x1b]8;;http://evil"),
    "csi": ("Q\x1b[2JQ", b"Q\x1b[2JQ"),
    "c1": ("\x9b31m\x85\x9d", b"\xc2\x9b"),
    "nel": ("\x85N", b"\xc2\x85"),
    "osc-open": ("\x1b]2;UNTERM", b"\x1b]2;UNTERM"),
    "controls": ("N\x00D\x7fC\rR", b"D\x7fC"),
}
# What the console shows instead (UTF-8): ESC as ␛, C1 controls as U+FFFD, DEL as ␡.
STAND_INS = ("␛]0;PWN".encode(), "␛]52;".encode(), "\ufffd".encode(), "␡".encode())


def payloads(backend: str) -> list[str]:
    """The payloads as ``backend`` can store them (PostgreSQL text cannot hold NUL)."""
    texts = [text for text, _needle in PAYLOADS.values()]
    if backend == "postgresql":
        texts = [text.replace("\x00", "") for text in texts]
    return texts


def sql_text(backend: str, value: str) -> str:
    """A SQL expression for ``value`` built from its UTF-8 bytes: no quoting can break."""
    data = value.encode().hex()
    if backend == "sqlite":
        return f"CAST(X'{data}' AS TEXT)"
    if backend == "postgresql":
        return f"convert_from('\\x{data}'::bytea, 'UTF8')"
    return f"CONVERT(X'{data}' USING utf8mb4)"


def store_with_client(backend: str, db: Database) -> None:
    """Insert users, products and an audit entry holding every payload, with the database's
    own command-line client, as another tool would."""
    texts = payloads(backend)
    joined = "".join(texts)
    at = "'2026-01-02 03:04:05'"
    yes = "TRUE" if backend == "postgresql" else "1"
    statements = []
    for number, text in enumerate([joined[:100], *texts], start=1):
        statements.append(
            "INSERT INTO users (id, name, email, role, is_active, created_at, updated_at,"
            f" version) VALUES ({number}, {sql_text(backend, text)},"
            f" 'user{number}@example.com', 'viewer', {yes}, {at}, {at}, 1)"
        )
    for number, text in enumerate([joined, *texts], start=1):
        statements.append(
            "INSERT INTO products (id, sku, name, description, price, stock, is_active,"
            f" owner_id, created_at, updated_at, version) VALUES ({number}, 'SKU-{number}',"
            f" {sql_text(backend, text)}, {sql_text(backend, joined)}, 1.50, 2, {yes},"
            f" {number}, {at}, {at}, 1)"
        )
    new_values = sql_text(backend, json.dumps({"name": joined}))
    if backend == "postgresql":
        new_values = f"CAST({new_values} AS json)"
    statements.append(
        "INSERT INTO audit_entries (id, at, actor, os_user, source, batch, action, entity,"
        f" record_id, old_values, new_values) VALUES (1, {at}, {sql_text(backend, joined[:200])},"
        f" 'mallory', 'elsewhere', 'batch-1', 'update', 'user', 1, '{{}}',"
        f" {new_values})"
    )
    run_client(db, statements + sequences_past(db, 100))


@pytest.fixture(scope="module", params=BACKENDS)
def stored_payloads(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a database on each backend holding every payload, stored by its client."""
    backend: str = request.param
    with fresh_database(backend, tmp_path_factory.mktemp("pty"), prefix="ag_input") as db:
        store_with_client(backend, db)
        yield cli_url(db.engine.url)


def test_stored_escapes_never_reach_the_terminal(stored_payloads: str, tmp_path: Path) -> None:
    terminal = Terminal(stored_payloads)
    try:
        terminal.wait_for(b"Row 1 of ")
        terminal.wait_for("␛]0;PWN".encode())  # the users table, the payload made visible
        # Back on a table, its footer (which has Quit, unlike forms and dialogs) is drawn again.
        terminal.press(b"e", b"Edit user 1")
        terminal.press(b"\x1b", b"Quit ")
        terminal.press(b"d", b"Delete this user?")
        terminal.press(b"n", b"Quit ")
        terminal.press(b"2", b"SKU-1")
        terminal.press(b"e", b"Edit product 1")
        terminal.press(b"\x1b", b"Quit ")
        terminal.press(b"d", b"Delete this product?")
        terminal.press(b"n", b"Quit ")
        terminal.press(b"3", b"update")
        terminal.press(b"\r", b"Audit entry 1")
        terminal.press(b"\x1b", b"Quit ")
        status = terminal.quit()
    finally:
        terminal.close()
    assert status == 0
    written = bytes(terminal.output)
    for name, (_text, needle) in PAYLOADS.items():
        assert needle not in written, f"{name}: {needle!r} reached the terminal"
    for stand_in in STAND_INS:
        assert stand_in in written, f"{stand_in.decode()!r} not shown"
    (tmp_path / "pty-output.bin").write_bytes(written)  # kept for a failing run's reader
