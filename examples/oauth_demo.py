"""OAuth 2.1 against the reference server's own authorization server, with no browser.

The server refuses the first request with 401; duomcp discovers the authorization server
(RFC 9728, RFC 8414), registers (RFC 7591), runs the authorization code flow with PKCE,
and sends the request again with the token. A person would approve in a browser
(``LoopbackLogin``); here ``approve`` plays the browser: it opens the authorization URL and
returns where the server redirected, which is all an ``interaction`` has to do.

Run: .venv/bin/python examples/oauth_demo.py
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from duomcp import AsyncClient
from duomcp.auth import MemoryTokenStorage, OAuth
from duomcp.testing import AuthServerSettings, ReferenceServer

REDIRECT_URI = "http://127.0.0.1:9/callback"  # never opened: approve() stops at the redirect


async def approve(authorization_url: str) -> str:
    """The browser and the person: follow the authorization URL to its redirect."""
    print("  sign-in at", authorization_url.split("?")[0])
    async with (
        aiohttp.ClientSession() as session,
        session.get(authorization_url, allow_redirects=False) as response,
    ):
        assert response.status == 302, response.status
        return response.headers["Location"]


async def main() -> None:
    # The reference server offers a few tools that break the spec on purpose (for tests);
    # duomcp leaves them out of list_tools() with a warning each. Keep this run quiet.
    logging.getLogger("duomcp").setLevel(logging.ERROR)
    async with ReferenceServer(era="dual", oauth=AuthServerSettings()) as server:
        issuer = server.auth_server
        assert issuer is not None
        storage = MemoryTokenStorage()  # FileTokenStorage() keeps tokens across runs
        auth = OAuth(interaction=approve, redirect_uri=REDIRECT_URI, storage=storage)
        async with AsyncClient(server.url, auth=auth) as client:
            print(f"connected: {client.era} era, protocol {client.protocol_version}")
            result = await client.call_tool("add", {"a": 2, "b": 3})
            print("add(2, 3) ->", result.structured_content)
        refused = sum(1 for request in server.requests if request.status == 401)
        tokens = auth.tokens
        assert tokens is not None
        print(f"401 responses: {refused}; registrations: {issuer.registrations}")
        print(f"token scope: {tokens.scope}; refresh token: {tokens.refresh_token is not None}")

        # A second client with the same storage signs in no more: the tokens are reused.
        again = OAuth(interaction=approve, redirect_uri=REDIRECT_URI, storage=storage)
        async with AsyncClient(server.url, auth=again, era="legacy") as client:
            await client.ping()
            print(f"second client ({client.era} era): the stored tokens, no new sign-in")
        print(f"sign-ins in all: {issuer.authorize_requests}")


if __name__ == "__main__":
    asyncio.run(main())
