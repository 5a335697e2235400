"""`accessguard --web` answers only the admin's own tab (issue 11, item 2).

The real ``accessguard --web`` runs as a subprocess on a free port over a real SQLite file;
a real aiohttp client plays the attacker: another site's page (cross-site WebSocket
hijacking), a DNS-rebound name, a local process without the token or with a guessed one.
The gate does not depend on the database, so one backend (a file) is enough here.
"""

from __future__ import annotations

import re
import secrets
import socket
import subprocess
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from sqlalchemy import text

from data.database import Database
from tests.console_support import child_console_environment, demo_database
from tests.reliability.support_security import snapshot
from tests.reliability.support_signals import ACCESSGUARD
from tests.reliability.support_web import (
    ABSOLUTE_URL,
    Visit,
    WebServer,
    admin_visit,
    client,
    console_tab,
    get,
    try_to_delete_the_first_user,
    web_server,
)

USERS = 5
ASSET = "/static/js/textual.js"
# OSC 52 (set the clipboard) and a CSI colour, percent-encoded: the refusal logs the path.
ESCAPES = "/%1b%5d52;c;aGk=%07%1b%5b31m"
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Database]:
    """A SQLite file with five demo users and three products."""
    db = demo_database(tmp_path / "web.db", users=USERS, products=3)
    try:
        yield db
    finally:
        db.dispose()


def _served(db: Database) -> AbstractAsyncContextManager[WebServer]:
    """``accessguard --web`` over ``db``'s file, run in its folder."""
    path = Path(str(db.engine.url.database))
    return web_server(f"sqlite:///{path}", cwd=path.parent)


def _guess(token: str) -> str:
    """A token of the right length and alphabet that is not this run's."""
    while (guess := secrets.token_urlsafe(32)) == token:
        pass
    assert len(guess) == len(token)
    return guess


def _attacks(server: WebServer) -> dict[str, Visit]:
    """Every way in that must be refused, each otherwise as the admin's tab would send it."""
    own_host, port, token = f"127.0.0.1:{server.port}", server.port, server.token
    return {
        "another site's page": Visit(own_host, "http://evil.example", token),
        "a WebSocket without Origin": Visit(own_host, None, token),
        "a sandboxed page (Origin null)": Visit(own_host, "null", token),
        "a foreign Origin behind the right one": Visit(
            own_host, (server.origin, "http://evil.example"), token
        ),
        "another local port's page": Visit(own_host, f"http://127.0.0.1:{port + 1}", token),
        "a DNS-rebound name": Visit(f"evil.example:{port}", f"http://evil.example:{port}", token),
        "another spelling of the host": Visit(
            f"localhost:{port}", f"http://localhost:{port}", token
        ),
        "no token": Visit(own_host, server.origin, None),
        "an empty token": Visit(own_host, server.origin, ""),
        "the token less its last character": Visit(own_host, server.origin, token[:-1]),
        "a wrong token": Visit(own_host, server.origin, "wrong"),
        "a wrong token of the right length": Visit(own_host, server.origin, _guess(token)),
    }


async def test_no_other_page_or_process_can_drive_the_console_but_the_admins_tab_can(
    demo: Database,
) -> None:
    before = snapshot(demo.engine)
    async with _served(demo) as server:
        attacks = _attacks(server)
        for name, visit in attacks.items():
            status = await try_to_delete_the_first_user(server, visit, users=USERS)
            assert (status, snapshot(demo.engine) == before) == (403, True), name

        # The same keys from the admin's tab delete: the attacks were refused, not idle.
        assert await try_to_delete_the_first_user(server, admin_visit(server), users=USERS) is None
    with demo.engine.connect() as connection:
        left = connection.execute(text("SELECT count(*) FROM users WHERE id = 1")).scalar()
    assert left == 0
    # Each refusal was logged, and the token was printed once: nothing logs a query.
    log = "".join(server.stderr)
    assert log.count("refused:") >= len(attacks)
    assert log.count(server.token) == 1


