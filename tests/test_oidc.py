"""OAuth against a real authorization server: node-oidc-provider (OpenID Certified),
configured the way deployments are (tests/oidc/provider.mjs): dynamic registration, PKCE
S256 required, resource indicators issuing JWT access tokens for the MCP server's URL,
refresh tokens, DPoP, revocation, and its own login and consent pages, which a scripted
user fills in.

The MCP server is the reference server (both eras, no OAuth of its own) behind a small
protected-resource gateway written here: RFC 9728 metadata naming the provider, 401 with
``resource_metadata`` without a token, JWT access tokens checked against the provider's
JWKS (signature, issuer, audience, expiry) and, for DPoP-bound ones, the proof (signature,
``htm``, ``htu``, ``ath``, ``iat``, fresh ``jti``, key thumbprint = the token's
``cnf.jkt``). It records every request with its verdict.

Needs ``.ci-cache/oidc`` (``bash .ci/install-npm-pinned.sh tests/oidc oidc oidc-provider``);
the module is skipped without it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import http.cookiejar
import itertools
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import jwt
import pytest
from aiohttp import web

from duomcp import AsyncClient, Client
from duomcp.auth import DPoPKey, OAuth
from duomcp.testing import ServerFaults

from .conftest import ServerThread

ROOT = Path(__file__).resolve().parents[1]
PREFIX = ROOT / ".ci-cache" / "oidc"
PROVIDER_JS = ROOT / "tests" / "oidc" / "provider.mjs"
NODE_22 = ROOT / ".ci-cache" / "node" / "node_modules" / ".bin" / "node"

if not (PREFIX / "node_modules" / "oidc-provider" / "package.json").is_file():
    pytest.skip(
        "node-oidc-provider is not installed in .ci-cache/oidc "
        "(run: bash .ci/install-npm-pinned.sh tests/oidc oidc oidc-provider)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.node

TOKEN_TTL = 5  # seconds: the provider's access-token lifetime
SCOPE = "mcp:tools"
REDIRECT = "http://127.0.0.1:1/callback"  # never fetched: the browser stops at it
LEEWAY = 1  # the provider's iat/exp are whole seconds: the gateway allows 1 s of skew
ERAS = ["legacy", "modern"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _thumbprint(jwk: dict[str, Any]) -> str:
    members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    return _b64(hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest())


def _opener(jar: http.cookiejar.CookieJar | None = None) -> urllib.request.OpenerDirector:
    """urllib without proxies and without following redirects (a 3xx raises HTTPError)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({}), NoRedirect()]
    if jar is not None:
        handlers.append(urllib.request.HTTPCookieProcessor(jar))
    return urllib.request.build_opener(*handlers)


