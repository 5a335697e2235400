"""Trust at the edges of export and import (issue 11, items 6 and 11), with the real
command line in child processes on SQLite, PostgreSQL and MariaDB.

Export replaces only a regular file: a symbolic link (to a file, or dangling), a FIFO, a
folder or a device at the target is refused naming it, and left as it was; a signal in the
middle of an export leaves no temporary file. A hostile import file (numbers of thousands
of digits, nesting 100,000 deep, keys differing only in case or spaces, bytes that are not
UTF-8, NUL bytes, a header and nothing else, a 17 MB line, a JSON top level that is not an
array) is refused naming the row and field, exit 1, nothing written, never an "unexpected
error". The hostile files go through the command line's own `main` in this process (the
reader and the refusal are the same; ~130 runs would otherwise each start a Python): the
edges that are a process's own (a pipe on stdin, a signal, another user) keep their child.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from data.actor import Actor
from data.database import Database
from data.records import PageRequest
from tests import preloaded
from tests.cli_support import in_process
from tests.conftest import BACKENDS
from tests.reliability.support_input import accessguard, cli_url, stored
from tests.reliability.support_local_faults import SqlShell, run_cli, shared_directory
from tests.reliability.support_signals import poll

CLI_SECONDS = 120.0
HOLD_SECONDS = 30.0


def run(url: URL, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed command line against ``url``, in a child process."""
    return preloaded.run(
        [accessguard(), "--db", cli_url(url), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_SECONDS,
        check=False,
    )


def counts(db: Database) -> tuple[int, int, int]:
    """Users, products and audit entries stored."""
    return (
        stored(db, "SELECT count(*) FROM users")[0],
        stored(db, "SELECT count(*) FROM products")[0],
        stored(db, "SELECT count(*) FROM audit_entries")[0],
    )


def temp_files(folder: Path) -> list[str]:
    """Export temporary files left in ``folder``."""
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


# 6. Export replaces only a regular file


@dataclass(frozen=True)
class Target:
    """Something other than a regular file at an export's target, and how to make it."""

    name: str
    what: str
    make: Callable[[Path], Path]


def _symlink_to_file(folder: Path) -> Path:
    (folder / "precious.csv").write_text("precious\n", encoding="utf-8")
    (folder / "out.csv").symlink_to(folder / "precious.csv")
    return folder / "out.csv"


def _dangling(folder: Path) -> Path:
    (folder / "out.csv").symlink_to(folder / "nowhere.csv")
    return folder / "out.csv"


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "out.csv")
    return folder / "out.csv"


def _folder(folder: Path) -> Path:
    (folder / "out.csv").mkdir()
    return folder / "out.csv"


