"""Grants without a user against the reference authorization server: workload identity
(RFC 7523 JWT bearer, assertion from a rotated file or a function), client credentials,
composition with ``OAuth(grant=...)``, typed refusals, and one auth session per flow."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from duomcp import AsyncClient, AuthError, Client
from duomcp.auth import (
    AssertionRejectedError,
    ClientCredentials,
    JWTBearerGrant,
    OAuth,
    WorkloadIdentity,
)
from duomcp.testing import AuthorizationServer, AuthServerSettings, ServerFaults

from .conftest import ServerThread

_KEY = ec.generate_private_key(ec.SECP256R1())
_PUBLIC = (
    _KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


@pytest.fixture(params=["legacy", "modern"])
def st(request: pytest.FixtureRequest, faults: ServerFaults) -> Iterator[ServerThread]:
    settings = AuthServerSettings(jwt_bearer_key=_PUBLIC)
    with ServerThread.running(faults, oauth=settings, era=request.param) as thread:
        authz(thread).clients["workload"] = {
            "client_id": "workload",
            "redirect_uris": [],
            "token_endpoint_auth_method": "none",
        }
        authz(thread).clients["svc"] = {
            "client_id": "svc",
            "client_secret": "svc-secret",
            "redirect_uris": [],
            "token_endpoint_auth_method": "client_secret_basic",
        }
        yield thread


def authz(thread: ServerThread) -> AuthorizationServer:
    assert thread.server.auth_server is not None
    return thread.server.auth_server


def assertion(thread: ServerThread, subject: str, audience: str | None = None) -> str:
    now = int(time.time())
    claims = {
        "iss": "https://platform.example",
        "sub": subject,
        "aud": audience or authz(thread).issuer,
        "iat": now,
        "exp": now + 300,
    }
    return jwt.encode(claims, _KEY, algorithm="ES256")


async def test_workload_identity_reads_the_rotated_file_for_each_grant(
    st: ServerThread, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(assertion(st, "first"))
    auth = WorkloadIdentity(client_id="workload", assertion=token_file)
    async with AsyncClient(st.server.url, auth=auth, timeout=10) as client:
        await client.ping()
        token_file.write_text(assertion(st, "second") + "\n")  # the platform rotates it
        authz(st).expire_all()
        await client.ping()  # no refresh token: the grant runs again, with the new file
    assert [claims["sub"] for claims in authz(st).assertions] == ["first", "second"]
    assert "first" not in repr(auth._grant) and str(token_file) in repr(auth._grant)


async def test_composed_grant_with_an_async_assertion_function(st: ServerThread) -> None:
    calls = 0

    async def platform_token() -> str:
        nonlocal calls
        calls += 1
        return assertion(st, f"call-{calls}")

    auth = OAuth(grant=JWTBearerGrant(platform_token), client_id="workload")
    async with AsyncClient(st.server.url, auth=auth, timeout=10) as client:
        await client.call_tool("echo", {"text": "hi"})
    assert calls == 1 and authz(st).assertions[0]["sub"] == "call-1"


async def test_a_rejected_assertion_is_a_typed_error_and_not_retried(st: ServerThread) -> None:
    bad = assertion(st, "intruder", audience="https://elsewhere.example")
    auth = WorkloadIdentity(client_id="workload", assertion=bad)
    with pytest.raises(AssertionRejectedError) as refused:
        async with AsyncClient(st.server.url, auth=auth, timeout=10) as client:
            await client.ping()
    assert refused.value.error == "invalid_grant" and bad not in str(refused.value)
    assert isinstance(refused.value, AuthError)
    jwt_bearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert authz(st).token_requests[jwt_bearer] == 1


async def test_client_credentials_still_works_and_shares_one_session(st: ServerThread) -> None:
    auth = ClientCredentials(client_id="svc", client_secret="svc-secret")
    async with AsyncClient(st.server.url, auth=auth, timeout=10) as client:
        await client.ping()
        # discovery (2 documents) and the token request went through one session
        assert auth._http.sessions_made == 1
    assert authz(st).token_requests["client_credentials"] == 1
    await auth.aclose()


def test_one_credential_serves_clients_on_several_event_loops(faults: ServerFaults) -> None:
    """One ClientCredentials kept across asyncio.run() calls, and shared at the same time
    by a blocking Client (the portal's loop, this thread) and AsyncClients (another thread's
    loop), with a token renewed every 0.3 s: every loop signs in or renews with it. An
    asyncio.Lock belongs to the first loop that waited on it: "bound to a different event
    loop" in the next. (One holder at a time across loops: tests/test_anyloop_lock.py.)"""
    settings = AuthServerSettings(access_token_lifetime=0.4)  # expiring after 0.3 s
    with ServerThread.running(faults, oauth=settings, era="legacy") as thread:
        authz(thread).clients["svc"] = {
            "client_id": "svc",
            "client_secret": "svc-secret",
            "redirect_uris": [],
            "token_endpoint_auth_method": "client_secret_basic",
        }
        auth = ClientCredentials(client_id="svc", client_secret="svc-secret")
        url = thread.server.url

        async def four_clients() -> None:
            async def one() -> None:
                async with AsyncClient(url, auth=auth, timeout=10) as client:
                    await client.ping()

            await asyncio.gather(*(one() for _ in range(4)))  # 4 renewals wait on one lock

        failures: list[BaseException] = []

        def rounds() -> None:
            try:
                for _ in range(3):
                    asyncio.run(four_clients())  # a new event loop each time
                    time.sleep(0.35)  # expiring: the next round renews
            except BaseException as exc:  # reported by the test
                failures.append(exc)

        beside = threading.Thread(target=rounds)
        beside.start()
        with Client(url, auth=auth, timeout=10) as blocking:
            while beside.is_alive():
                blocking.ping()
                time.sleep(0.05)
        beside.join()
        assert failures == []
        assert authz(thread).token_requests["client_credentials"] >= 3  # renewed, again
    asyncio.run(auth.aclose())


def test_oauth_needs_an_interaction_or_a_grant() -> None:
    with pytest.raises(ValueError):
        OAuth()
    with pytest.raises(ValueError):
        OAuth(grant=JWTBearerGrant("x"))  # and a client id for it


async def test_an_empty_assertion_file_is_refused(st: ServerThread, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    auth = WorkloadIdentity(client_id="workload", assertion=empty)
    with pytest.raises(AuthError, match="is empty"):
        async with AsyncClient(st.server.url, auth=auth, timeout=10) as client:
            await client.ping()
