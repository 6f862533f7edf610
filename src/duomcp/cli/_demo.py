"""``duomcp demo``: the whole flow against a bundled server, on a fresh machine.

A reference MCP server with its own OAuth authorization server starts on 127.0.0.1 in this
process. The demo signs in to it the way any protected server is signed in to (a 401,
discovery, registration, authorization code with PKCE, tokens), calls it in the modern era,
lets the tokens expire and shows the refresh, then calls it again in the legacy era with the
same tokens. Each step is reported from what the server recorded, not from what the client
meant to do. No token, code or secret is printed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine
from typing import Any, TextIO, TypeVar
from urllib.parse import parse_qs, urlsplit

from ..testing import AuthServerSettings, ReferenceServer

__all__ = ["run_demo"]

_T = TypeVar("_T")
_START_TIMEOUT = 10.0


class _ServerThread:
    """The reference server on an event loop of its own, in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = ReferenceServer(era="dual", oauth=AuthServerSettings())
        thread = threading.Thread(target=self.loop.run_forever, name="duomcp-demo", daemon=True)
        thread.start()
        self.run(self.server.__aenter__(), _START_TIMEOUT)

    def run(self, coro: Coroutine[Any, Any, _T], timeout: float = 30.0) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        try:
            self.run(self.server.__aexit__(None, None, None), _START_TIMEOUT)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)


class _Approver:
    """Plays the person at the browser: opens the sign-in page and follows it back.

    The demo's authorization server has no users and approves at once; the redirect it
    answers with is what a browser would reach.
    """

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, authorization_url: str) -> str:
        import aiohttp

        self.seen.append(authorization_url)
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
            http.get(authorization_url, allow_redirects=False) as resp,
        ):
            location = resp.headers.get("Location")
            if resp.status not in (302, 303) or not location:
                raise RuntimeError(f"the sign-in page answered {resp.status}, not a redirect")
            return location


def run_demo(out: TextIO, *, browser: bool = False) -> int:
    """Run the demo, writing its report to ``out``; return the exit status."""
    from .. import Client
    from ..auth import LoopbackLogin, MemoryTokenStorage, OAuth

    started = time.monotonic()

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    logging.getLogger("duomcp").setLevel(logging.ERROR)  # the left-out tools: reported below
    st = _ServerThread()
    server, issuer = st.server, st.server.auth_server
    assert issuer is not None
    try:
        say("duomcp demo: an MCP server that needs OAuth, and every step of using it.")
        say()
        say(f"1. A reference MCP server is listening at {server.url}")
        say(f"   with its own OAuth authorization server at {issuer.issuer} (this process).")

        storage = MemoryTokenStorage()  # the CLI's other commands keep tokens in files
        approver = _Approver()
        login: Any = LoopbackLogin() if browser else approver
        redirect_uri = login.redirect_uri if browser else "http://127.0.0.1:9/callback"
        auth = OAuth(interaction=login, redirect_uri=redirect_uri, storage=storage)

        with Client(server.url, auth=auth, timeout=30) as client:
            client.connect()
            refused = [r for r in server.requests if r.status == 401]
            say()
            say(
                f"2. The first request, {refused[0].method} {urlsplit(refused[0].path).path}, "
                "was refused: 401 with a WWW-Authenticate challenge."
                if refused
                else "2. (the server did not refuse the first request)"
            )
            say("3. Discovery: the protected resource metadata (RFC 9728)")
            say(f"   {issuer.prm_url}")
            say("   named the authorization server; its RFC 8414 metadata gave the endpoints.")
            clients = list(issuer.clients)
            say(
                f"4. Registration (RFC 7591): registered as client_id {clients[-1]!r}."
                if clients
                else "4. Registration: none was needed."
            )
            if approver.seen:
                query = parse_qs(urlsplit(approver.seen[-1]).query)
                say(
                    "5. Sign-in: authorization code flow with PKCE "
                    f"{query.get('code_challenge_method', ['?'])[0]}, "
                    f"resource={query.get('resource', ['?'])[0]} (RFC 8707),"
                )
                say("   approved at once by the demo's authorization server (no users there).")
            else:
                say("5. Sign-in: in your browser.")
            tokens = auth.tokens
            scope = tokens.scope if tokens is not None and tokens.scope else "(none)"
            say(
                f"6. Tokens: {issuer.token_requests['authorization_code']} code exchange gave "
                f"an access token (scope {scope})"
            )
            say("   and a refresh token; every request, of every kind, now carries the token.")
            say(f"7. Connected in the {client.era} era, protocol {client.protocol_version}.")

            tools = client.list_tools()
            say()
            say(f"8. tools/list: {len(tools)} tools: {', '.join(t.name for t in tools[:5])}...")
            if client.rejected_tools:
                say(
                    f"   {len(client.rejected_tools)} more were left out: the server offers them"
                    " with invalid x-mcp-header annotations"
                )
                say("   on purpose, and such a tool cannot be called correctly.")
            result = client.call_tool("echo", {"text": "hello from duomcp"})
            say(f"   tools/call echo -> {_text(result)!r}")

            issuer.expire_all()
            refreshes = issuer.token_requests["refresh_token"]
            refusals = len([r for r in server.requests if r.status == 401])
            result = client.call_tool("echo", {"text": "after expiry"})
            refusals = len([r for r in server.requests if r.status == 401]) - refusals
            say()
            say("9. The authorization server expired every access token. The next call got")
            say(
                f"   {refusals} x 401, refreshed "
                f"({issuer.token_requests['refresh_token'] - refreshes} refresh_token grant) "
                f"and went on: {_text(result)!r}"
            )

        legacy_auth = OAuth(interaction=login, redirect_uri=redirect_uri, storage=storage)
        with Client(server.url, auth=legacy_auth, era="legacy", timeout=30) as legacy:
            legacy.connect()
            result = legacy.call_tool("echo", {"text": "legacy era"})
            say()
            say(
                f"10. The same server in the legacy era (protocol {legacy.protocol_version}, "
                "initialize, a session):"
            )
            say(
                f"    the stored tokens were reused ({issuer.authorize_requests} sign-in in all), "
                f"tools/call echo -> {_text(result)!r}"
            )
        signed = [r for r in server.requests if r.status != 401]
        methods = sorted({r.method for r in signed})
        bearer = sum(r.headers.get("authorization", "").startswith("Bearer ") for r in signed)
        say()
        say(
            f"11. Of the {len(signed)} requests the server accepted ({', '.join(methods)}), "
            f"{bearer} carried the bearer token."
        )
        say()
        say(f"Done in {time.monotonic() - started:.1f} s. With your own server:")
        say("  duomcp tools https://example.com/mcp")
        say("  duomcp call https://example.com/mcp TOOL name=value")
        return 0
    finally:
        st.stop()


def _text(result: Any) -> str:
    from ..types import TextContent

    return " ".join(b.text for b in result.content if isinstance(b, TextContent))