def _device(folder: Path) -> Path:
    if os.geteuid() != 0:
        return Path("/dev/null")  # the real one: it must still be a device afterwards
    os.mknod(folder / "out.csv", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return folder / "out.csv"


TARGETS = (
    Target("symlink-to-file", "is a symbolic link to", _symlink_to_file),
    Target("dangling-symlink", "which does not exist", _dangling),
    Target("fifo", "is a FIFO (named pipe)", _fifo),
    Target("folder", "is a folder", _folder),
    Target("device", "is a character device", _device),
)


def _state(path: Path) -> tuple[int, int, int, str | None, list[str] | None]:
    """What is at ``path`` (not following a link): mode, device, inode, link, listing."""
    found = os.lstat(path)
    link = os.readlink(path) if stat.S_ISLNK(found.st_mode) else None
    listing = sorted(os.listdir(path)) if stat.S_ISDIR(found.st_mode) else None
    return found.st_mode, found.st_rdev, found.st_ino, link, listing


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_export_refuses_every_target_but_a_regular_file(
    db: Database, database_url: URL, tmp_path: Path, actor: Actor, target: Target
) -> None:
    db.users.create({"name": "Amara", "email": "amara@example.org"}, actor=actor)
    path = target.make(tmp_path)
    before = _state(path)
    precious = (tmp_path / "precious.csv").read_bytes() if target.name == "symlink-to-file" else b""

    done = run(database_url, "export", "users", "-o", str(path), cwd=tmp_path)

    assert done.returncode == 1, done.stderr
    assert str(path) in done.stderr
    assert target.what in done.stderr
    assert "replaces only a regular file" in done.stderr
    assert "unexpected error" not in done.stderr
    assert _state(path) == before
    if target.name == "symlink-to-file":
        assert (tmp_path / "precious.csv").read_bytes() == precious
    if target.name == "device":
        assert stat.S_ISCHR(os.lstat(path).st_mode)
    assert temp_files(path.parent) == []


def test_export_over_a_hard_link_replaces_only_this_name(
    db: Database, database_url: URL, tmp_path: Path, actor: Actor
) -> None:
    db.users.create({"name": "Amara", "email": "amara@example.org"}, actor=actor)
    (tmp_path / "other.csv").write_text("someone else's\n", encoding="utf-8")
    os.link(tmp_path / "other.csv", tmp_path / "out.csv")

    done = run(database_url, "export", "users", "-o", "out.csv", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "amara@example.org" in (tmp_path / "out.csv").read_text(encoding="utf-8")
    assert (tmp_path / "other.csv").read_text(encoding="utf-8") == "someone else's\n"
    assert temp_files(tmp_path) == []


def _hold_reads(url: URL, shell: SqlShell) -> tuple[str, str]:
    """Make ``shell`` block every read of users; return the SQL that shows a session
    waiting for it, and the SQL that lets the reads go."""
    if url.get_backend_name() == "postgresql":
        shell.query("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE;")
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock';"
        )
        return waiting, "COMMIT;"
    shell.query("LOCK TABLES users WRITE;")
    waiting = (
        "SELECT count(*) FROM information_schema.processlist WHERE db = DATABASE() "
        "AND state LIKE 'Waiting for table metadata lock';"
    )
    return waiting, "UNLOCK TABLES;"


# Servers only: SQLite readers never wait for a lock in WAL mode (and its busy wait handles no
# signal), so the export is held by a server's table lock; the cleanup code is the same.
@pytest.mark.parametrize("database_url", ["postgresql", "mysql"], indirect=True)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_during_an_export_leaves_no_temporary_file(
    db: Database, database_url: URL, tmp_path: Path, actor: Actor, signum: signal.Signals
) -> None:
    db.users.create({"name": "Amara", "email": "amara@example.org"}, actor=actor)
    target = tmp_path / "users.csv"
    target.write_text("the older export\n", encoding="utf-8")
    with SqlShell.for_url(database_url) as holder:
        waiting, release = _hold_reads(database_url, holder)
        export = preloaded.Child(
            [accessguard(), "--db", cli_url(database_url), "export", "users", "-o", "users.csv"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # The temporary file is open and the export waits for its first rows.
            poll(lambda: temp_files(tmp_path) != [], seconds=HOLD_SECONDS, what="a temp file")
            poll(lambda: holder.value(waiting) == "1", seconds=HOLD_SECONDS, what="a wait")
            export.send_signal(signum)
            holder.query(release)
            _out, err = export.communicate(timeout=CLI_SECONDS)
        finally:
            if export.poll() is None:
                export.kill()
                export.wait()
    assert export.returncode == 128 + signum, err
    assert f"export stopped by {signum.name}" in err
    assert "Traceback" not in err
    assert temp_files(tmp_path) == []
    assert target.read_text(encoding="utf-8") == "the older export\n"


# 11. Hostile import files get a clear refusal


@dataclass(frozen=True)
class Hostile:
    """A hostile import file: its name, bytes, and what stderr must say."""

    name: str
    content: bytes
    says: tuple[str, ...]


HEADER = b"sku,name,description,price,stock\n"
DEEP = 100_000
BIG = 17 * 1024 * 1024

HOSTILE = (
    Hostile("digits.csv", HEADER + b"H-1,Pot,," + b"9" * 5000 + b",1\n", ("line 2: price:",)),
    Hostile(
        "digits.json",
        b'[{"sku": "H-1", "name": "Pot", "price": "1", "stock": ' + b"9" * 5000 + b"}]",
        ("object 1: stock:",),
    ),
    Hostile(
        "decimal.json",
        b'[{"sku": "H-1", "name": "Pot", "price": 1.' + b"5" * 5000 + b"}]",
        ("object 1: price:",),
    ),
    Hostile(
        "deep.json",
        b'[{"sku": "H-1", "name": ' + b"[" * DEEP + b"]" * DEEP + b', "price": "1"}]',
        ("object 1 (line 1): field 'name': is nested too deeply",),
    ),
    Hostile(
        "case-keys.json",
        b'[{"sku": "H-1", "name": "Pot", "NAME ": "Pan", "price": "1"}]',
        ("object 1: name: appears twice in the object", "'name'", "'NAME '"),
    ),
    Hostile(
        "case-keys.csv",
        b"sku,name,price, Name\nH-1,Pot,1,Pan\n",
        ("line 1: column 'name' appears twice in the header",),
    ),
    Hostile(
        "not-utf8.csv",
        HEADER + b"H-1,Pot,,1,1\nH-2,P\xffn,,1,1\n",
        ("line 3: field 'name': is not UTF-8 text (byte 0xff)",),
    ),
    Hostile(
        "not-utf8.json",
        b'[{"sku": "H-1",\n "name": "P\xc3n", "price": "1"}]',
        ("object 1 (line 2): field 'name': is not UTF-8 text",),
    ),
    Hostile("nul.csv", HEADER + b"H-1,P\x00t,,1,1\n", ("line 2: field 'name': holds a NUL byte",)),
    Hostile(
        "nul.json",
        b'[{"sku": "H-1", "name": "P\x00t", "price": "1"}]',
        ("object 1 (line 1): field 'name': holds a NUL byte",),
    ),
    Hostile("header-only.csv", HEADER, ("line 1: the header names the columns but no rows",)),
    Hostile("empty-array.json", b"[]", ("line 1: the array holds no objects",)),
    Hostile(
        "bom-header-only.csv",
        b"\xef\xbb\xbf" + HEADER,
        ("line 1: the header names the columns but no rows",),
    ),
    Hostile(
        "long-line.csv",
        HEADER + b"H-1," + b"x" * BIG + b",,1,1\n",
        ("line 2: field 'name': is longer than 16,777,216 characters",),
    ),
    Hostile(
        "long-field.csv",
        HEADER + b'H-1,Pot,"' + b"ab\n" * (BIG // 3) + b'",1,1\n',
        ("line 2: field 'description': is longer than 16,777,216 characters",),
    ),
    Hostile(
        "long-value.json",
        b'[{"sku": "H-1", "name": "Pot", "description": "' + b"x" * BIG + b'"}]',
        ("object 1 (line 1): field 'description': is longer than 16,777,216 characters",),
    ),
    Hostile(
        "object.json",
        b'{"sku": "H-1", "name": "Pot", "price": "1"}',
        ("line 1: must hold a JSON array of objects", "it starts with '{'"),
    ),
    Hostile(
        "nan.json",
        b'[{"sku": "H-1", "name": "Pot", "price": NaN}]',
        ("object 1: price: must be given as text or a Decimal",),
    ),
    Hostile(
        "huge-exponent.json",
        b'[{"sku": "H-1", "name": "Pot", "price": 1e999999999}]',
        ("object 1: price: must be at most",),
    ),
    Hostile(
        "huge-owner-id.csv",
        b"sku,name,price,owner_email\nH-1,Pot,1,99999999999999999999\n",
        ("line 2: owner_email: no user has id 99999999999999999999",),
    ),
    Hostile(
        "huge-owner-id.json",
        b'[{"sku": "H-1", "name": "Pot", "price": "1", "owner_email": 99999999999999999999}]',
        ("object 1: owner_email: no user has id 99999999999999999999",),
    ),
    Hostile(
        "second-bad.json",
        b'[{"sku": "H-1", "name": "Pot", "price": "1"},\n{"sku": "H-2", "name": }]',
        ("object 2 (line 2): field 'name': is not valid JSON",),
    ),
)


# A file of many megabytes is refused while it is read, before any database work, so it runs
# on SQLite only: on the servers it would take the same path for a minute more of CI.
BIG = 1 << 20
HOSTILE_CASES = [
    pytest.param(backend, hostile, id=f"{backend}-{hostile.name}")
    for hostile in HOSTILE
    for backend in (("sqlite",) if len(hostile.content) > BIG else BACKENDS)
]


@pytest.mark.parametrize(("database_url", "hostile"), HOSTILE_CASES, indirect=["database_url"])
def test_a_hostile_import_file_is_refused_naming_row_and_field(
    db: Database,
    database_url: URL,
    tmp_path: Path,
    actor: Actor,
    hostile: Hostile,
) -> None:
    db.products.create({"sku": "KEEP-1", "name": "Kept", "price": "2.00"}, actor=actor)
    (tmp_path / hostile.name).write_bytes(hostile.content)
    before = counts(db)

    url = cli_url(database_url)
    for dry_run in ((), ("--dry-run",)):
        ran = in_process("--db", url, "import", "products", hostile.name, *dry_run, cwd=tmp_path)
        assert ran.status == 1, (hostile.name, ran.out, ran.err)
        for words in hostile.says:
            assert words in ran.err, (hostile.name, ran.err)
        assert "unexpected error" not in ran.err
        assert counts(db) == before


def test_a_bom_is_not_part_of_the_first_column(
    db: Database, database_url: URL, tmp_path: Path
) -> None:
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + HEADER + b"B-1,Bowl,,3.00,1\n")
    (tmp_path / "bom.json").write_bytes(
        b'\xef\xbb\xbf[{"sku": "B-2", "name": "Box", "price": "4.00"}]'
    )
    for name in ("bom.csv", "bom.json"):
        done = run(database_url, "import", "products", name, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    assert [p.sku for p in db.products.stream(PageRequest())] == ["B-1", "B-2"]


def test_stdin_is_streamed_and_refused_alike(
    db: Database, database_url: URL, tmp_path: Path
) -> None:
    """A pipe cannot be read twice: it is copied to a private temporary file first."""
    before = counts(db)

    def piped(content: bytes) -> subprocess.CompletedProcess[bytes]:
        return preloaded.run(
            [accessguard(), "--db", cli_url(database_url), "import", "products", "-"],
            input=content,
            capture_output=True,
            timeout=CLI_SECONDS,
            check=False,
        )

    done = piped(HEADER + b"S-1,Pot,,1,1\nS-2,P\xffn,,1,1\n")
    assert done.returncode == 1
    assert b"line 3: field 'name': is not UTF-8 text" in done.stderr
    assert counts(db) == before
    good = piped(HEADER + b"S-1,Pot,,1,1\nS-2,Pan,,2,1\n")
    assert good.returncode == 0, good.stderr
    assert [p.sku for p in db.products.stream(PageRequest())] == ["S-1", "S-2"]


@pytest.mark.root("setuid", "setgid", why="runs the CLI as the user nobody")
def test_export_into_a_folder_it_cannot_write_says_so(
    db: Database, database_url: URL, actor: Actor
) -> None:
    """As ``nobody`` (root writes anywhere), into a root-owned 0555 folder: one clear line."""
    db.users.create({"name": "Amara", "email": "amara@example.org"}, actor=actor)
    with shared_directory() as directory:
        locked = directory / "locked"
        locked.mkdir(mode=0o555)
        url = cli_url(database_url)
        if database_url.get_backend_name() == "sqlite":
            # nobody reads the database from a copy of its own in the shared folder
            copy = directory / "copy.db"
            with (
                sqlite3.connect(str(database_url.database)) as source,
                sqlite3.connect(copy) as target,
            ):
                source.backup(target)
            copy.chmod(0o666)
            url = f"sqlite:///{copy}"
        done = run_cli(
            ["--db", url, "export", "users", "-o", str(locked / "users.csv")], user="nobody"
        )
        assert done.status == 1, done
        assert done.says(f"cannot write in the folder '{locked}'", "permission denied"), done
        assert "unexpected error" not in done.stderr
        assert sorted(os.listdir(locked)) == []
