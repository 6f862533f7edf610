"""The one aiohttp session of an :class:`~duomcp.auth.OAuth` object.

Discovery, registration, the token endpoint, the identity provider and revocation all
go through one :class:`AuthHTTP`: one connection pool, bounded in time, made on first
use, shared by every request of one flow (and by flows that overlap) and closed when
the last of them ends, or, with ``keep_open``, only by ``aclose()``. Like the MCP transport,
it takes the proxy from the environment (``HTTPS_PROXY``, ``NO_PROXY``...) per URL and
does not read ``~/.netrc``, whose credentials could clash with client authentication.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._lazy import LazyModule

__all__ = ["AuthHTTP"]

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = LazyModule("aiohttp")

from .._net import env_proxy

TIMEOUT_SECONDS = 30.0


class AuthHTTP:
    """A lazily made, shared aiohttp session for authorization-server requests."""

    def __init__(self, timeout: float = TIMEOUT_SECONDS, *, keep_open: bool = False) -> None:
        self._timeout = timeout
        self.keep_open = keep_open
        """Keep the session between flows until :meth:`aclose` (for an owner that calls it)."""
        # A session belongs to one event loop: one per loop that uses this (an OAuth shared
        # by clients on several loops), with its own users, closed by aclose() on its loop.
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _OnLoop] = (
            weakref.WeakKeyDictionary()
        )
        self._guard = threading.Lock()  # the loops may run in different threads
        self._proxies: dict[str, str | None] = {}
        self.sessions_made = 0
        """How many sessions were made (one, unless closed or used from another loop)."""

    def _here(self) -> _OnLoop:
        loop = asyncio.get_running_loop()
        with self._guard:
            here = self._loops.get(loop)
            if here is None:
                # A session refers to its loop, which then never leaves this map by itself:
                # closed loops (their sessions left to the garbage collector) go as a new
                # one comes.
                for old in [old for old in self._loops if old.is_closed()]:
                    del self._loops[old]
                here = self._loops[loop] = _OnLoop()
            return here

    def session(self) -> aiohttp.ClientSession:
        """The session, made now if there is none for the running event loop."""
        here = self._here()
        if here.session is None or here.session.closed:
            here.session = aiohttp.ClientSession(
                trust_env=False, timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
            self.sessions_made += 1
        return here.session

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[AuthHTTP]:
        """One flow's use of the session; the last to end closes it (unless ``keep_open``)."""
        here = self._here()
        here.users += 1
        try:
            yield self
        finally:
            here.users -= 1
            if here.users == 0 and (not self.keep_open or here.close_when_idle):
                await self.aclose()

    def _proxy(self, url: str) -> str | None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._proxies:
            self._proxies[origin] = env_proxy(url)
        return self._proxies[origin]

    def get(self, url: str, **kwargs: Any) -> Any:
        """``session.get`` through the environment's proxy (use with ``async with``)."""
        return self.session().get(url, proxy=self._proxy(url), **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        """``session.post`` through the environment's proxy (use with ``async with``)."""
        return self.session().post(url, proxy=self._proxy(url), **kwargs)

    async def aclose(self) -> None:
        """Close the running loop's session (idempotent); a later request makes a new one.
        While a flow on this loop is using it (another client sharing this credential), it
        closes when that ends. Another loop's session stays, for its own ``aclose()``."""
        here = self._here()
        if here.users > 0:
            here.close_when_idle = True
            return
        here.close_when_idle = False
        session, here.session = here.session, None
        if session is not None and not session.closed:
            await session.close()


class _OnLoop:
    """The session of one event loop, and the flows using it."""

    __slots__ = ("close_when_idle", "session", "users")

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self.users = 0
        self.close_when_idle = False