async def test_the_page_and_its_files_need_the_address_the_origin_and_the_token(
    demo: Database,
) -> None:
    async with _served(demo) as server:
        own_host, token = f"127.0.0.1:{server.port}", server.token
        page = Visit(own_host, None, None, query=f"?token={token}")
        refused = {
            "the page from a DNS-rebound name": (
                "/",
                Visit(f"evil.example:{server.port}", None, None, page.query),
            ),
            "the page from another spelling": (
                "/",
                Visit(f"localhost:{server.port}", None, None, page.query),
            ),
            "the page fetched by another site": (
                "/",
                Visit(own_host, "http://evil.example", None, page.query),
            ),
            "the page without a token": ("/", Visit(own_host, None, None)),
            "the page with an empty token": ("/", Visit(own_host, None, None, "?token=")),
            "the page with a wrong token": ("/", Visit(own_host, None, None, "?token=wrong")),
            "the page with a guessed token": (
                "/",
                Visit(own_host, None, None, f"?token={_guess(token)}"),
            ),
            "a file without the cookie": (ASSET, Visit(own_host, None, None)),
            "a file with the token in its query": (ASSET, Visit(own_host, None, None, page.query)),
            "a download without the cookie": ("/download/x", Visit(own_host, None, None)),
            "a path that would write to the admin's clipboard": (
                ESCAPES,
                Visit(own_host, None, None),
            ),
        }
        statuses = {
            name: (await get(server, path, visit))[0] for name, (path, visit) in refused.items()
        }
        assert statuses == dict.fromkeys(refused, 403)

        async with (
            client() as session,
            session.get(f"{server.origin}/{page.query}", headers=page.headers(server)) as response,
        ):
            assert response.status == 200
            cookie = response.cookies[server.cookie_name]
        assert cookie.value == token
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Strict"
        assert cookie["path"] == "/"
        tab = Visit(own_host, None, token)
        assert (await get(server, ASSET, tab))[0] == 200
        assert (await get(server, "/download/x", tab))[0] == 404  # reached: no such download
    # Every refusal is logged on the admin's terminal; none carries a control character.
    log = "".join(server.stderr)
    assert log.count("refused:") >= len(refused)
    assert [char for char in log if ord(char) < 32 and char != "\n"] == []
    assert "\u241b]52;c;aGk=\u2407" in log  # shown as ␛ and ␇


async def test_each_run_prints_an_address_with_a_token_of_its_own(demo: Database) -> None:
    async with _served(demo) as first, _served(demo) as second:
        for server in (first, second):
            assert server.url == f"http://127.0.0.1:{server.port}/?token={server.token}"
            assert re.fullmatch(r"[A-Za-z0-9_-]{43}", server.token)  # 32 random bytes
        assert first.token != second.token
        # One run's token opens nothing of another's, in the query or in a cookie.
        stale = Visit(f"127.0.0.1:{second.port}", None, None, f"?token={first.token}")
        assert (await get(second, "/", stale))[0] == 403
        stale_cookie = Visit(f"127.0.0.1:{second.port}", second.origin, first.token)
        assert await try_to_delete_the_first_user(second, stale_cookie, users=USERS) == 403


async def test_the_page_loads_nothing_from_another_host(demo: Database) -> None:
    async with _served(demo) as server:
        tab = Visit(f"127.0.0.1:{server.port}", None, server.token)
        status, page = await get(server, "/", tab)
        assert status == 200
        referenced = re.findall(r"(?:src|href)=\"([^\"]+)\"|url\(\"([^\"]+)\"\)", page)
        assets = sorted({a or b for a, b in referenced})
        assert len(assets) == 5  # stylesheet, script, two fonts, background
        texts = {"the page": page}
        for asset in assets:
            path = asset.removeprefix(server.origin)
            status, body = await get(server, path, tab)
            assert status == 200, asset
            if path.endswith(".css"):  # licence comments name sites; a comment loads nothing
                texts[path] = CSS_COMMENT.sub("", body)
            elif path.endswith(".js"):
                texts[path] = body
        outside = {
            where: sorted({scheme + host for scheme, host in ABSOLUTE_URL.findall(body)})
            for where, body in texts.items()
        }
        own = {f"http://127.0.0.1:{server.port}", f"ws://127.0.0.1:{server.port}"}
        foreign = {where: set(urls) - own for where, urls in outside.items()}
        assert foreign == {where: set() for where in texts}
        async with (
            client() as session,
            session.get(f"{server.origin}/", headers=tab.headers(server)) as response,
        ):
            policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy
        assert f"connect-src 'self' ws://127.0.0.1:{server.port}" in policy
        assert "frame-ancestors 'none'" in policy


async def test_a_download_needs_the_cookie_too(demo: Database) -> None:
    """An export under --web goes to the browser from /download/KEY: only with the cookie."""
    async with _served(demo) as server, console_tab(server, admin_visit(server)) as terminal:
        assert not isinstance(terminal, int)
        await terminal.expect(f"Row 1 of {USERS}")
        await terminal.expect("Export users", after=await terminal.press("x"))
        mark = await terminal.press("\r")
        key = await terminal.download_key()
        path = f"/download/{key}"
        own_host = f"127.0.0.1:{server.port}"
        another_site = Visit(own_host, "http://evil.example", server.token)
        assert (await get(server, path, Visit(own_host, None, None)))[0] == 403
        assert (await get(server, path, another_site))[0] == 403
        status, body = await get(server, path, Visit(own_host, None, server.token))
        await terminal.expect("sent to your browser", after=mark)
    assert status == 200
    with demo.engine.connect() as connection:
        emails = connection.execute(text("SELECT email FROM users")).scalars().all()
    assert len(emails) == USERS
    assert all(email in body for email in emails)


def test_a_port_in_use_is_named_and_refused(demo: Database) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        url = f"sqlite:///{demo.engine.url.database}"
        done = subprocess.run(
            [str(ACCESSGUARD), "--db", url, "--web", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env=child_console_environment(),
            check=False,
        )
    assert done.returncode == 1
    assert f"cannot serve on port {port}:" in done.stderr
    assert "address already in use" in done.stderr
    assert "Traceback" not in done.stderr
