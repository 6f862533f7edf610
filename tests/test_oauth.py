"""OAuth end to end against the reference MCP server and its authorization server."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from duomcp import AsyncClient, AuthError, Client, CredentialInUseError, HTTPOptions
from duomcp.auth import FileTokenStorage, LoopbackLogin, OAuth, TokenStorage
from duomcp.testing import AuthorizationServer, AuthServerSettings, ReferenceServer, ServerFaults

from .conftest import ServerThread

REDIRECT = "http://127.0.0.1:1/callback"
FAST = HTTPOptions(reconnect_delay=0.05, max_reconnect_attempts=3)


class Browser:
    """Stands in for the user: follows the authorization URL to the redirect."""

    def __init__(self) -> None:
        self.logins = 0
        self.codes: list[str] = []

    async def __call__(self, url: str) -> str:
        self.logins += 1
        async with aiohttp.ClientSession() as http:
            async with http.get(url, allow_redirects=False) as resp:
                assert resp.status == 302, await resp.text()
                location = resp.headers["Location"]
        if "code=" in location:
            self.codes.append(location.split("code=")[1].split("&")[0])
        return location


@pytest.fixture
def settings() -> AuthServerSettings:
    return AuthServerSettings()


@pytest.fixture
def oauth_thread(faults: ServerFaults, settings: AuthServerSettings) -> Iterator[ServerThread]:
    with ServerThread.running(faults, oauth=settings) as st:
        yield st


@pytest.fixture
def oauth_server(oauth_thread: ServerThread) -> ReferenceServer:
    return oauth_thread.server


def authz(server: ReferenceServer) -> AuthorizationServer:
    assert server.auth_server is not None
    return server.auth_server


def oauth(browser: Browser, storage: TokenStorage | None = None) -> OAuth:
    return OAuth(interaction=browser, redirect_uri=REDIRECT, storage=storage)


async def test_first_post_401_runs_the_whole_flow(
    oauth_server: ReferenceServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    browser = Browser()
    auth = oauth(browser)
    async with AsyncClient(oauth_server.url, auth=auth, timeout=10) as client:
        result = await client.call_tool("echo", {"text": "authorized"})
    assert result.content[0].text == "authorized"  # type: ignore[union-attr]
    assert browser.logins == 1
    assert authz(oauth_server).registrations == 1
    first = oauth_server.requests[0]
    assert first.status == 401 and "authorization" not in first.headers
    bearer = f"Bearer {auth.tokens.access_token}"  # type: ignore[union-attr]
    mcp_requests = [r for r in oauth_server.requests[1:] if r.path == "/mcp"]
    assert mcp_requests and all(r.headers.get("authorization") == bearer for r in mcp_requests)
    # no secret in any log line at any level
    tokens = auth.tokens
    assert tokens is not None
    client_info = auth._client
    assert client_info is not None
    secrets_seen = [
        tokens.access_token,
        tokens.refresh_token,
        client_info.client_secret,
        *browser.codes,
    ]
    for record in caplog.records:
        line = record.getMessage()
        for secret in filter(None, secrets_seen):
            assert secret not in line, line


async def test_refresh_then_post_and_get_reconnect_carry_the_new_token(
    oauth_server: ReferenceServer, oauth_thread: ServerThread
) -> None:
    browser = Browser()
    auth = oauth(browser)
    async with AsyncClient(oauth_server.url, auth=auth, timeout=10, http_options=FAST) as client:
        await client.ping()
        old = auth.tokens.access_token  # type: ignore[union-attr]
        authz(oauth_server).expire_all()
        await client.ping()  # 401 invalid_token -> refresh -> retried
        new = auth.tokens.access_token  # type: ignore[union-attr]
        assert new != old
        await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(oauth_server.drop_streams(), oauth_thread.loop)
        )
        for _ in range(200):
            gets = [r for r in oauth_server.requests if r.method == "GET" and r.path == "/mcp"]
            if gets and gets[-1].headers.get("authorization") == f"Bearer {new}":
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the GET stream did not reconnect with the new token")
    assert browser.logins == 1
    assert authz(oauth_server).token_requests["refresh_token"] == 1
    posts = [r for r in oauth_server.requests if r.method == "POST" and r.path == "/mcp"]
    assert posts[-1].headers["authorization"] == f"Bearer {new}"


async def test_many_calls_at_expiry_share_one_refresh(oauth_server: ReferenceServer) -> None:
    auth = oauth(Browser())
    async with AsyncClient(oauth_server.url, auth=auth, timeout=20) as client:
        await client.ping()
        authz(oauth_server).expire_all()
        results = await asyncio.gather(
            *(client.call_tool("echo", {"text": str(i)}) for i in range(50))
        )
    assert [r.content[0].text for r in results] == [str(i) for i in range(50)]  # type: ignore[union-attr]
    assert authz(oauth_server).token_requests["refresh_token"] == 1


async def test_slow_call_does_not_block_others_while_authenticated(
    oauth_server: ReferenceServer,
) -> None:
    async with AsyncClient(oauth_server.url, auth=oauth(Browser()), timeout=10) as client:
        slow = asyncio.ensure_future(client.call_tool("slow", {"seconds": 2}))
        for i in range(5):
            assert (await client.call_tool("echo", {"text": str(i)})).content[0].text == str(i)  # type: ignore[union-attr]
        assert not slow.done()
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow


async def test_restart_with_file_store_refreshes_without_browser(
    oauth_server: ReferenceServer, tmp_path: Path
) -> None:
    store = FileTokenStorage(tmp_path / "tokens")
    first = Browser()
    async with AsyncClient(oauth_server.url, auth=oauth(first, store), timeout=10) as client:
        await client.ping()
    assert first.logins == 1
    authz(oauth_server).expire_all()
    second = Browser()  # a new process: new OAuth object, same files
    async with AsyncClient(oauth_server.url, auth=oauth(second, store), timeout=10) as client:
        await client.ping()
    assert second.logins == 0
    assert authz(oauth_server).token_requests["refresh_token"] == 1
    files = list((tmp_path / "tokens").iterdir())
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((tmp_path / "tokens").stat().st_mode) == 0o700
    assert not [p for p in files if p.name.startswith(".tmp-")]


async def test_step_up_on_insufficient_scope(
    oauth_server: ReferenceServer, settings: AuthServerSettings
) -> None:
    settings.tool_scopes["echo"] = "mcp:admin"
    settings.scopes_supported = ("mcp:read",)  # admin is only asked for on a 403
    browser = Browser()
    auth = oauth(browser)
    async with AsyncClient(oauth_server.url, auth=auth, timeout=10) as client:
        await client.ping()
        result = await client.call_tool("echo", {"text": "stepped up"})
    assert result.content[0].text == "stepped up"  # type: ignore[union-attr]
    assert browser.logins == 2
    assert set(auth.tokens.scope.split()) >= {"mcp:read", "mcp:admin"}  # type: ignore[union-attr]


async def test_reregisters_after_invalid_client(
    oauth_server: ReferenceServer, settings: AuthServerSettings
) -> None:
    settings.reject_client_once = True
    browser = Browser()
    async with AsyncClient(oauth_server.url, auth=oauth(browser), timeout=10) as client:
        await client.ping()
    assert authz(oauth_server).registrations == 2
    assert browser.logins == 2


def test_token_files_never_world_readable(tmp_path: Path) -> None:
    store = FileTokenStorage(tmp_path / "t")
    old = os.umask(0)
    try:
        asyncio.run(store.save("k", {"access_token": "x"}))
    finally:
        os.umask(old)
    (path,) = (tmp_path / "t").iterdir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert asyncio.run(store.load("k")) == {"access_token": "x"}


async def test_browser_login_through_the_loopback_callback(oauth_server: ReferenceServer) -> None:
    opened: list[str] = []

    def browser(url: str) -> bool:  # the system browser: follows the redirect to 127.0.0.1
        import urllib.request

        opened.append(url)
        with urllib.request.urlopen(url, timeout=10) as page:
            assert b"Signed in" in page.read()
        return True

    login = LoopbackLogin(opener=browser, timeout=10)
    auth = OAuth(interaction=login, redirect_uri=login.redirect_uri)
    async with AsyncClient(oauth_server.url, auth=auth, timeout=10) as client:
        assert (await client.call_tool("echo", {"text": "hi"})).content[0].text == "hi"  # type: ignore[union-attr]
    assert len(opened) == 1 and "code_challenge_method=S256" in opened[0]


async def test_browser_login_prints_the_url_without_a_browser_and_times_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    login = LoopbackLogin(opener=lambda url: False, timeout=0.3)
    with pytest.raises(AuthError, match="within"):
        await login("https://as.example/authorize?x=1")
    assert "https://as.example/authorize?x=1" in capsys.readouterr().err


async def test_401_on_the_get_stream_refreshes_and_retries_the_get(
    oauth_server: ReferenceServer, oauth_thread: ServerThread
) -> None:
    auth = oauth(Browser())
    async with AsyncClient(oauth_server.url, auth=auth, timeout=10, http_options=FAST) as client:
        await client.ping()
        authz(oauth_server).expire_all()
        await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(oauth_server.drop_streams(), oauth_thread.loop)
        )
        for _ in range(300):
            gets = [r for r in oauth_server.requests if r.method == "GET" and r.path == "/mcp"]
            # status 0: the retried GET is still streaming (its status is recorded at the end)
            if len(gets) >= 3 and gets[-2].status == 401 and gets[-1].status in (0, 200):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError([(r.method, r.status) for r in oauth_server.requests])
        new = auth.tokens.access_token  # type: ignore[union-attr]
        assert gets[-1].headers["authorization"] == f"Bearer {new}"
        await client.ping()
    assert authz(oauth_server).token_requests["refresh_token"] == 1


async def test_transient_refresh_failure_keeps_the_tokens(
    oauth_server: ReferenceServer, settings: AuthServerSettings
) -> None:
    browser = Browser()
    auth = oauth(browser)
    async with AsyncClient(oauth_server.url, auth=auth, timeout=10) as client:
        await client.ping()
        authz(oauth_server).expire_all()
        settings.unavailable = 1
        with pytest.raises(AuthError, match="503"):
            await client.ping()
        assert auth.tokens is not None  # kept: the outage is not a reason to log in again
        await client.ping()  # the authorization server is back: refresh, no login
    assert browser.logins == 1
    assert authz(oauth_server).token_requests["refresh_token"] == 2


async def test_invalid_grant_falls_back_to_login(oauth_server: ReferenceServer) -> None:
    browser = Browser()
    async with AsyncClient(oauth_server.url, auth=oauth(browser), timeout=10) as client:
        await client.ping()
        authz(oauth_server).expire_all()
        authz(oauth_server).revoke_refresh_tokens()
        await client.ping()
    assert browser.logins == 2


async def test_loopback_port_is_kept_with_the_registration(
    oauth_server: ReferenceServer, tmp_path: Path
) -> None:
    import urllib.request

    def follow(url: str) -> bool:
        with urllib.request.urlopen(url, timeout=10) as page:
            return b"Signed in" in page.read()

    store = FileTokenStorage(tmp_path)
    first = LoopbackLogin(opener=follow, timeout=10)
    auth = OAuth(interaction=first, redirect_uri=first.redirect_uri, storage=store)
    async with AsyncClient(oauth_server.url, auth=auth, timeout=10) as client:
        await client.ping()
    authz(oauth_server).expire_all()
    authz(oauth_server).revoke_refresh_tokens()  # the restart will need a new login
    second = LoopbackLogin(opener=follow, timeout=10)
    assert second.port != first.port
    auth = OAuth(interaction=second, redirect_uri=second.redirect_uri, storage=store)
    async with AsyncClient(oauth_server.url, auth=auth, timeout=10) as client:
        await client.ping()
    assert second.port == first.port
    assert authz(oauth_server).registrations == 1


async def test_client_id_metadata_document(
    oauth_server: ReferenceServer, raw_server: Callable[..., Any]
) -> None:
    from aiohttp import web

    document: dict[str, object] = {}

    async def serve_document(request: web.Request) -> web.Response:
        return web.json_response(document)

    base = (await raw_server(serve_document, every_path=True)).removesuffix("/mcp")
    url = f"{base}/client.json"
    document.update({"client_id": url, "client_name": "cimd", "redirect_uris": [REDIRECT]})
    auth = OAuth(interaction=Browser(), redirect_uri=REDIRECT, client_metadata_url=url)
    async with AsyncClient(oauth_server.url, auth=auth, timeout=10) as client:
        await client.ping()
    assert authz(oauth_server).registrations == 0  # no dynamic registration needed
    assert url in authz(oauth_server).clients


async def test_user_declining_is_a_clear_error(
    oauth_server: ReferenceServer, settings: AuthServerSettings
) -> None:
    settings.auto_approve = False
    client = AsyncClient(oauth_server.url, auth=oauth(Browser()), timeout=10)
    with pytest.raises(AuthError, match="access_denied"):
        await client.connect()
    await client.close()


async def test_a_failing_sign_in_callback_is_an_auth_error(oauth_server: ReferenceServer) -> None:
    async def broken(url: str) -> str:
        raise RuntimeError("no browser here")

    client = AsyncClient(oauth_server.url, auth=OAuth(interaction=broken, redirect_uri=REDIRECT))
    with pytest.raises(AuthError, match="no browser here"):
        await client.connect()
    await client.close()


def test_a_blocking_client_signs_in_with_a_plain_function(oauth_server: ReferenceServer) -> None:
    """The person at the browser, written as blocking code runs it: a plain function."""
    seen: list[str] = []

    def sign_in(url: str) -> str:  # blocks on purpose: it runs in a worker thread
        seen.append(threading.current_thread().name)
        request = urllib.request.Request(url)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            opener.open(request, timeout=10)
        except urllib.error.HTTPError as exc:  # the 302 to the redirect URI
            assert exc.code == 302
            return str(exc.headers["Location"])
        raise AssertionError("no redirect")

    auth = OAuth(interaction=sign_in, redirect_uri=REDIRECT)
    with Client(oauth_server.url, auth=auth, timeout=10) as client:
        assert client.call_tool("echo", {"text": "signed"}).content[0].text == "signed"  # type: ignore[union-attr]
    assert len(seen) == 1 and seen[0] != "duomcp-portal" and seen[0] != "MainThread"


@pytest.mark.timeout(60)
def test_a_notebook_cells_blocking_call_while_its_loop_signs_in_fails_at_once(
    oauth_server: ReferenceServer,
) -> None:
    # One credential for the notebook's AsyncClient and a blocking Client. The cell makes
    # the blocking call while the AsyncClient's sign-in (a person at the browser) is under
    # way on the cell's own loop, which the call keeps from running.
    browser = Browser()
    person = asyncio.Event()
    at_browser = asyncio.Event()

    async def slow_person(url: str) -> str:
        at_browser.set()
        await person.wait()
        return await browser(url)

    auth = OAuth(interaction=slow_person, redirect_uri=REDIRECT)

    async def async_side() -> str:
        async with AsyncClient(oauth_server.url, auth=auth, timeout=30) as aclient:
            result = await aclient.call_tool("echo", {"text": "async"})
            return result.content[0].text  # type: ignore[union-attr]

    async def notebook() -> None:
        signing_in = asyncio.ensure_future(async_side())
        await at_browser.wait()
        client = Client(oauth_server.url, auth=auth, timeout=20)
        try:
            started = time.monotonic()
            with pytest.raises(CredentialInUseError, match="AsyncClient in async code"):
                client.connect()  # a cell's plain call
            assert time.monotonic() - started < 2
            person.set()
            assert await signing_in == "async"
            # Signed in now: the same credential serves the blocking client.
            result = client.call_tool("echo", {"text": "sync"})
            assert result.content[0].text == "sync"  # type: ignore[union-attr]
        finally:
            client.close()
        assert browser.logins == 1

    asyncio.run(notebook())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


async def test_short_tokens_are_refreshed_early_and_once_per_lifetime(
    faults: ServerFaults,
) -> None:
    settings = AuthServerSettings(access_token_lifetime=5.0)
    with ServerThread.running(faults, oauth=settings) as st:
        auth = oauth(Browser())
        async with AsyncClient(st.server.url, auth=auth, timeout=10) as client:
            await client.ping()
            started = asyncio.get_running_loop().time()
            while asyncio.get_running_loop().time() - started < 8.0:
                await asyncio.gather(*(client.ping() for _ in range(5)))
                await asyncio.sleep(0.05)
        server = st.server.auth_server
        assert server is not None
        # refreshed 1.25 s (a quarter of 5 s) before each expiry: 2 in 8 s, never more
        assert server.token_requests["refresh_token"] == 2
        refused = [r for r in st.server.requests if r.status == 401]
        assert len(refused) == 1  # only the very first request: proactive, never late


def test_many_threads_at_expiry_share_one_refresh(oauth_server: ReferenceServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with Client(oauth_server.url, auth=oauth(Browser()), timeout=20) as client:
        client.ping()
        authz(oauth_server).expire_all()
        with ThreadPoolExecutor(50) as pool:
            texts = list(
                pool.map(
                    lambda i: client.call_tool("echo", {"text": str(i)}).content[0].text,  # type: ignore[union-attr]
                    range(50),
                )
            )
    assert texts == [str(i) for i in range(50)]
    assert authz(oauth_server).token_requests["refresh_token"] == 1


# -- hostile authorization-server replies ----------------------------------------------------


async def test_json_nested_too_deeply_is_an_auth_error_not_a_crash(
    raw_server: Callable[..., Any],
) -> None:
    # An authorization server's metadata, registration and token replies of 1 MiB or less
    # nested deeper than the parser goes: discovery skips the document, registration and
    # token requests raise AuthError (not RecursionError).
    from aiohttp import web

    from duomcp.auth import MemoryTokenStorage
    from duomcp.auth._discovery import Discovery, _get_json
    from duomcp.auth._registration import register
    from duomcp.auth._session import AuthHTTP
    from duomcp.auth._tokens import post_form

    deep = b"[" * 200_000 + b"]" * 200_000

    async def nested(request: web.Request) -> web.Response:
        return web.Response(body=deep, status=200, content_type="application/json")

    base = (await raw_server(nested, every_path=True)).removesuffix("/mcp")
    http = AuthHTTP()
    try:
        assert await _get_json(http, f"{base}/.well-known/oauth-authorization-server") is None
        with pytest.raises(AuthError, match="without JSON"):
            await post_form(http, f"{base}/token", {"grant_type": "x"}, {}, what="a test")
        found = Discovery(
            issuer=base,
            resource=f"{base}/mcp",
            metadata_issuer=base,
            authorization_endpoint=f"{base}/authorize",
            token_endpoint=f"{base}/token",
            registration_endpoint=f"{base}/register",
        )
        with pytest.raises(AuthError, match="without a client_id"):
            await register(
                http,
                found,
                storage=MemoryTokenStorage(),
                redirect_uri="http://127.0.0.1:1/callback",
                client_name="test",
            )
    finally:
        await http.aclose()