def _fetch(
    url: str, form: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request (a POST of ``form`` if given): status, headers, body."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with _opener().open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


# -- the authorization server ------------------------------------------------------------


class OIDCProvider:
    """tests/oidc/provider.mjs in a Node process; its events are counted per client."""

    def __init__(self, resource: str, log_path: Path) -> None:
        node = str(NODE_22) if NODE_22.exists() else shutil.which("node")
        assert node, "no node binary: run bash .ci/install-node.sh"
        command = [node, str(PROVIDER_JS), "--prefix", str(PREFIX), "--resource", resource]
        command += ["--access-token-ttl", str(TOKEN_TTL), "--scope", SCOPE]
        self.log_path = log_path
        self._log = log_path.open("wb")
        env = {**os.environ, "NODE_ENV": "test"}
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL, env=env
        )
        ready: list[bytes] = []
        reader = threading.Thread(target=lambda: ready.append(self.process.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(30)
        if not ready or not ready[0]:
            self.stop()
            pytest.fail(f"the OIDC provider did not start:\n{self.log_tail()}")
        self.issuer: str = json.loads(ready[0])["issuer"]
        status, _, body = _fetch(f"{self.issuer}/.well-known/openid-configuration")
        assert status == 200, body
        self.metadata: dict[str, Any] = json.loads(body)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def events(self, client_id: str | None = None, name: str | None = None) -> list[dict[str, Any]]:
        status, _, body = _fetch(f"{self.issuer}/_test/events")
        assert status == 200, body
        return [
            e
            for e in json.loads(body)["events"]
            if (client_id is None or e["client_id"] == client_id)
            and (name is None or e["name"] == name)
        ]

    def grants(self, client_id: str, grant_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events(client_id, "grant.success") if e["grant_type"] == grant_type]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


# -- the protected resource --------------------------------------------------------------


@attrs.frozen
class Seen:
    """One request to the gateway's MCP endpoint and what the gateway made of it."""

    method: str
    headers: dict[str, str]  # names lower-cased
    status: int  # 401 when refused, else the upstream's status
    claims: dict[str, Any] | None = None  # the access token's, when it was valid
    proof: dict[str, Any] | None = None  # the DPoP proof's, when there was a valid one


class Refused(Exception):
    def __init__(self, error: str, scheme: str = "Bearer") -> None:
        super().__init__(error)
        self.error, self.scheme = error, scheme


_HOP_BY_HOP = {
    "authorization",
    "dpop",
    "host",
    "connection",
    "keep-alive",
    "content-length",
    "transfer-encoding",
    "accept-encoding",
    "content-encoding",
}


class Gateway:
    """An OAuth protected resource in front of an MCP server without OAuth."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.url = ""
        self.issuer = ""
        self.requests: list[Seen] = []
        self._keys: jwt.PyJWKSet | None = None
        self._jtis: set[str] = set()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def prm_url(self) -> str:
        return self.url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/.well-known/oauth-protected-resource/mcp", self._metadata)
        app.router.add_route("*", "/mcp", self._mcp)
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/mcp"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        self._session = aiohttp.ClientSession(timeout=timeout, trust_env=False)
        return self.url

    def trust(self, issuer: str, jwks: dict[str, Any]) -> None:
        """Accept tokens of ``issuer`` signed by a key of ``jwks``."""
        self.issuer, self._keys = issuer, jwt.PyJWKSet.from_dict(jwks)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _metadata(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "resource": self.url,
                "authorization_servers": [self.issuer],
                "scopes_supported": [SCOPE],
                "bearer_methods_supported": ["header"],
                "dpop_signing_alg_values_supported": ["ES256"],
            }
        )

    async def _mcp(self, request: web.Request) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            claims, proof = self._check(request)
        except Refused as refused:
            self.requests.append(Seen(request.method, headers, 401))
            challenge = f'{refused.scheme} error="{refused.error}", '
            if refused.error == "invalid_request":  # no token at all
                challenge = f"{refused.scheme} "
            challenge += f'resource_metadata="{self.prm_url}"'
            if refused.scheme == "DPoP":
                challenge += ', algs="ES256"'
            return web.json_response(
                {"error": refused.error}, status=401, headers={"WWW-Authenticate": challenge}
            )
        return await self._forward(request, headers, claims, proof)

    def _check(self, request: web.Request) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The valid access token's claims and its valid DPoP proof's (None for bearer)."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() not in ("bearer", "dpop") or not token:
            raise Refused("invalid_request")
        assert self._keys is not None
        try:
            header = jwt.get_unverified_header(token)
            if header.get("typ") != "at+jwt":
                raise Refused("invalid_token")
            claims: dict[str, Any] = jwt.decode(
                token,
                self._keys[header["kid"]].key,
                algorithms=["ES256"],
                audience=self.url,
                issuer=self.issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iat", "aud", "iss", "jti", "client_id"]},
            )
        except (jwt.PyJWTError, KeyError) as exc:
            raise Refused("invalid_token") from exc
        if SCOPE not in str(claims.get("scope", "")).split():
            raise Refused("insufficient_scope")
        jkt = (claims.get("cnf") or {}).get("jkt")
        if jkt is None:
            if scheme.lower() != "bearer":
                raise Refused("invalid_token")
            return claims, None
        if scheme.lower() != "dpop":  # a bound token presented as a bearer token
            raise Refused("invalid_token", "DPoP")
        return claims, self._check_proof(request, token, jkt)

    def _check_proof(self, request: web.Request, token: str, jkt: str) -> dict[str, Any]:
        proofs = request.headers.getall("DPoP", [])
        if len(proofs) != 1:
            raise Refused("invalid_dpop_proof", "DPoP")
        try:
            header = jwt.get_unverified_header(proofs[0])
            jwk = header["jwk"]
            if header.get("typ") != "dpop+jwt" or header.get("alg") != "ES256" or "d" in jwk:
                raise Refused("invalid_dpop_proof", "DPoP")
            claims: dict[str, Any] = jwt.decode(
                proofs[0],
                jwt.PyJWK(jwk, "ES256").key,
                algorithms=["ES256"],
                options={"require": ["jti", "htm", "htu", "iat", "ath"]},
            )
        except (jwt.PyJWTError, KeyError, TypeError) as exc:
            raise Refused("invalid_dpop_proof", "DPoP") from exc
        ath = _b64(hashlib.sha256(token.encode()).digest())
        if (
            claims["htm"] != request.method
            or claims["htu"] != self.url
            or claims["ath"] != ath
            or abs(time.time() - float(claims["iat"])) > 30
            or claims["jti"] in self._jtis
        ):
            raise Refused("invalid_dpop_proof", "DPoP")
        if _thumbprint(jwk) != jkt:  # proof by another key than the token's
            raise Refused("invalid_token", "DPoP")
        self._jtis.add(claims["jti"])
        return claims

    async def _forward(
        self, request: web.Request, seen: dict[str, Any], claims: dict[str, Any], proof: Any
    ) -> web.StreamResponse:
        """The reference server's answer, streamed (SSE) or whole (JSON); recorded as soon
        as its status is known."""
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        body = await request.read() if request.can_read_body else None
        async with self._session.request(
            request.method, self.upstream, headers=headers, data=body, allow_redirects=False
        ) as upstream:
            self.requests.append(Seen(request.method, seen, upstream.status, claims, proof))
            out_headers = {
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP
            }
            if not upstream.content_type.startswith("text/event-stream"):
                return web.Response(
                    status=upstream.status, headers=out_headers, body=await upstream.read()
                )
            response = web.StreamResponse(status=upstream.status, headers=out_headers)
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response


# -- the user ----------------------------------------------------------------------------


class _Forms(HTMLParser):
    """A page's heading and its forms: action, method, the named inputs (type, value)."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.forms: list[dict[str, Any]] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "h1":
            self._in_title = True
        elif tag == "form":
            self.forms.append({**attributes, "inputs": []})
        elif tag == "input" and self.forms and attributes.get("name"):
            self.forms[-1]["inputs"].append(attributes)

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data.strip()


class ScriptedUser:
    """A person with a browser: follows the authorization URL, fills in the provider's
    login form and approves its consent form, and stops at the redirect to the client
    (whose URL, with ``code``, ``state`` and ``iss``, is the interaction's answer).

    A plain function (OAuth runs it in a worker thread), so both flavours use it."""

    def __init__(self, login: str = "ada", password: str = "correct horse") -> None:
        self.login, self.password = login, password
        self.pages: list[str] = []
        """The heading of every page shown, in order ("Sign-in", "Authorize")."""
        self.redirects: list[str] = []

    def __call__(self, url: str) -> str:
        jar = http.cookiejar.CookieJar()  # a fresh browser profile per sign-in
        opener = _opener(jar)
        request: urllib.request.Request = urllib.request.Request(url)
        for _ in range(20):
            try:
                with opener.open(request, timeout=10) as response:
                    page, base = response.read().decode(), response.url
            except urllib.error.HTTPError as exc:
                with exc:
                    location = exc.headers.get("Location")
                    if exc.code not in (302, 303) or not location:
                        raise AssertionError(f"{exc.code} at {exc.url}: {exc.read()!r}") from None
                target = urllib.parse.urljoin(request.full_url, location)
                if target.split("?", 1)[0] == REDIRECT:
                    self.redirects.append(target)
                    return target
                request = urllib.request.Request(target)
                continue
            request = self._submit(page, base)
        raise AssertionError("the sign-in did not reach the redirect URI")

    def _submit(self, page: str, base: str) -> urllib.request.Request:
        parser = _Forms()
        parser.feed(page)
        self.pages.append(parser.title)
        forms = [f for f in parser.forms if f.get("method", "get").lower() == "post"]
        assert len(forms) == 1, page
        fields: dict[str, str] = {}
        for field in forms[0]["inputs"]:
            kind, name = field.get("type", "text"), field["name"]
            if kind == "password":
                fields[name] = self.password
            elif kind == "text" and name == "login":
                fields[name] = self.login
            else:
                fields[name] = field.get("value", "")
        action = urllib.parse.urljoin(base, forms[0].get("action", ""))
        return urllib.request.Request(action, data=urllib.parse.urlencode(fields).encode())


# -- fixtures ----------------------------------------------------------------------------


@attrs.define
class Deployment:
    provider: OIDCProvider
    gateway: Gateway
    thread: ServerThread

    def oauth(self, user: ScriptedUser | None = None) -> OAuth:
        return OAuth(interaction=user or ScriptedUser(), redirect_uri=REDIRECT)

    def refusals(self) -> list[Seen]:
        return [r for r in self.gateway.requests if r.status == 401]

    def accepted(self) -> list[Seen]:
        return [r for r in self.gateway.requests if r.claims is not None]


@pytest.fixture(scope="module")
def deployment_once() -> Iterator[Deployment]:
    """The reference server (both eras), its gateway and the provider, for the module."""
    thread = ServerThread(ServerFaults(), era="dual")
    gateway = Gateway(thread.server.url)
    provider: OIDCProvider | None = None
    logs = Path(tempfile.mkdtemp(prefix="duomcp-oidc-"))
    try:
        thread.run(gateway.start())
        provider = OIDCProvider(gateway.url, logs / "provider.log")
        status, _, body = _fetch(provider.metadata["jwks_uri"])
        assert status == 200, body
        gateway.trust(provider.issuer, json.loads(body))
        yield Deployment(provider, gateway, thread)
    finally:
        with contextlib.suppress(Exception):
            thread.run(gateway.close())
        thread.stop()
        if provider is not None:
            provider.stop()
        shutil.rmtree(logs, ignore_errors=True)


@pytest.fixture
def deployment(deployment_once: Deployment) -> Iterator[Deployment]:
    deployment_once.gateway.requests.clear()
    yield deployment_once
    errors = deployment_once.provider.events(name="server_error")
    assert not errors, deployment_once.provider.log_tail()


def _check_signed_in(d: Deployment, auth: OAuth, user: ScriptedUser) -> str:
    """What every sign-in must show; returns the client id."""
    assert user.pages == ["Sign-in", "Authorize"]  # the provider's login, then consent
    assert len(user.redirects) == 1
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(user.redirects[0]).query)
    assert query["iss"] == [d.provider.issuer] and "code" in query
    assert auth.tokens is not None and auth.tokens.refresh_token
    client_id = jwt.decode(auth.tokens.access_token, options={"verify_signature": False})[
        "client_id"
    ]
    assert d.provider.events(client_id, "registration_create.success")  # dynamic registration
    assert len(d.provider.grants(client_id, "authorization_code")) == 1
    first = d.gateway.requests[0]
    assert first.status == 401 and "authorization" not in first.headers
    # every request after the sign-in carried a valid DPoP-bound JWT and a valid proof
    assert d.refusals() == [first]
    assert d.accepted() == d.gateway.requests[1:]
    return str(client_id)


def _check_dpop(d: Deployment, auth: OAuth) -> None:
    """The tokens are DPoP-bound to the client's key and every request proved it."""
    tokens, key = auth.tokens, auth.dpop_key
    assert tokens is not None and key is not None
    assert tokens.dpop and tokens.token_type == "DPoP"
    assert tokens.authorization.startswith("DPoP ")
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    assert jwt.get_unverified_header(tokens.access_token)["typ"] == "at+jwt"
    assert claims["aud"] == d.gateway.url and claims["iss"] == d.provider.issuer
    assert claims["cnf"] == {"jkt": key.thumbprint()}
    assert claims["exp"] - claims["iat"] == TOKEN_TTL
    assert SCOPE in claims["scope"].split()
    accepted = d.accepted()
    assert accepted and all(r.proof is not None for r in accepted)
    assert all(r.headers["authorization"].startswith("DPoP ") for r in accepted)
    assert len({r.headers["dpop"] for r in accepted}) == len(accepted)  # fresh proofs


# -- tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
async def test_sign_in_then_calls(deployment: Deployment, era: Any) -> None:
    user = ScriptedUser()
    auth = deployment.oauth(user)
    async with AsyncClient(deployment.gateway.url, auth=auth, era=era, timeout=20) as client:
        result = await client.call_tool("echo", {"text": "through oidc-provider"})
        assert "through oidc-provider" in result.text
        assert client.era == era
        await client.list_tools()
    await auth.aclose()
    _check_signed_in(deployment, auth, user)
    _check_dpop(deployment, auth)
    assert {r.method for r in deployment.accepted()} >= {"POST"}
    if era == "legacy":  # the GET stream and the DELETE at close carried them too
        assert {"GET", "DELETE"} <= {r.method for r in deployment.accepted()}


@pytest.mark.parametrize("era", ERAS)
def test_sign_in_then_calls_blocking(deployment: Deployment, era: Any) -> None:
    user = ScriptedUser()
    auth = deployment.oauth(user)
    with Client(deployment.gateway.url, auth=auth, era=era, timeout=20) as client:
        result = client.call_tool("echo", {"text": "blocking"})
        assert "blocking" in result.text
        assert client.era == era
    _check_signed_in(deployment, auth, user)
    _check_dpop(deployment, auth)


def _check_refreshes(d: Deployment, client_id: str, started: float) -> None:
    """A refresh near the end of each token's life, and never two for one token."""
    issued = [
        e["at"]
        for e in d.provider.events(client_id, "grant.success")
        if e["grant_type"] in ("authorization_code", "refresh_token")
    ]
    refreshes = d.provider.grants(client_id, "refresh_token")
    elapsed = time.time() - started
    # refreshed when a quarter of the lifetime is left: every 3.75 s
    assert int(elapsed / TOKEN_TTL) <= len(refreshes) <= int(elapsed / (0.75 * TOKEN_TTL)) + 1
    gaps = [b - a for a, b in itertools.pairwise(issued)]
    assert all(gap >= 0.6 * TOKEN_TTL for gap in gaps), gaps  # one refresh per lifetime
    assert not d.provider.events(client_id, "grant.error")
    assert d.refusals() == d.gateway.requests[:1]  # never an expired token at the gateway


async def test_refresh_of_5_second_tokens(deployment: Deployment) -> None:
    auth = deployment.oauth()
    async with AsyncClient(deployment.gateway.url, auth=auth, era="modern", timeout=20) as client:
        await client.call_tool("echo", {"text": "first"})
        started = time.time()
        key = auth.dpop_key
        while time.time() - started < 12:  # bursts of concurrent calls share each refresh
            texts = [f"call {i}" for i in range(4)]
            results = await asyncio.gather(*(client.call_tool("echo", {"text": t}) for t in texts))
            assert [t in r.text for r, t in zip(results, texts, strict=True)] == [True] * 4
            await asyncio.sleep(0.2)
    await auth.aclose()
    assert auth.dpop_key is key  # refreshed tokens stay bound to the same key
    assert auth.tokens is not None
    client_id = jwt.decode(auth.tokens.access_token, options={"verify_signature": False})[
        "client_id"
    ]
    _check_refreshes(deployment, client_id, started)
    _check_dpop(deployment, auth)
    assert len({r.claims["jti"] for r in deployment.accepted() if r.claims}) >= 3


def test_refresh_of_5_second_tokens_blocking(deployment: Deployment) -> None:
    auth = deployment.oauth()
    with Client(deployment.gateway.url, auth=auth, era="legacy", timeout=20) as client:
        client.call_tool("echo", {"text": "first"})
        started = time.time()
        while time.time() - started < 12:
            assert "again" in client.call_tool("echo", {"text": "again"}).text
            time.sleep(0.2)
    assert auth.tokens is not None
    client_id = jwt.decode(auth.tokens.access_token, options={"verify_signature": False})[
        "client_id"
    ]
    _check_refreshes(deployment, client_id, started)
    _check_dpop(deployment, auth)


async def test_the_gateway_holds_tokens_to_their_key(deployment: Deployment) -> None:
    """The gateway is no pushover: the token without a proof, or with another key's proof,
    is refused (so the checks above mean something)."""
    auth = deployment.oauth()
    async with AsyncClient(deployment.gateway.url, auth=auth, era="modern", timeout=20) as client:
        await client.ping()
    await auth.aclose()
    assert auth.tokens is not None and auth.dpop_key is not None
    token, url = auth.tokens.access_token, deployment.gateway.url
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    stranger = DPoPKey.generate()
    attempts = {
        "bearer": {"Authorization": f"Bearer {token}"},
        "no proof": {"Authorization": f"DPoP {token}"},
        "another key": {
            "Authorization": f"DPoP {token}",
            "DPoP": stranger.proof("POST", url, access_token=token),
        },
        "wrong url": {
            "Authorization": f"DPoP {token}",
            "DPoP": auth.dpop_key.proof("POST", url + "/x", access_token=token),
        },
    }
    for what, headers in attempts.items():
        session = aiohttp.ClientSession(trust_env=False)
        async with session, session.post(url, data=body, headers=headers) as response:
            assert response.status == 401, what
            assert response.headers["WWW-Authenticate"].startswith("DPoP "), what


def _introspect(d: Deployment, client_id: str, token: str) -> dict[str, Any]:
    status, _, body = _fetch(
        d.provider.metadata["introspection_endpoint"],
        {"token": token, "token_type_hint": "refresh_token", "client_id": client_id},
    )
    assert status == 200, body
    return dict(json.loads(body))


def _refresh(d: Deployment, client_id: str, token: str, key: DPoPKey) -> tuple[int, Any]:
    endpoint = d.provider.metadata["token_endpoint"]
    form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id}
    status, _, body = _fetch(endpoint, form, {"DPoP": key.proof("POST", endpoint)})
    return status, json.loads(body)


