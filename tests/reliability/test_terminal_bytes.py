"""Stored escapes never reach the terminal (issue 5, item 16): the bytes on a real pty.

Another tool (the sqlite3, psql or mariadb client itself) stores OSC 0/8/52, an unterminated
OSC, a CSI clear-screen, 8-bit C1 controls, NUL, DEL and CR in users, products and the audit
log. The real ``accessguard`` console then runs under a pseudo-terminal at 80x24 with
TERM=xterm-256color, and keystrokes walk it through the users, products and audit screens,
a record's form and its delete dialog. Every byte it writes is read; none of the stored
sequences may be among them, and their visible stand-ins must be.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from data.actor import Actor
from data.characters import BIDI, C0, C1, DEL, INVISIBLE, SEPARATORS
from data.config import normalise_url
from data.database import Database
from data.records import PageRequest
from data.transfer import export_records
from tests.cli_support import Ran, in_process
from tests.conftest import BACKENDS
from tests.reliability.support_input import (
    Terminal,
    accessguard,
    cli_url,
    fresh_database,
    migrated,
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


def form_and_delete(entity: str) -> list[tuple[bytes, bytes]]:
    """Open record 1's form and its delete dialog, closing each. Back on a table, its footer
    (which has Quit, unlike forms and dialogs) is drawn again."""
    return [
        (b"e", f"Edit {entity} 1".encode()),
        (b"\x1b", b"Quit "),
        (b"d", f"Delete this {entity}?".encode()),
        (b"n", b"Quit "),
    ]


def test_stored_escapes_never_reach_the_terminal(stored_payloads: str, tmp_path: Path) -> None:
    status, written = Terminal(stored_payloads).walk(
        (b"", b"Row 1 of "),
        (b"", "␛]0;PWN".encode()),  # the users table, the payload made visible
        *form_and_delete("user"),
        (b"2", b"SKU-1"),
        *form_and_delete("product"),
        (b"3", b"update"),
        (b"\r", b"Audit entry 1"),
        (b"\x1b", b"Quit "),
    )
    assert status == 0
    for name, (_text, needle) in PAYLOADS.items():
        assert needle not in written, f"{name}: {needle!r} reached the terminal"
    for stand_in in STAND_INS:
        assert stand_in in written, f"{stand_in.decode()!r} not shown"
    (tmp_path / "pty-output.bin").write_bytes(written)  # kept for a failing run's reader


# Text the admin did not type (issue 11, item 3): a file name found in the working folder.

# One name holding each family member: the stored payloads a file name can hold (no "/",
# no NUL), an OSC 8 link without a slash, bidi overrides and isolates, zero-width characters.
FILE_NAME_PAYLOADS = {
    **{
        name: payload
        for name, payload in PAYLOADS.items()
        if "/" not in payload[0] and "\x00" not in payload[0]
    },
    "osc8": ("\x1b]8;;https:evil\x1b\\L", b"\x1b]8;;https:evil"),
    "bidi": ("\u202eRLO\u2066", "\u202e".encode()),
    "isolate": ("\u2067", "\u2067".encode()),
    "zero-width": ("Z\u200bW\ufeff", "\u200b".encode()),
    "bom": ("\ufeff", "\ufeff".encode()),
}
HOSTILE_NAME = "users-" + "".join(text for text, _needle in FILE_NAME_PAYLOADS.values()) + ".csv"
# The start of the name as shown: recognisable, with ESC as ␛ and BEL as ␇.
SHOWN_NAME = "users-␛]0;PWN␇␛]52;c;ZXZpbA==␇Q␛[2JQ".encode()


def test_hostile_file_names_never_reach_the_terminal(database_url: URL, tmp_path: Path) -> None:
    with migrated(database_url) as db:
        db.users.create({"name": "Ana", "email": "ana@example.com"}, actor=Actor("t"))
    # The newest users file in the folder is what `i` offers; its rows are one good user
    # and one whose name holds the same escapes (refused, its reason shown).
    (tmp_path / HOSTILE_NAME).write_text(
        f"name,email\nBo,bo@example.com\n{HOSTILE_NAME[6:-4]},evil@example.com\n",
        encoding="utf-8",
    )
    status, written = Terminal(cli_url(database_url), cwd=tmp_path).walk(
        (b"", b"Row 1 of 1"),
        (b"i", b"Import users"),  # the prompt, offering the hostile name
        (b"\r", b"Apply valid rows"),  # its dry run: one row refused
        (b"V", b"Imported"),  # V applies the valid rows (v lists the refused)
        (b"x", b"Export users"),
        (b"\r", b"Exported"),
    )
    (tmp_path / "pty-output.bin").write_bytes(written)  # kept for a failing run's reader
    assert status == 0
    for name, (_text, needle) in FILE_NAME_PAYLOADS.items():
        assert needle not in written, f"{name}: {needle!r} reached the terminal"
    assert SHOWN_NAME in written  # the admin can still tell which file it is
    # The import read the file the name names: Bo was added, the hostile row refused.
    with migrated(database_url) as db:
        names = [user.name for user in db.users.stream(PageRequest())]
    assert names == ["Ana", "Bo"]
    exported = list(tmp_path.glob("users-2*.csv"))
    assert len(exported) == 1
    assert "Bo" in exported[0].read_text(encoding="utf-8")


# Command-line output (issue 11, item 4): to a terminal, no live controls; to a pipe, exact.

# Bytes that act on a terminal: ESC and every other C0 but tab and line feed, DEL, C1 (as
# UTF-8), bidi controls, invisible characters and line separators.
LIVE = re.compile(
    "["
    + "".join(
        re.escape(chr(code))
        for code in (*C0, DEL, *C1, *BIDI, *INVISIBLE, *SEPARATORS)
        if chr(code) not in "\t\n\r"
    )
    + "]|\r(?!\n)"
)


def run_on_terminal(url: str, *args: str) -> tuple[int, bytes]:
    """The installed ``accessguard --db URL ARGS...`` with a pty as its stdout and stderr:
    its exit status and what the terminal showed."""
    terminal = Terminal(url, *args, fresh=True)
    try:
        status = terminal.wait()
    finally:
        terminal.close()
    return status, bytes(terminal.output)


def run_piped(url: str, *args: str) -> Ran:
    """The installed ``accessguard --db URL ARGS...`` with pipes for its stdin (empty),
    stdout and stderr."""
    command = [accessguard(), "--db", url, *args]
    return Ran.of(subprocess.run(command, input=b"", capture_output=True, timeout=60, check=False))


ENTITIES = ("users", "products")
COMMANDS = [
    *((entity, "list", "--format", fmt) for entity in ENTITIES for fmt in ("table", "csv", "json")),
    *(("export", entity, "--format", fmt) for entity in ENTITIES for fmt in ("csv", "json")),
]


def test_cli_output_to_a_terminal_carries_no_live_controls(stored_payloads: str) -> None:
    outputs: dict[str, str] = {}
    for command in COMMANDS:
        done = in_process("--db", stored_payloads, *command, stdout="terminal", stderr="terminal")
        assert done.status == 0, done.shown
        outputs[" ".join(command)] = done.shown
    for ran, shown in outputs.items():
        live = sorted({f"U+{ord(ch[0]):04X}" for ch in LIVE.findall(shown)})
        assert live == [], f"{ran}: {live} reached the terminal"
    # The stored text is still there, made visible (csv, table) or escaped (json).
    assert "␛]0;PWN" in outputs["users list --format csv"]
    assert "␛]0;PWN" in outputs["users list --format table"]
    assert "\\u001b]0;PWN" in outputs["export products --format json"]
    assert "\\u009b" in outputs["export products --format json"]


def test_piped_cli_output_is_exact_and_json_escapes_c1_and_bidi(
    stored_payloads: str, tmp_path: Path
) -> None:
    url = normalise_url(stored_payloads)
    db = Database.connect(url)
    try:
        stored = {
            entity: list(db.table(entity).stream(PageRequest())) for entity in ("users", "products")
        }
        for entity in ("users", "products"):
            piped: dict[str, bytes] = {}
            for fmt in ("csv", "json"):
                expected = io.StringIO(newline="")
                export_records(db, entity, expected, fmt=fmt)
                for command in (
                    ("export", entity, "--format", fmt),
                    (entity, "list", "--format", fmt),
                ):
                    ran = in_process("--db", stored_payloads, *command)
                    assert ran.status == 0, ran.err
                    # Exactly what the data core writes to a file, byte for byte.
                    assert ran.stdout == expected.getvalue().encode("utf-8"), command
                    piped[" ".join(command)] = ran.stdout
            text = piped[f"export {entity} --format json"].decode("utf-8")
            raw = sorted({f"U+{ord(ch):04X}" for ch in LIVE.findall(text) if ch not in "\r"})
            assert raw == [], f"{entity} json holds raw {raw}"
            # ... and reads back as the same values.
            parsed = json.loads(text)
            for record, item in zip(stored[entity], parsed, strict=True):
                assert item["name"] == record.name
                if entity == "products":
                    assert item["description"] == record.description
    finally:
        db.dispose()


def test_piped_csv_and_json_round_trip_through_import(database_url: URL, tmp_path: Path) -> None:
    # What import accepts that a terminal must not obey: bidi overrides, zero-width
    # characters, tabs and line breaks in a description, a formula's first character.
    names = ["\u202eevil.exe\u202c txt", "adm\u200bin", "=1+2", "Zoë 👨‍👩‍👧"]
    descriptions = ["line\nbreak\tand tab", "\u2066iso\u2069", "", "@SUM(A1)\n"]
    with migrated(database_url) as db:
        for number, (name, description) in enumerate(zip(names, descriptions, strict=True)):
            db.products.create(
                {"sku": f"RT-{number}", "name": name, "description": description, "price": "1.00"},
                actor=Actor("t"),
            )
        before = [(p.sku, p.name, p.description) for p in db.products.stream(PageRequest())]
    url = cli_url(database_url)
    for fmt in ("csv", "json"):
        exported = in_process("--db", url, "export", "products", "--format", fmt)
        assert exported.status == 0, exported.err
        (tmp_path / f"products.{fmt}").write_bytes(exported.stdout)
        if fmt == "json":
            assert "\u202e".encode() not in exported.stdout
            assert b"\\u202e" in exported.stdout
        # Read back into the same database: every row unchanged.
        again = in_process(
            "--db", url, "import", "products", "-", "--format", fmt, stdin=exported.stdout
        )
        assert again.status == 0, again.err
        assert b"0 added, 0 updated, 4 unchanged, 0 refused" in again.stdout, again.stdout
    with migrated(database_url) as db:
        after = [(p.sku, p.name, p.description) for p in db.products.stream(PageRequest())]
    assert after == before


def test_in_process_runs_write_what_the_installed_command_writes(tmp_path: Path) -> None:
    """The tests above run the command line in this process (`in_process`): the same bytes
    as the installed ``accessguard`` in a child, into a pipe and onto a terminal, prove that
    shortcut (one backend: what is checked is the process's streams, not the database)."""
    command = ("export", "users", "--format", "json")
    with fresh_database("sqlite", tmp_path, prefix="ag_input") as db:
        store_with_client("sqlite", db)
        url = cli_url(db.engine.url)
        piped = run_piped(url, *command)
        assert piped.status == 0, piped.err
        assert "\\u001b]0;PWN" in piped.out  # the stored payloads are in it, escaped
        assert in_process("--db", url, *command) == piped
        status, shown = run_on_terminal(url, *command)
        assert status == 0, shown
        assert b"\\u001b]0;PWN" in shown
        here = in_process("--db", url, *command, stdout="terminal", stderr="terminal")
        assert (here.status, here.terminal) == (status, shown)
