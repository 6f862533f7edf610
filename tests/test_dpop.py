"""DPoP (RFC 9449) end to end against the reference server and authorization server:
proofs on every kind of request, nonces, the binding across refresh and restart,
revocation at sign-out, and no key or proof in any log."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from duomcp import AsyncClient, HTTPOptions
from duomcp.auth import DPoPError, DPoPKey, FileTokenStorage, OAuth, TokenStorage
from duomcp.testing import AuthorizationServer, AuthServerSettings, ServerFaults

from ._signin import SlowBrowser
from .conftest import ServerThread

REDIRECT = "http://127.0.0.1:1/callback"
FAST = HTTPOptions(reconnect_delay=0.05, max_reconnect_attempts=3)


def authz(st: ServerThread) -> AuthorizationServer:
    assert st.server.auth_server is not None
    return st.server.auth_server


def oauth(storage: TokenStorage | None = None, **options: object) -> OAuth:
    return OAuth(interaction=SlowBrowser(), redirect_uri=REDIRECT, storage=storage, **options)  # type: ignore[arg-type]


@pytest.fixture(params=["legacy", "modern"])
def dpop_thread(request: pytest.FixtureRequest, faults: ServerFaults) -> Iterator[ServerThread]:
    settings = AuthServerSettings(dpop=True)
    with ServerThread.running(faults, oauth=settings, era=request.param) as st:
        yield st


def test_a_proof_names_method_url_token_and_nonce() -> None:
    key = DPoPKey.generate()
    proof = key.proof("post", "https://mcp.example/mcp?x=1#f", access_token="tok", nonce="n1")
    header = jwt.get_unverified_header(proof)
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256"
    assert header["jwk"] == key.public_jwk and "d" not in header["jwk"]
    claims = jwt.decode(proof, jwt.PyJWK(header["jwk"], "ES256").key, algorithms=["ES256"])
    ath = base64.urlsafe_b64encode(hashlib.sha256(b"tok").digest()).rstrip(b"=").decode()
    assert claims["htm"] == "POST" and claims["htu"] == "https://mcp.example/mcp"
    assert claims["ath"] == ath and claims["nonce"] == "n1" and claims["jti"]
    assert key.proof("GET", "https://a/b") != key.proof("GET", "https://a/b")  # fresh jti
    again = DPoPKey.from_jwk(key.private_jwk())
    assert again.thumbprint() == key.thumbprint()
    assert key.private_jwk()["d"] not in repr(again)


async def test_proofs_on_post_get_reconnect_and_delete(dpop_thread: ServerThread) -> None:
    server = dpop_thread.server
    auth = oauth()
    async with AsyncClient(server.url, auth=auth, timeout=10, http_options=FAST) as client:
        await client.call_tool("echo", {"text": "bound"})
        assert auth.tokens is not None and auth.tokens.dpop
        if client.era == "legacy":
            gets = [r for r in server.requests if r.method == "GET"]
            await asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(server.drop_streams(), dpop_thread.loop)
            )
            for _ in range(200):  # the GET stream reconnects
                if len([r for r in server.requests if r.method == "GET"]) > len(gets):
                    break
                await asyncio.sleep(0.02)
        await client.ping()
        era = client.era
    signed_in = [r for r in server.requests if r.path == "/mcp" and "authorization" in r.headers]
    assert signed_in and all("dpop" in r.headers for r in signed_in)
    proofs = [r.headers["dpop"] for r in signed_in]
    assert len(set(proofs)) == len(proofs)  # a fresh proof for every request
    methods = {claims["htm"] for claims in authz(dpop_thread).dpop_proofs}
    expected = {"POST", "GET", "DELETE"} if era == "legacy" else {"POST"}
    assert expected <= methods
    assert not authz(dpop_thread).dpop_refusals


async def test_nonces_from_the_token_endpoint_and_the_resource_are_used(
    faults: ServerFaults,
) -> None:
    settings = AuthServerSettings(dpop=True, dpop_nonce="nonce-1")
    with ServerThread.running(faults, oauth=settings) as st:
        auth = oauth()
        async with AsyncClient(st.server.url, auth=auth, timeout=10) as client:
            await client.ping()  # the token endpoint asks for nonce-1 once
            assert authz(st).dpop_refusals == ["use_dpop_nonce"]
            settings.dpop_nonce = "nonce-2"  # the resource server moves on
            await client.ping()  # 401 use_dpop_nonce -> retried once with nonce-2
            await client.ping()
        assert authz(st).dpop_refusals == ["use_dpop_nonce", "use_dpop_nonce"]
        assert {c.get("nonce") for c in authz(st).dpop_proofs} == {"nonce-1", "nonce-2"}


async def test_refresh_and_restart_keep_the_binding(faults: ServerFaults, tmp_path: Path) -> None:
    with ServerThread.running(faults, oauth=AuthServerSettings(dpop=True)) as st:
        store = FileTokenStorage(tmp_path / "tokens")
        first = oauth(store)
        async with AsyncClient(st.server.url, auth=first, timeout=10) as client:
            await client.ping()
            key = first.dpop_key
            assert key is not None
            authz(st).expire_all()
            await client.ping()  # refresh: the AS insists on a proof by the same key
            assert first.dpop_key is key and first.tokens is not None and first.tokens.dpop
        second = oauth(store)  # a restart: key and tokens come from the storage
        async with AsyncClient(st.server.url, auth=second, timeout=10) as client:
            await client.ping()
        assert second.dpop_key is not None
        assert second.dpop_key.thumbprint() == key.thumbprint()
        assert authz(st).token_requests["authorization_code"] == 1
        assert authz(st).token_requests["refresh_token"] == 2


async def test_dpop_off_and_dpop_required(faults: ServerFaults) -> None:
    with ServerThread.running(faults, oauth=AuthServerSettings(dpop=True)) as st:
        auth = oauth(dpop="off")
        async with AsyncClient(st.server.url, auth=auth, timeout=10) as client:
            await client.ping()
        assert auth.tokens is not None and not auth.tokens.dpop and auth.dpop_key is None
    with ServerThread.running(faults, oauth=AuthServerSettings()) as st:
        browser = SlowBrowser()
        strict = OAuth(interaction=browser, redirect_uri=REDIRECT, dpop="require")
        with pytest.raises(DPoPError, match="does not offer DPoP"):
            async with AsyncClient(st.server.url, auth=strict, timeout=10) as client:
                await client.ping()
        assert browser.logins == 0
    with pytest.raises(ValueError):
        oauth(dpop="sometimes")


async def test_sign_out_revokes_then_forgets(faults: ServerFaults) -> None:
    with ServerThread.running(faults, oauth=AuthServerSettings(dpop=True)) as st:
        auth = oauth()
        async with AsyncClient(st.server.url, auth=auth, timeout=10) as client:
            await client.ping()
        assert await auth.sign_out()  # (a client still open would sign in again)
        assert auth.tokens is None
        assert authz(st).revoked == ["refresh_token", "access_token"]
        assert not await auth.sign_out()  # nothing left to revoke
        assert authz(st).revoked == ["refresh_token", "access_token"]
        await auth.aclose()


async def test_no_key_proof_or_token_in_logs(
    faults: ServerFaults, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = AuthServerSettings(dpop=True, dpop_nonce="n")
    with ServerThread.running(faults, oauth=settings) as st:
        auth = oauth()
        async with AsyncClient(st.server.url, auth=auth, timeout=10) as client:
            await client.ping()
            authz(st).expire_all()
            await client.ping()
            seen = [repr(auth), repr(auth.tokens), repr(auth.dpop_key)]
        key = auth.dpop_key
        assert key is not None and auth.tokens is not None
        proofs = [r.headers["dpop"] for r in st.server.requests if "dpop" in r.headers]
        secrets = {key.private_jwk()["d"], auth.tokens.access_token, *proofs}
        secrets.update(authz(st)._access, authz(st)._refresh)
    captured = caplog.text + "\n".join(seen)
    assert proofs and not [s for s in secrets if s and s in captured]
