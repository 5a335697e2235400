"""Issue 11, items 1 and 8: the SQLite file is exactly the one the admin named, and it is still
that file when AccessGuard writes.

1. A name holding what a URI gives a meaning to (``#``, ``?``, ``%41``, ``%``, spaces,
   brackets, non-ASCII, a leading ``file:``) opens exactly that file, by a relative or an
   absolute URL, through ``db upgrade``, ``seed``, the commands, ``--demo`` and the console,
   read-write and read-only alike: no other file is opened or created, and read-only
   writes are refused by the database. A ``?`` that is no option is refused, not dropped.
8. The file deleted, moved aside or replaced (another database moved over it) while a
   command or the console has it open: the write is refused ("Database file replaced ...
   not saved"), nothing lands in the unlinked file or the newcomer, the newcomer passes
   ``PRAGMA integrity_check`` unchanged, and the console's form keeps the admin's edits (put
   the file back, and the same form saves them).

All of it is about SQLite's own files, so it runs on SQLite only. The console runs on a
pseudo-terminal and the commands that hold a file open or race its removal run as the
installed ``accessguard`` in a child; the 72 commands of item 1's names run through the
command line's own ``main`` in this process (the same parsing and opening, no start-up each).
"""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.cli_support import Ran, in_process
from tests.reliability.support_local_faults import SqlShell
from tests.reliability.support_signals import (
    TRACEBACK_MARKERS,
    PtyConsole,
    plain,
    poll,
    sqlite_integrity,
)
from tests.reliability.support_sqlite_file import (
    HOSTILE_NAMES,
    cli,
    folder,
    has_open,
    start_cli,
    url_for,
    users,
)

READ_ONLY_REFUSAL = "Read-only: This connection is read-only: the database refused the write"
ADD = ("users", "add", "--role", "viewer")


def cli_here(argv: Sequence[str], *, cwd: Path) -> Ran:
    """The command line's own `main` in this process, in ``cwd``: the same parsing of the
    URL and opening of the file as the installed command, without a Python start each (the
    hostile names run 72 commands). What is a process's own keeps `cli`."""
    ran = in_process(*argv, cwd=cwd)
    assert "Traceback" not in ran.err, ran.err
    return ran


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_file_name_opens_exactly_that_file_read_write_and_read_only(
    tmp_path: Path, name: str
) -> None:
    """Item 1 through the command line: db upgrade by a relative URL, seed by an absolute
    one, an add by each, then read-only adds (refused by the database) and a read-only list
    by each. Only the named file (and, after read-only, SQLite's -wal and -shm beside it)
    is ever in the folder, and it holds exactly what the writes put there."""
    here = tmp_path / "here"
    here.mkdir()
    path = here / name
    relative, absolute = url_for(name), url_for(path)

    assert cli_here(["--db", relative, "db", "upgrade"], cwd=here).status == 0
    assert folder(here) == [name]
    seeded = cli_here(["--db", absolute, "seed", "--users", "3", "--products", "2"], cwd=tmp_path)
    assert seeded.status == 0, seeded.err
    for url, cwd, email in ((relative, here, "rel@example.com"), (absolute, tmp_path, "abs@x.org")):
        added = cli_here(["--db", url, *ADD, "--name", "Added", "--email", email], cwd=cwd)
        assert added.status == 0, added.err
    assert folder(here) == [name]
    stored = users(path)
    assert len(stored) == 5
    assert stored[-2:] == [("rel@example.com", "Added"), ("abs@x.org", "Added")]

    for url, cwd in ((relative, here), (absolute, tmp_path)):
        refused = cli_here(
            ["--read-only", "--db", url, *ADD, "--name", "No", "--email", "no@x.org"], cwd=cwd
        )
        assert refused.status == 1, refused.err
        assert READ_ONLY_REFUSAL in refused.err
        assert "not saved" in refused.err
        listed = cli_here(["--read-only", "--db", url, "users", "list"], cwd=cwd)
        assert listed.status == 0, listed.err
        assert "rel@example.com" in listed.out
        assert "abs@x.org" in listed.out
    # A read-only connection to a WAL database keeps SQLite's -shm (and an empty -wal).
    assert folder(here) == [name, f"{name}-shm", f"{name}-wal"]
    assert (here / f"{name}-wal").stat().st_size == 0
    assert folder(tmp_path) == ["here"]
    assert users(path) == stored
    assert sqlite_integrity(path) == "ok"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///a?b.db",
        "sqlite:///a.db?",
        "sqlite:///file:a.db?mode=ro&uri=true",
        "sqlite:///a.db?mode=rwc",
        "sqlite:///a.db?cache=shared",
        "sqlite:///a.db?uri=true",
    ],
)
def test_a_question_mark_or_sqlite_option_in_the_url_is_refused_and_creates_nothing(
    tmp_path: Path, url: str
) -> None:
    """Item 1: SQLAlchemy drops a query part with no ``=``, so ``sqlite:///a?b.db`` used to
    open (and create) ``a``; SQLite URI options would override what AccessGuard decides.
    Both are bad usage (exit 2) saying how to write a ``?``, in either mode, and no file
    appears."""
    for mode in ([], ["--read-only"]):
        ran = cli([*mode, "--db", url, *ADD, "--name", "N", "--email", "n@x.org"], cwd=tmp_path)
        assert ran.status == 2, ran.err
        assert "Bad database URL" in ran.err, ran.err
        assert "%3F" in ran.err, ran.err
    assert folder(tmp_path) == []