async def test_sign_out_revokes_at_the_provider(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    auth = deployment.oauth()
    async with AsyncClient(deployment.gateway.url, auth=auth, era="modern", timeout=20) as client:
        await client.call_tool("echo", {"text": "before"})
    tokens, key = auth.tokens, auth.dpop_key
    assert tokens is not None and tokens.refresh_token and key is not None
    client_id = jwt.decode(tokens.access_token, options={"verify_signature": False})["client_id"]
    introspected = await asyncio.to_thread(_introspect, deployment, client_id, tokens.refresh_token)
    assert introspected["active"] is True and introspected["client_id"] == client_id
    assert introspected["cnf"] == {"jkt": key.thumbprint()}  # the refresh token is bound too

    caplog.set_level(logging.WARNING, logger="duomcp.auth")
    assert await auth.sign_out()
    await auth.aclose()
    assert auth.tokens is None
    assert deployment.provider.events(client_id, "grant.revoked")  # the whole grant ended
    introspected = await asyncio.to_thread(_introspect, deployment, client_id, tokens.refresh_token)
    assert introspected == {"active": False}
    status, reply = await asyncio.to_thread(
        _refresh, deployment, client_id, tokens.refresh_token, key
    )
    assert (status, reply["error"]) == (400, "invalid_grant")
    # oidc-provider does not revoke self-contained (JWT) access tokens: they run out (5 s)
    assert "revoking the access_token" in caplog.text
    assert tokens.access_token not in caplog.text and tokens.refresh_token not in caplog.text


async def test_a_new_sign_in_after_sign_out(deployment: Deployment) -> None:
    """After sign-out the client signs in again at the provider (registration kept)."""
    user = ScriptedUser()
    auth = deployment.oauth(user)
    async with AsyncClient(deployment.gateway.url, auth=auth, era="modern", timeout=20) as client:
        await client.ping()
        first = auth.tokens
        assert first is not None
        assert await auth.sign_out()
        await client.ping()  # 401 -> sign in again
    await auth.aclose()
    assert auth.tokens is not None and auth.tokens.access_token != first.access_token
    client_id = jwt.decode(first.access_token, options={"verify_signature": False})["client_id"]
    again = jwt.decode(auth.tokens.access_token, options={"verify_signature": False})
    assert again["client_id"] == client_id  # the same registration
    assert len(deployment.provider.events(client_id, "registration_create.success")) == 1
    assert len(deployment.provider.grants(client_id, "authorization_code")) == 2
    assert user.pages == ["Sign-in", "Authorize"] * 2
