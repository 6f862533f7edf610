"""Client driver for the official MCP conformance suite (@modelcontextprotocol/conformance).

The suite runs ``client.py <server-url>`` with the scenario's name in
``MCP_CONFORMANCE_SCENARIO``; this script does what a real application would do in that
scenario with duomcp's public API, and exits non-zero on any error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import Any

import aiohttp

from duomcp import AsyncClient
from duomcp.auth import Auth, ClientCredentials, CrossAppAccess, OAuth
from duomcp.types import ElicitRequestFormParams, ElicitRequestURLParams, ElicitResult

REDIRECT_URI = "http://localhost:3000/callback"
CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json"

# scenario -> (tool to call, its arguments); scenarios not listed only connect and list
SCENARIO_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "tools_call": ("add_numbers", {"a": 5, "b": 3}),
    "elicitation-sep1034-client-defaults": ("test_client_elicitation_defaults", {}),
    "sse-retry": ("test_reconnection", {}),
    "auth/scope-step-up": ("test-tool", {}),
}


async def accept_with_defaults(
    params: ElicitRequestFormParams | ElicitRequestURLParams,
) -> ElicitResult:
    """Accept every form without filling anything: duomcp supplies the schema defaults."""
    return ElicitResult(action="accept", content={})


async def headless_login(authorization_url: str) -> str:
    """Stand-in for the user's browser: the test server approves at once with a redirect."""
    async with aiohttp.ClientSession() as http:
        async with http.get(authorization_url, allow_redirects=False) as resp:
            location = resp.headers.get("Location")
    if not location:
        raise SystemExit(f"the authorization endpoint did not redirect ({resp.status})")
    return location


def oauth_for(scenario: str) -> Auth | None:
    if not scenario.startswith("auth/"):
        return None
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT", "{}"))
    if scenario == "auth/client-credentials-basic":
        return ClientCredentials(
            client_id=context["client_id"], client_secret=context["client_secret"]
        )
    if scenario == "auth/client-credentials-jwt":
        return ClientCredentials(
            client_id=context["client_id"],
            private_key_pem=context["private_key_pem"],
            signing_algorithm=context["signing_algorithm"],
        )
    if scenario == "auth/cross-app-access-complete-flow":
        return CrossAppAccess(
            client_id=context["client_id"],
            client_secret=context["client_secret"],
            id_token=context["idp_id_token"],
            idp_token_endpoint=context["idp_token_endpoint"],
            idp_client_id=context.get("idp_client_id"),
        )
    return OAuth(
        interaction=headless_login,
        redirect_uri=REDIRECT_URI,
        client_id=context.get("client_id"),
        client_secret=context.get("client_secret"),
        client_metadata_url=CLIENT_METADATA_URL,
    )


async def run(url: str, scenario: str) -> None:
    async with AsyncClient(
        url, timeout=20, auth=oauth_for(scenario), elicitation_handler=accept_with_defaults
    ) as client:
        tools = {tool.name for tool in await client.list_tools()}
        call = SCENARIO_CALLS.get(scenario)
        if call is None:
            return
        name, arguments = call
        if name not in tools:
            raise SystemExit(f"scenario {scenario}: the server lists no tool {name!r}: {tools}")
        result = await client.call_tool(name, arguments)
        if result.is_error:
            raise SystemExit(f"scenario {scenario}: tool {name} failed: {result.content}")
        print(f"{scenario}: {name} -> {result.content}")


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    if len(sys.argv) < 2:
        raise SystemExit("usage: client.py <server-url>  (scenario in MCP_CONFORMANCE_SCENARIO)")
    asyncio.run(run(sys.argv[-1], os.environ.get("MCP_CONFORMANCE_SCENARIO", "")))


if __name__ == "__main__":
    main()