def test_the_console_opens_exactly_a_hostile_name_with_demo_and_read_only(tmp_path: Path) -> None:
    """Item 1 through the console: ``--demo`` creates and fills exactly the file with every
    awkward character in its name; ``--read-only`` then shows that file's rows; nothing
    else appears in the folder."""
    name = HOSTILE_NAMES[-1]
    path = tmp_path / name
    url = url_for(path)
    for options in (["--demo"], ["--read-only"]):
        shell = PtyConsole(url, options=options)
        try:
            shell.expect("Row 1 of", seconds=60)
            if options == ["--read-only"]:
                shell.expect(f"Row 1 of {len(users(path)):,}")
            shell.press(b"q")
            status = shell.wait(15)
        finally:
            shell.kill()
        assert os.WIFEXITED(status), shell.screen_text[-800:]
        assert os.WEXITSTATUS(status) == 0, shell.screen_text[-800:]
        if options == ["--demo"]:
            assert folder(tmp_path) == [name]
            assert len(users(path)) > 0
    # The read-only console's first rows come from data.first_page; a q on them may end it
    # before its data core has opened the file too, which would leave the -shm and -wal.
    assert folder(tmp_path) in ([name], [name, f"{name}-shm", f"{name}-wal"])
    assert sqlite_integrity(path) == "ok"


# Item 8


class Swap:
    """One way the file goes away under an open AccessGuard, and the way to put it back.

    ``keep`` is a second hard link to the original, so "deleted" is a true unlink of the
    path while the test can still give the same file back; ``newcomer`` is another valid
    AccessGuard database, moved over the path in the "replace" case.
    """

    def __init__(self, way: str, path: Path) -> None:
        self.way = way
        self.path = path
        self.keep = path.with_name("keep.db")
        self.newcomer = path.with_name("newcomer.db")
        os.link(path, self.keep)

    def away(self) -> None:
        """Delete, move aside, or replace the file at the path."""
        if self.way == "delete":
            self.path.unlink()
        elif self.way == "rename":
            self.path.rename(self.path.with_name("moved.db"))
        else:
            self.newcomer.rename(self.path)

    def back(self) -> None:
        """Put the original file back at the path (the newcomer goes back to its name)."""
        if self.way == "replace":
            self.path.rename(self.newcomer)
        elif self.way == "rename":
            self.path.with_name("moved.db").unlink()  # the keep link holds the file
        os.link(self.keep, self.path)


WAYS = ("delete", "rename", "replace")
REFUSED = {
    "delete": "was deleted or moved since it was opened; not saved",
    "rename": "was deleted or moved since it was opened; not saved",
    "replace": "was replaced since it was opened (another file is at that path now); not saved",
}


def _two_databases(tmp_path: Path) -> tuple[Path, Path]:
    """The admin's database (3 users) and another valid one (4 users), both by the CLI."""
    path, newcomer = tmp_path / "shop #1 [é].db", tmp_path / "newcomer.db"
    for where, count in ((path, "3"), (newcomer, "4")):
        seeded = cli(
            ["--db", url_for(where), "seed", "--users", count, "--seed", count], cwd=tmp_path
        )
        assert seeded.status == 0, seeded.err
    return path, newcomer


