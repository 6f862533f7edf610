"""Signing in a person: a loopback callback server on 127.0.0.1 and the system browser."""

from __future__ import annotations

import asyncio
import socket
import sys
import webbrowser
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._executors import INTERACTIONS
from .._timeouts import wait_for
from ..errors import AuthError

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["LoopbackLogin"]

_DONE_PAGE = (
    "<!doctype html><meta charset=utf-8><title>duomcp</title>"
    "<p>Signed in. You can close this window and return to the application.</p>"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _print_url(url: str) -> None:
    print(f"Open this URL in a browser to sign in:\n  {url}", file=sys.stderr, flush=True)


class LoopbackLogin:
    """The OAuth interaction for people: opens the browser at the authorization URL and
    waits for the redirect on ``http://127.0.0.1:<port>/callback``.

    Pass it as ``OAuth(interaction=login, redirect_uri=login.redirect_uri)``. When no
    browser can be opened the URL is printed instead.

    Args:
        port: the callback port; 0 picks a free one now (keep the same port between runs
            so a stored registration stays valid).
        timeout: seconds to wait for the user to finish signing in.
        opener: opens a URL; returns whether it could (default: the system browser).
    """

    def __init__(
        self,
        *,
        port: int = 0,
        timeout: float = 300.0,
        opener: Callable[[str], bool] = webbrowser.open,
    ) -> None:
        self.port = port or _free_port()
        self.timeout = timeout
        self._opener = opener

    @property
    def redirect_uri(self) -> str:
        """The redirect URI to register: the loopback callback."""
        return f"http://127.0.0.1:{self.port}/callback"

    def adopt(self, redirect_uri: str) -> bool:
        """Take the port of an earlier registration's loopback redirect URI, if it is one."""
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname != "127.0.0.1" or parts.path != "/callback":
            return False
        if parts.port is None:
            return False
        self.port = parts.port
        return True

    async def __call__(self, authorization_url: str) -> str:
        """Show the authorization URL; return the redirect URL the browser reached.

        Raises:
            AuthError: nobody finished signing in within the timeout.
        """
        from aiohttp import web  # the server side of aiohttp is only needed here

        reached: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def callback(request: web.Request) -> web.Response:
            if not reached.done():
                reached.set_result(str(request.url))
            return web.Response(text=_DONE_PAGE, content_type="text/html")

        app = web.Application()
        app.router.add_get("/callback", callback)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            try:
                await web.TCPSite(runner, "127.0.0.1", self.port).start()
            except OSError as exc:
                raise AuthError(f"cannot listen on {self.redirect_uri}: {exc}") from exc
            opened = await INTERACTIONS.run(self._open, authorization_url)
            if not opened:
                _print_url(authorization_url)
            try:
                return await wait_for(reached, self.timeout)
            except asyncio.TimeoutError:
                raise AuthError(
                    f"nobody completed the sign-in within {self.timeout:.0f} s"
                ) from None
        finally:
            await runner.cleanup()

    def _open(self, url: str) -> bool:
        try:
            return bool(self._opener(url))
        except Exception:  # no browser, no display: fall back to printing the URL
            return False
