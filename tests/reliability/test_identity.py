"""Identity at the edges: who made a change, and which record an audit entry is about.

- The operator is the name of the process's real uid, whatever ``USER`` and ``LOGNAME``
  say; ``SUDO_USER`` counts only under real sudo; on PostgreSQL and MariaDB every entry
  also records the database login, written by that login's own session.
- Ids are never given out twice, on every backend. A record that took an id some other
  way (before migration 0005, or written by another program) is never the target of an
  old entry's restore or undo, nor of a restored reference.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from data.actor import Actor
from data.errors import NotRestorable
from data.records import PageRequest
from tests import preloaded
from tests.reliability.support_input import accessguard, cli_url, migrated, raw_user, stored
from tests.reliability.support_local_faults import run_cli, shared_directory
from tests.reliability.support_security import server_account

CLI_SECONDS = 60
ROOT_ONLY = pytest.mark.root("setuid", "setgid", why="runs a child as another user")
SERVERS = pytest.mark.parametrize("database_url", ["postgresql", "mysql"], indirect=True)
NOBODY = pwd.getpwnam("nobody")


def _cli(url: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed command line as a separate process, with exactly ``env``'s variables
    (and the interpreter's own start-up ones, LANG and PYTHON*: it is forked from the
    preloaded server, whose interpreter they made)."""
    return preloaded.run(
        [accessguard(), "--db", url, *args],
        env={
            **preloaded.startup_environment(),
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=CLI_SECONDS,
        check=False,
    )


def _newest_entry(url: URL) -> tuple[str, str | None, str, str | None]:
    """(os_user, sudo_user, actor, db_login) of the newest audit entry."""
    with migrated(url) as db:
        entry = db.audit.page(PageRequest(limit=1)).records[0]
        row = stored(db, "SELECT sudo_user FROM audit_entries WHERE id = :id", id=entry.id)
        os_user = stored(db, "SELECT os_user FROM audit_entries WHERE id = :id", id=entry.id)
        return os_user[0], row[0], entry.actor, entry.db_login


# The operator


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_lying_environment_does_not_name_the_operator(database_url: URL) -> None:
    url = cli_url(database_url)
    me = pwd.getpwuid(os.getuid()).pw_name
    with migrated(database_url):
        pass
    lies = {"USER": "mallory", "LOGNAME": "mallory", "SUDO_USER": "mallory", "SUDO_UID": "0"}
    added = _cli(url, "users", "add", "--name", "Eve", "--email", "eve@example.com", env=lies)
    assert added.returncode == 0, added.stderr
    assert _newest_entry(database_url)[:3] == (me, None, me)

    # What real sudo sets (a name and uid the password database agrees with) counts only
    # when the process runs as root.
    sudo = {"USER": "root", "SUDO_USER": "nobody", "SUDO_UID": str(NOBODY.pw_uid)}
    added = _cli(url, "users", "add", "--name", "Sue", "--email", "sue@example.com", env=sudo)
    assert added.returncode == 0, added.stderr
    if os.geteuid() == 0:
        assert _newest_entry(database_url)[:3] == (me, "nobody", f"{me} (sudo: nobody)")
    else:
        assert _newest_entry(database_url)[:3] == (me, None, me)


@ROOT_ONLY
def test_another_uid_is_recorded_as_itself_and_its_sudo_claim_is_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `runuser -u nobody` cannot run this venv's interpreter (it lives under root's 0700
    # home), so the command line runs in a forked child that drops to nobody's uid.
    for name, value in {"USER": "root", "LOGNAME": "root", "SUDO_USER": "root"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SUDO_UID", "0")  # agrees with the password file: still not sudo
    with shared_directory() as directory:
        path = directory / "shared.db"
        database_url = URL.create("sqlite", database=str(path))
        with migrated(database_url):
            pass  # closed: no -wal / -shm left behind owned by root
        path.chmod(0o666)
        run = run_cli(
            ["--db", f"sqlite:///{path}", "users", "add", "--name", "No", "--email", "n@x.org"],
            user="nobody",
        )
        assert run.status == 0, run
        assert _newest_entry(database_url)[:3] == ("nobody", None, "nobody")


@SERVERS
def test_every_entry_records_the_database_login_that_wrote_it(
    database_url: URL, tmp_path: Path
) -> None:
    backend = database_url.get_backend_name()
    with migrated(database_url) as db:
        db.users.create({"name": "Admin", "email": "admin@example.com"}, actor=Actor("ops"))
        admin_login = db.audit.page(PageRequest(limit=1)).records[0].db_login
    assert admin_login == ("postgres" if backend == "postgresql" else "root@127.0.0.1")
    with server_account(database_url, read_only=False) as login:
        url = cli_url(login)
        added = _cli(url, "users", "add", "--name", "Lin", "--email", "lin@example.com", env={})
        assert added.returncode == 0, added.stderr
        source = tmp_path / "users.json"
        source.write_text(json.dumps([{"name": "Imp", "email": "imp@example.com"}]))
        imported = _cli(url, "import", "users", str(source), env={})
        assert imported.returncode == 0, imported.stderr
    expected = login.username if backend == "postgresql" else f"{login.username}@%"
    with migrated(database_url) as db:
        logins = stored(db, "SELECT db_login FROM audit_entries ORDER BY id")
        entries = db.audit.page(PageRequest(limit=1)).records
    # The admin's create, then the login's create, its import's create and its summary.
    assert logins == [admin_login, expected, expected, expected]
    assert entries[0].db_login == expected


# Ids


def test_a_record_on_a_reused_id_is_never_restored_undone_or_given_a_product(
    database_url: URL,
) -> None:
    alice = Actor("alice", source="console:a")
    bob = Actor("bob", source="cli")
    with migrated(database_url) as db:
        ann = db.users.create({"name": "Ann", "email": "ann@example.com"}, actor=alice)
        tent = db.products.create(
            {"sku": "T-1", "name": "Tent", "price": "80.00", "owner": ann.id}, actor=alice
        )
        db.users.update(ann.id, {"name": "Ann B"}, expected_version=1, actor=alice)
        renamed = db.audit.page(PageRequest(limit=1)).records[0].id
        db.products.update(tent.id, {"name": "Tarp", "owner": None}, expected_version=1, actor=bob)
        handed_over = db.audit.page(PageRequest(limit=1)).records[0].id
        db.users.delete(ann.id, expected_version=2, actor=bob)
        deleted = db.audit.page(PageRequest(limit=1)).records[0].id

        # Ann was the newest user: the next one still gets a new id, and so does the next
        # after that one is deleted too.
        ben = db.users.create({"name": "Ben", "email": "ben@example.com"}, actor=bob)
        assert ben.id > ann.id
        db.users.delete(ben.id, expected_version=1, actor=bob)
        cy = db.users.create({"name": "Cy", "email": "cy@example.com"}, actor=bob)
        assert cy.id > ben.id

        # Another program puts a stranger under Ann's old id (as SQLite did before 0005).
        raw_user(db, ann.id, "Mallory", "mallory@example.com")
        stranger = db.users.get(ann.id)
        entries = db.audit.count()

        for entry_id in (renamed, deleted):
            with pytest.raises(NotRestorable, match=f"User {ann.id} is not the user") as refused:
                db.audit.restore_plan(entry_id)
            assert "another user has its id" in refused.value.message
            with pytest.raises(NotRestorable, match="Nothing was changed"):
                db.audit.restore(entry_id, actor=alice, expected_version=stranger.version)
        with pytest.raises(NotRestorable, match=f"User {ann.id} is not the user"):
            db.audit.undo_last(actor=alice)
        assert db.users.get(ann.id) == stranger
        assert db.audit.count() == entries

        # The product goes back to its old name, but not to the stranger: its owner then
        # was Ann, who is gone.
        plan = db.audit.restore_plan(handed_over)
        assert plan.changes == (("name", "Tarp", "Tent"),)
        db.audit.restore(handed_over, actor=alice, expected_version=plan.version)
        back = db.products.get(tent.id)
        assert (back.name, back.owner_id) == ("Tent", None)
        assert db.users.get(ann.id) == stranger