@pytest.mark.parametrize("way", WAYS)
def test_a_command_writing_after_its_file_was_deleted_moved_or_replaced_is_refused(
    tmp_path: Path, way: str
) -> None:
    """Item 8 for the command line. ``users add`` opens the file and waits for the write
    lock, held by the sqlite3 tool (whose last change is still in the -wal); meanwhile the
    file is deleted, moved aside or replaced; then the lock is released. The add is refused
    (exit 1) saying what happened, the user is in no file, the original holds its users
    and the sqlite3 change, and the newcomer is unchanged and sound."""
    path, newcomer = _two_databases(tmp_path)
    ours, theirs = users(path), users(newcomer)
    swap = Swap(way, path)
    with SqlShell(["sqlite3", "-batch", str(path)]) as holder:
        # A committed change that stays in the -wal (the -wal is named after the path).
        holder.query("UPDATE users SET name = 'Held by sqlite3' WHERE id = 1; BEGIN IMMEDIATE;")
        argv = ["--db", f"{url_for(path)}?timeout=60", *ADD, "--name", "Late", "--email", "l@x.org"]
        adding = start_cli(argv, cwd=tmp_path)
        try:
            poll(lambda: has_open(adding.pid, path), seconds=30, what="the add never opened it")
            swap.away()
            holder.query("ROLLBACK;")
            _out, err = adding.communicate(timeout=60)
        finally:
            if adding.poll() is None:
                adding.kill()
                adding.wait()
    assert adding.returncode == 1, err
    assert "Database file replaced" in err, err
    assert REFUSED[way] in err, err
    assert "Traceback" not in err

    if way != "replace":
        assert not path.exists(), "a file was created at the old path"
    # The original never holds the late add, and stays sound. Its own last change is moved
    # home from the -wal when the refusal's checkpoint can run at once; the refusal does not
    # wait for other connections, so under load the change may stay in the -wal at the old
    # name (a known limit in docs/guarantees.md): one of the two, never the late add.
    # Read through the keep link first: its -wal has a name of its own, none.
    moved_home = [(ours[0][0], "Held by sqlite3"), *ours[1:]]
    kept = users(swap.keep)
    assert kept in (moved_home, ours)
    assert sqlite_integrity(swap.keep) == "ok"
    if way == "replace":
        # The newcomer's own file is untouched either way (read without any -wal).
        assert users(path, immutable=True) == theirs, "the newcomer changed"
        if kept == ours:
            # The known limit: the old file's change waits in the -wal at the newcomer's
            # name, for whoever opens the newcomer next. Opening it here would apply it.
            assert (tmp_path / f"{path.name}-wal").stat().st_size > 0
            return
        assert users(path) == theirs, "the newcomer read the old file's pages"
        assert sqlite_integrity(path) == "ok"
        assert folder(tmp_path) == ["keep.db", path.name]
        return
    # SQLite leaves a moved file's -wal and -shm at the old name (it never removes them
    # by a name that may be someone else's now); when the change moved home, the refusal
    # emptied the -wal: no page of the old file waits there for a database made at that path.
    moved = ["moved.db"] if way == "rename" else []
    wal, shm = f"{path.name}-wal", f"{path.name}-shm"
    assert folder(tmp_path) == sorted(["keep.db", *moved, "newcomer.db", wal, shm])
    if kept == moved_home:
        assert (tmp_path / wal).stat().st_size == 0


@pytest.mark.parametrize("way", WAYS)
def test_a_console_save_after_its_file_was_deleted_moved_or_replaced_is_refused_and_kept(
    tmp_path: Path, way: str
) -> None:
    """Item 8 for the console, on a real terminal. The admin edits a user's name; the file
    is deleted, moved aside or replaced; ctrl+s is refused with "Database file replaced" and
    the console runs on with the form open. Once the same file is back at the path, ctrl+s
    in that same form saves the edit into it: once, nowhere else, the newcomer unchanged."""
    path, newcomer = _two_databases(tmp_path)
    ours, theirs = users(path), users(newcomer)
    swap = Swap(way, path)
    shell = PtyConsole(url_for(path))
    try:
        shell.expect("Row 1 of 3")
        shell.expect(ours[0][0])
        shell.press(b"e")
        shell.expect("Save (ctrl+s)")
        shell.press(b"Edited In Form")  # the name field starts selected: replaced
        swap.away()
        mark = len(shell.output)
        shell.press(b"\x13")
        shell.expect("Database file replaced", after=mark)
        refusal = plain(shell.output[mark:])
        swap.back()
        mark = len(shell.output)
        shell.press(b"\x13")
        shell.expect("Saved ", after=mark)
        shell.send(signal.SIGTERM)
        status = shell.wait(10)
    finally:
        shell.kill()
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == 128 + signal.SIGTERM
    assert not any(marker in refusal for marker in TRACEBACK_MARKERS), refusal

    saved = users(path)
    assert saved[0] == (ours[0][0], "Edited In Form")
    assert saved[1:] == ours[1:]
    assert _audited_updates(path) == 1
    assert sqlite_integrity(path) == "ok"
    assert users(newcomer) == theirs
    assert sqlite_integrity(newcomer) == "ok"
    assert folder(tmp_path) == ["keep.db", "newcomer.db", path.name]


def _audited_updates(path: Path) -> int:
    """How many audit entries record an update in the file ``path``."""
    connection = sqlite3.connect(str(path))
    try:
        return int(
            connection.execute(
                "SELECT count(*) FROM audit_entries WHERE action = 'update'"
            ).fetchone()[0]
        )
    finally:
        connection.close()
