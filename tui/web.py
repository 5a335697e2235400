"""`accessguard --web`: textual-serve behind a gate that only the admin's own tab passes.

Every request, the page, its assets, downloads and the WebSocket that types into the
console, must

- name the served address in ``Host`` (``127.0.0.1:PORT`` exactly), which a DNS-rebound
  name (``evil.example:PORT`` resolving to 127.0.0.1) never does;
- carry, if it has an ``Origin``, that same origin; the WebSocket upgrade must have one,
  so another site's page (cross-site WebSocket hijacking) is refused even without cookies;
- show this run's token: in the page's query (``/?token=…``, the address printed at start),
  which answers with a cookie, or in that cookie.

Why a cookie carries the token past the page: textual-serve's script builds the WebSocket
address as ``<ws url>?width=…`` (a query in the template would break it), opens downloads
at ``/download/KEY`` and the stylesheet loads fonts by relative URL; none of those URLs
are ours to extend, while the browser sends a cookie with each of them. It is HttpOnly
(no script reads it) and SameSite=Strict (no other site's page makes the browser send
it), and it is named after the port, so two consoles on one machine keep their own.

The page is our copy of textual-serve's template without its web font link (the font
ships with textual-serve and is served from ``/static``) and answers with a
Content-Security-Policy that lets the browser load nothing from any other origin.

It relies on textual-serve internals (``Server._make_app``, the template's variables, the
script's WebSocket URL), so pyproject.toml pins textual-serve to the version read.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import hdrs, web
from aiohttp.web_response import StreamResponse
from textual_serve.server import Server

from tui.text import visible

WEB_HOST = "127.0.0.1"
TOKEN_PARAMETER = "token"
TEMPLATES = Path(__file__).resolve().parent / "web_page"

Handler = Callable[[web.Request], Awaitable[StreamResponse]]

log = logging.getLogger("accessguard.web")

REFUSED_HOST = "refused: this console answers only at its own address, {origin}/"
REFUSED_ORIGIN = "refused: a page from another origin cannot use this console"
REFUSED_NO_ORIGIN = "refused: a WebSocket without an Origin header"
REFUSED_TOKEN = (
    "refused: open the address accessguard --web printed when it started (with its token)"
)


def new_token() -> str:
    """A fresh secret for one run: 32 random bytes, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class WebGate:
    """Which requests reach the console: the served address, its origin, this run's token."""

    port: int
    token: str
    host: str = WEB_HOST

    @property
    def authority(self) -> str:
        """``host:port`` as a browser writes it in ``Host`` (it leaves out port 80)."""
        return self.host if self.port == 80 else f"{self.host}:{self.port}"

    @property
    def origin(self) -> str:
        """The page's origin, as a browser writes it in ``Origin``."""
        return f"http://{self.authority}"

    @property
    def url(self) -> str:
        """The address the admin opens: the page with this run's token."""
        return f"{self.origin}/?{TOKEN_PARAMETER}={self.token}"

    @property
    def cookie_name(self) -> str:
        """The token's cookie; browsers share cookies across ports, so it names the port."""
        return f"accessguard-web-{self.port}"

    def _is_token(self, given: str | None) -> bool:
        # Constant time: how far a guess matches never shows in how long refusing it takes.
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def refusal(self, request: web.BaseRequest) -> str | None:
        """Why ``request`` is refused, or None when it may reach the console."""
        # Every copy of a header is checked: a browser sends one, and a second, foreign
        # one must not hide behind a first that matches.
        if request.headers.getall(hdrs.HOST, []) != [self.authority]:
            return REFUSED_HOST.format(origin=self.origin)
        origins = request.headers.getall(hdrs.ORIGIN, [])
        if any(origin != self.origin for origin in origins):
            return REFUSED_ORIGIN
        upgrade = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
        if not origins and (upgrade or request.path == "/ws"):
            return REFUSED_NO_ORIGIN
        if self._is_token(request.cookies.get(self.cookie_name)):
            return None
        if request.path == "/" and self._is_token(request.query.get(TOKEN_PARAMETER)):
            return None
        return REFUSED_TOKEN

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> StreamResponse:
        """Refuse with 403 before any handler (a refused WebSocket is never upgraded); the
        page opened with the token answers with its cookie."""
        reason = self.refusal(request)
        if reason is not None:
            # The path is the requester's text (%1b decodes to ESC): shown, never obeyed.
            where = visible(request.path)
            log.warning("%s %s from %s: %s", request.method, where, request.remote, reason)
            return web.Response(status=403, text=reason + "\n")
        response = await handler(request)
        if not response.prepared and self._is_token(request.query.get(TOKEN_PARAMETER)):
            response.set_cookie(
                self.cookie_name, self.token, path="/", httponly=True, samesite="Strict"
            )
        return response

    async def on_response_prepare(self, request: web.Request, response: StreamResponse) -> None:
        """Headers on every answer, refusals included: keep the token in the cookie, never
        in a Referer, and the page from loading anything from elsewhere or being framed."""
        headers = response.headers
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Cache-Control"] = "no-store"
        headers["Content-Security-Policy"] = self.content_security_policy

    @property
    def content_security_policy(self) -> str:
        """Only this origin, for everything the page loads or connects to (the inline
        script and style are the template's own; no stored text is ever put in the page)."""
        return "; ".join(
            (
                "default-src 'none'",
                "script-src 'self' 'unsafe-inline'",
                "style-src 'self' 'unsafe-inline'",
                "font-src 'self'",
                "img-src 'self' data:",
                f"connect-src 'self' ws://{self.authority}",
                "base-uri 'none'",
                "form-action 'none'",
                "frame-ancestors 'none'",
            )
        )


class ConsoleServer(Server):
    """textual-serve's server for the console, behind `WebGate`."""

    def __init__(self, command: str, *, gate: WebGate, announce: Callable[[str], None]) -> None:
        super().__init__(
            command,
            host=gate.host,
            port=gate.port,
            title="AccessGuard",
            templates_path=TEMPLATES,
        )
        self.gate = gate
        self.announce = announce

    async def _make_app(self) -> web.Application:
        app: web.Application = await super()._make_app()
        app.middlewares.append(self.gate.middleware)
        app.on_response_prepare.append(self.gate.on_response_prepare)
        return app

    async def on_startup(self, app: web.Application) -> None:
        """Say nothing yet: the address is announced once the port is listening."""

    def initialize_logging(self) -> None:
        """Plain lines on stderr: no tracebacks with local variables (the children's
        environment, with the database URL, is one of them)."""
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    def serve(self, debug: bool = False) -> None:
        """Serve until SIGINT or SIGTERM; announce the tokened address once listening."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, self.request_exit)
        web.run_app(
            self._make_app(),
            host=self.host,
            port=self.port,
            handle_signals=False,
            loop=loop,
            access_log=None,  # its lines would carry the page's query: the token
            print=lambda *_: self.announce(self.gate.url),
        )


def console_server(command: str, *, port: int, announce: Callable[[str], None]) -> ConsoleServer:
    """A server for ``command`` on 127.0.0.1:``port`` with a new token; ``announce`` gets
    the address to open (token included) once the port listens."""
    return ConsoleServer(command, gate=WebGate(port=port, token=new_token()), announce=announce)
