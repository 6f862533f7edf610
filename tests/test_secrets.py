"""No secret reaches a log line (at any level, from any logger), a repr or an exception
message: an OAuth sign-in, a refresh, a step back to the browser, a lost reply, a refused
request and a stdio server with secrets in its command line, all under DEBUG logging,
then everything captured is scanned for every secret the run produced."""

from __future__ import annotations

import logging

import pytest
from oauthlib.oauth2 import WebApplicationClient

from duomcp import AsyncClient, MCPError, StdioServer
from duomcp.auth import OAuth
from duomcp.testing import AuthServerSettings, ReferenceServer, ServerFaults

from ._signin import SlowBrowser
from .conftest import ServerThread

REDIRECT = "http://127.0.0.1:1/callback"


@pytest.mark.parametrize("dpop", [False, True])
async def test_no_secret_in_logs_reprs_or_errors(
    faults: ServerFaults,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    dpop: bool,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: duomcp, aiohttp, asyncio...
    verifiers: list[str] = []
    create = WebApplicationClient.create_code_verifier

    def spy(self: WebApplicationClient, length: int) -> str:
        verifier = create(self, length)
        verifiers.append(verifier)
        return str(verifier)

    monkeypatch.setattr(WebApplicationClient, "create_code_verifier", spy)
    secrets: set[str] = {"hdr-secret-1", "stdio-secret-9", "env-secret-7"}
    seen: list[str] = []  # reprs and error messages
    with ServerThread.running(faults, oauth=AuthServerSettings(dpop=dpop)) as st:
        authz = st.server.auth_server
        assert authz is not None

        def collect() -> None:
            secrets.update(authz._access, authz._refresh)
            secrets.update(
                c["client_secret"] for c in authz.clients.values() if "client_secret" in c
            )

        browser = SlowBrowser()
        auth = OAuth(interaction=browser, redirect_uri=REDIRECT)
        headers = {"X-Api-Key": "hdr-secret-1"}
        async with AsyncClient(st.server.url, auth=auth, headers=headers, timeout=10) as client:
            await client.call_tool("echo", {"text": "signed in"})
            collect()
            authz.expire_all()  # a refresh
            await client.call_tool("echo", {"text": "refreshed"})
            collect()
            authz.expire_all()
            authz.revoke_refresh_tokens()  # back to the browser
            await client.call_tool("echo", {"text": "again"})
            collect()
            faults.lose_replies = 1
            with pytest.raises(MCPError) as lost:
                await client.call_tool("echo", {"text": "lost"})
            seen.append(str(lost.value))
            seen += [repr(client._engine.state), repr(auth), repr(auth.tokens)]
            assert (auth.dpop_key is not None) == dpop
            if auth.dpop_key is not None:  # a DPoP-bound client: its private key too
                secrets.add(auth.dpop_key.private_jwk()["d"])
                seen.append(repr(auth.dpop_key))
        faults.require_bearer = "not-what-the-client-has"
        refused = AsyncClient(st.server.url, headers=headers, timeout=5)
        with pytest.raises(MCPError) as denied:
            await refused.call_tool("echo", {"text": "x"})
        seen.append(str(denied.value))
        await refused.close()
    server = StdioServer(
        command="/nonexistent/duomcp-test-server",
        args=("--api-key", "stdio-secret-9"),
        env={"API_TOKEN": "env-secret-7"},
    )
    seen.append(repr(server))
    stdio_client = AsyncClient(server, timeout=5)
    with pytest.raises(MCPError) as failed:
        await stdio_client.connect()
    seen.append(str(failed.value))
    await stdio_client.close()
    secrets.update(browser.codes, verifiers)
    assert browser.codes and verifiers and len(secrets) > 8
    captured = caplog.text + "\n".join(seen)
    leaked = sorted(s for s in secrets if s and s in captured)
    assert not leaked, f"secrets found: {len(leaked)}"


async def test_credentials_in_the_url_never_reach_logs_or_errors(
    server: ReferenceServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"{server.url}?api_key=url-secret-1&v=2"
    async with AsyncClient(url, timeout=5) as client:  # the query reaches the server as given
        await client.call_tool("echo", {"text": "x"})
    port = server.url.split(":")[2].split("/")[0]
    bad = f"http://someone:url-secret-2@127.0.0.1:{port}/nope?token=url-secret-3"
    client = AsyncClient(bad, timeout=5)
    with pytest.raises(MCPError) as failed:
        await client.connect()
    await client.close()
    shown = caplog.text + str(failed.value)
    assert "127.0.0.1" in shown and "***" in shown
    for secret in ("url-secret-1", "url-secret-2", "url-secret-3"):
        assert secret not in shown
