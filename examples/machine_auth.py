"""Machines signing in without a person: client credentials, and workload identity.

Starts the reference server with its authorization server, registers a service client
and a workload, then calls a tool with each grant:

- ClientCredentials: a service with its own client secret (or private key);
- WorkloadIdentity: a workload whose platform (Kubernetes, a cloud) issues it a signed
  JWT; that token is the assertion of a JWT bearer grant (RFC 7523). Here a key made on
  the spot plays the platform.
- CrossAppAccess (enterprise-managed authorization, SEP-990): an application that holds
  a user's ID token from the company's identity provider exchanges it there (RFC 8693)
  for an identity assertion, the assertion of a JWT bearer grant at the MCP server's
  authorization server. Here a small endpoint plays the identity provider, signing with
  the same key.

Needs the `jwt` extra (PyJWT with cryptography) for the platform's signature.
Run: .venv/bin/python examples/machine_auth.py
"""

from __future__ import annotations

import asyncio
import time

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from duomcp import AsyncClient
from duomcp.auth import ClientCredentials, CrossAppAccess, WorkloadIdentity
from duomcp.testing import AuthServerSettings, ReferenceServer

PLATFORM_KEY = ec.generate_private_key(ec.SECP256R1())
PLATFORM_PUBLIC = (
    PLATFORM_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


async def main() -> None:
    settings = AuthServerSettings(jwt_bearer_key=PLATFORM_PUBLIC)  # trusts the platform
    async with ReferenceServer(oauth=settings) as server:
        authz = server.auth_server
        assert authz is not None
        authz.clients["svc"] = {  # registered by an administrator beforehand
            "client_id": "svc",
            "client_secret": "svc-secret",
            "redirect_uris": [],
            "token_endpoint_auth_method": "client_secret_basic",
        }
        authz.clients["workload"] = {
            "client_id": "workload",
            "redirect_uris": [],
            "token_endpoint_auth_method": "none",
        }

        service = ClientCredentials(client_id="svc", client_secret="svc-secret")
        async with AsyncClient(server.url, auth=service) as client:
            result = await client.call_tool("echo", {"text": "as a service"})
            print(f"client credentials -> {result.text}")

        def platform_token() -> str:  # what the platform would hand the workload
            now = int(time.time())
            claims = {"iss": "https://platform.example", "sub": "job-42", "aud": authz.issuer}
            claims.update(iat=now, exp=now + 300)
            return jwt.encode(claims, PLATFORM_KEY, algorithm="ES256")

        workload = WorkloadIdentity(client_id="workload", assertion=platform_token)
        async with AsyncClient(server.url, auth=workload) as client:
            result = await client.call_tool("echo", {"text": "as a workload"})
            print(f"workload identity -> {result.text}")

        async def idp_token(request: web.Request) -> web.Response:  # the identity provider
            form = await request.post()
            assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
            now = int(time.time())
            claims = {"iss": "https://idp.example", "sub": "ada", "aud": form["audience"]}
            claims.update(iat=now, exp=now + 300, resource=str(form["resource"]))
            token = jwt.encode(claims, PLATFORM_KEY, algorithm="ES256")
            issued = "urn:ietf:params:oauth:token-type:id-jag"
            return web.json_response(
                {"access_token": token, "issued_token_type": issued, "token_type": "N_A"}
            )

        idp = web.Application()
        idp.router.add_post("/token", idp_token)
        runner = web.AppRunner(idp)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        authz.clients["app"] = {
            "client_id": "app",
            "client_secret": "app-secret",
            "redirect_uris": [],
            "token_endpoint_auth_method": "client_secret_basic",
        }
        enterprise = CrossAppAccess(
            client_id="app",
            client_secret="app-secret",
            id_token="the-users-id-token-from-the-company-sign-in",
            idp_token_endpoint=f"http://127.0.0.1:{port}/token",
        )
        try:
            async with AsyncClient(server.url, auth=enterprise) as client:
                result = await client.call_tool("echo", {"text": "for Ada, via her company"})
                print(f"enterprise-managed -> {result.text}")
        finally:
            await runner.cleanup()
        print(f"grants at the authorization server: {dict(authz.token_requests)}")


if __name__ == "__main__":
    asyncio.run(main())
