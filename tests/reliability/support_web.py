"""Helpers for the --web tests: the real ``accessguard --web`` in a subprocess, and a real
HTTP and WebSocket client (aiohttp's, the one textual-serve itself is built on).

The client sets ``Host``, ``Origin`` and ``Cookie`` by hand, as an attacker's script (or a
browser on a rebound name) would, and reads the console's terminal output off the socket.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from multidict import CIMultiDict

from tests.console_support import child_console_environment
from tests.reliability.support_server_faults import free_port
from tests.reliability.support_signals import ACCESSGUARD, plain

# How long the server may take to listen, and the console to draw or answer a key (a
# deadline for a failing run, never a pause: every wait returns as soon as it is met).
START_SECONDS = 30.0
SCREEN_SECONDS = 30.0
ANNOUNCED = re.compile(r"serving the console at (http://127\.0\.0\.1:(\d+)/\?token=(\S+)) ")
# Every absolute URL in a page or stylesheet, scheme and host captured.
ABSOLUTE_URL = re.compile(r"\b((?:https?|wss?)://)([^/\s\"'()<>]+)", re.IGNORECASE)


@dataclass
class WebServer:
    """A running ``accessguard --web``: its announced address and everything on its stderr."""

    process: asyncio.subprocess.Process
    url: str
    port: int
    token: str
    stderr: list[str]
    # As a browser writes them, independently of tui/web.py: the tab's origin and the name
    # of the cookie the page answers with.
    origin: str = field(init=False)
    cookie_name: str = field(init=False)

    def __post_init__(self) -> None:
        self.origin = f"http://127.0.0.1:{self.port}"
        self.cookie_name = f"accessguard-web-{self.port}"


async def _collect(stream: asyncio.StreamReader, into: list[str]) -> None:
    while line := await stream.readline():
        into.append(line.decode(errors="replace"))


@asynccontextmanager
async def web_server(database_url: str, *, cwd: Path) -> AsyncIterator[WebServer]:
    """``accessguard --db URL --web --port N`` on a free port, in ``cwd`` (where an export
    lands), once it has announced its address (it does so once it listens); stopped with
    SIGTERM afterwards."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        str(ACCESSGUARD),
        "--db",
        database_url,
        "--web",
        "--port",
        str(port),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=child_console_environment(),
        cwd=cwd,
    )
    assert process.stderr is not None
    lines: list[str] = []
    collector: asyncio.Task[None] | None = None
    try:
        line = await asyncio.wait_for(process.stderr.readline(), START_SECONDS)
        lines.append(line.decode(errors="replace"))
        found = ANNOUNCED.search(lines[0])
        assert found, f"no address announced; stderr starts: {lines[0]!r}"
        assert int(found[2]) == port
        collector = asyncio.create_task(_collect(process.stderr, lines))
        yield WebServer(process, found[1], port, found[3], lines)
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), START_SECONDS)
        if collector is not None:
            await asyncio.wait_for(collector, START_SECONDS)


@dataclass(frozen=True)
class Visit:
    """How a client presents itself: the Host, Origin and Cookie headers it sends (None: none)
    and the page's query."""

    host: str | None
    origin: str | tuple[str, ...] | None  # a tuple: that many Origin headers
    cookie: str | None
    query: str = ""

    def headers(self, server: WebServer) -> CIMultiDict[str]:
        """The request headers of this visit."""
        sent: CIMultiDict[str] = CIMultiDict()
        if self.host is not None:
            sent["Host"] = self.host
        for origin in (self.origin,) if isinstance(self.origin, str) else self.origin or ():
            sent.add("Origin", origin)
        if self.cookie is not None:
            sent["Cookie"] = f"{server.cookie_name}={self.cookie}"
        return sent


def admin_visit(server: WebServer) -> Visit:
    """What the admin's own tab sends once the page has set its cookie."""
    return Visit(f"127.0.0.1:{server.port}", server.origin, server.token)


def client() -> aiohttp.ClientSession:
    """A client that keeps no cookies of its own: each request says exactly what it sends."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())


async def get(server: WebServer, path: str, visit: Visit) -> tuple[int, str]:
    """GET ``path`` (with the visit's query) as ``visit``: the status and the body (as text)."""
    async with (
        client() as session,
        session.get(
            f"http://127.0.0.1:{server.port}{path}{visit.query}",
            headers=visit.headers(server),
            allow_redirects=False,
        ) as response,
    ):
        return response.status, (await response.read()).decode(errors="replace")


class Terminal:
    """The console's side of a WebSocket: what it drew, as text, the page's messages (JSON
    text frames such as ``["deliver_file_start", KEY]``), and a way to type."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse[bool]) -> None:
        self.socket = socket
        self.output = b""
        self.messages: list[list[Any]] = []

    async def _read_until(self, done: Callable[[], bool], wanted: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SCREEN_SECONDS
        while not done():
            remaining = deadline - loop.time()
            message = None
            with suppress(asyncio.TimeoutError):
                message = await self.socket.receive(timeout=max(remaining, 0.0))
            if message is None or message.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
            ):
                raise AssertionError(
                    f"{wanted} never came; the screen ends with:\n" + plain(self.output)[-1500:]
                )
            if message.type == aiohttp.WSMsgType.BINARY:
                self.output += message.data
            elif message.type == aiohttp.WSMsgType.TEXT:
                self.messages.append(json.loads(message.data))

    async def expect(self, wanted: str, *, after: int = 0) -> None:
        """Read until ``wanted`` has been drawn after output offset ``after``."""
        await self._read_until(lambda: wanted in plain(self.output[after:]), repr(wanted))

    async def download_key(self) -> str:
        """Read until the console offers the browser a download; its key."""
        await self._read_until(
            lambda: any(kind == "deliver_file_start" for kind, *_ in self.messages),
            "a download",
        )
        return str(next(key for kind, key, *_ in self.messages if kind == "deliver_file_start"))

    async def press(self, key: str) -> int:
        """Type ``key`` as the page does; the output offset from which to expect its effect."""
        mark = len(self.output)
        await self.socket.send_json(["stdin", key])
        return mark


@asynccontextmanager
async def console_tab(server: WebServer, visit: Visit) -> AsyncIterator[Terminal | int]:
    """The console's WebSocket opened as ``visit``: its `Terminal`, or the status it was
    refused with."""
    async with client() as session:
        try:
            socket = await session.ws_connect(
                f"http://127.0.0.1:{server.port}/ws?width=100&height=30",
                headers=visit.headers(server),
            )
        except aiohttp.WSServerHandshakeError as refused:
            yield refused.status
            return
        async with socket:
            yield Terminal(socket)


async def try_to_delete_the_first_user(
    server: WebServer, visit: Visit, *, users: int
) -> int | None:
    """Open the console's WebSocket as ``visit`` and, if it opens, delete the first of the
    ``users`` users the way the admin would (d, then y). The upgrade's status if refused,
    else None once the console has said it deleted."""
    async with console_tab(server, visit) as terminal:
        if isinstance(terminal, int):
            return terminal
        await terminal.expect(f"Row 1 of {users}")
        await terminal.expect("Delete this user?", after=await terminal.press("d"))
        await terminal.expect("Deleted user", after=await terminal.press("y"))
    return None
