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
from duomcp.auth import Auth, ClientCredentials, CrossAppAccess, OAuth, WorkloadIdentity
from duomcp.skills import SkillVerificationError
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
    if scenario == "auth/wif-jwt-bearer":
        # workload identity federation: the platform's token is the JWT bearer assertion
        return WorkloadIdentity(client_id=context["client_id"], assertion=context["valid_jwt"])
    # SEP-990: the released suite's name, then the pre-release suite's
    if scenario in ("auth/cross-app-access-complete-flow", "auth/enterprise-managed-authorization"):
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


# The 2026-07-28 scenarios (suite 0.2.x): what an application does there, by scenario.
CUSTOM_HEADER_ARGUMENTS = {
    "region": "us-west1",
    "priority": 42,
    "verbose": True,
    "debug": False,
    "non_ascii_val": "Hello, 世界",
    "whitespace_val": " padded ",
    "leading_space_val": " lead",
    "trailing_space_val": "trail ",
    "internal_space_val": "a b c",
    "control_char_val": "bell\x07",
    "crlf_val": "line1\r\nline2",
    "tab_val": "\ttabbed",
    "float_val": 1.5,
    "query": "SELECT 1",
}


async def exercise_everything(client: AsyncClient) -> None:
    """Call every tool (with its required string arguments), read every resource, get
    every prompt: what an application browsing a server does."""
    for tool in await client.list_tools():
        required = tool.input_schema.get("required") or []
        properties = tool.input_schema.get("properties") or {}
        arguments = {
            name: "conformance"
            for name in required
            if properties.get(name, {}).get("type") == "string"
        }
        await client.call_tool(tool.name, arguments)
    caps = client.server_capabilities
    if caps is not None and caps.resources is not None:
        for resource in await client.list_resources():
            await client.read_resource(resource.uri)
    if caps is not None and caps.prompts is not None:
        for prompt in await client.list_prompts():
            await client.get_prompt(prompt.name)


async def run_modern(client: AsyncClient, scenario: str) -> bool:
    """Run a 2026-07-28 scenario; False when ``scenario`` is not one."""
    if scenario == "http-standard-headers" or scenario == "http-invalid-tool-headers":
        await exercise_everything(client)
    elif scenario == "http-custom-headers":
        await client.list_tools()
        await client.call_tool("test_custom_headers", CUSTOM_HEADER_ARGUMENTS)
        await client.call_tool(
            "test_custom_headers_null",
            {"region": "eu-north1", "priority": 7, "verbose": None, "query": "q"},
        )
    elif scenario == "sep-2322-client-request-state":
        for name in ("test_mrtr_echo_state", "test_mrtr_no_state", "test_mrtr_no_result_type"):
            await client.call_tool(name, {})
    elif scenario == "json-schema-2020-12-preservation":
        tools = {tool.name: tool for tool in await client.list_tools()}
        focal = tools["json_schema_2020_12_tool"]
        await client.call_tool("json_schema_echo", {"schema": dict(focal.input_schema)})
    elif scenario in ("request-metadata", "json-schema-ref-no-deref"):
        await client.list_tools()
    elif scenario == "sep-2640-client-no-prefetch":
        skills = await client.list_skills()  # listed, approved: nothing is read yet
        print(f"skills offered: {[skill.name for skill in skills]}")
    elif scenario.startswith("sep-2640-client-verify-"):
        for skill in await client.list_skills():
            try:
                loaded = await client.load_skill(skill)
            except SkillVerificationError as exc:
                print(f"refused skill {skill.name!r}: {exc.check} check failed")
                continue  # its other files are never read
            for entry in skill.files:
                if entry.uri != skill.uri:
                    await client.read_skill_file(skill, entry.uri)
            print(f"loaded skill {loaded.skill.name!r}")
    else:
        return False
    return True


async def run(url: str, scenario: str) -> None:
    client = AsyncClient(
        url, timeout=20, auth=oauth_for(scenario), elicitation_handler=accept_with_defaults
    )
    if scenario == "sep-2322-client-request-state":
        # While the server waits for input, the application makes an unrelated call: the
        # suite checks that no input responses or request state leak into it.
        async def answer_after_unrelated_call(params: Any) -> ElicitResult:
            await client.call_tool("test_mrtr_unrelated", {})
            return ElicitResult(action="accept", content={"confirmed": True})

        client = AsyncClient(url, timeout=20, elicitation_handler=answer_after_unrelated_call)
    async with client:
        if await run_modern(client, scenario):
            print(f"{scenario}: done in the {client.era} era ({client.protocol_version})")
            return
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
