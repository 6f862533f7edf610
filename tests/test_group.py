"""Several servers as one: a legacy and a modern reference server and a stdio server up,
one server down; names, routing and failures, in both flavours."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from duomcp import InvalidRequestError, StdioServer, TransportError
from duomcp.config import parse_servers
from duomcp.group import AsyncClientGroup, ClientGroup
from duomcp.testing import ServerFaults
from duomcp.types import TextContent

from .conftest import ServerThread

PEER = Path(__file__).with_name("stdio_peer.py")
DOWN = "http://127.0.0.1:9/mcp"  # the discard port: nothing listens


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[dict[str, object]]:
    with (
        ServerThread.running(ServerFaults(), era="legacy") as old,
        ServerThread.running(ServerFaults(), era="modern") as new,
    ):
        stdio = StdioServer(
            command=sys.executable, args=(str(PEER), "--log", str(tmp_path / "peer.log"))
        )
        yield {"old": old.server.url, "new": new.server.url, "local": stdio, "down": DOWN}


def text(result: object) -> str:
    block = result.content[0]  # type: ignore[attr-defined]
    assert isinstance(block, TextContent)
    return block.text


async def test_a_group_with_one_server_down(servers: dict[str, object]) -> None:
    async with AsyncClientGroup(servers, timeout=10, connect_timeout=10) as group:  # type: ignore[arg-type]
        assert list(group.failures) == ["down"]
        assert isinstance(group.failures["down"], TransportError)
        names = {tool.name for tool in await group.list_tools()}
        assert {"old__echo", "new__echo", "local__echo"} <= names
        assert not any(name.startswith("down__") for name in names)
        assert text(await group.call_tool("old__echo", {"text": "a"})) == "a"
        assert text(await group.call_tool("new__echo", {"text": "b"})) == "b"
        assert text(await group.call_tool("local__echo", {"text": "c"})) == "c"
        with pytest.raises(InvalidRequestError, match="not connected"):
            await group.call_tool("down__echo", {"text": "x"})
        with pytest.raises(InvalidRequestError, match="with a server of this group"):
            await group.call_tool("echo", {"text": "x"})
        resources = await group.list_resources()
        assert resources
        read = await group.read_resource(resources[0].uri)
        assert read.contents
        prompts = await group.list_prompts()
        assert any(p.name.startswith("old__") for p in prompts)


def test_the_blocking_group_from_a_config(servers: dict[str, object]) -> None:
    config = parse_servers({"mcpServers": {"old": {"url": servers["old"]}, "down": {"url": DOWN}}})
    with ClientGroup(config, timeout=10) as group:
        assert list(group.failures) == ["down"]
        assert text(group.call_tool("old__echo", {"text": "sync"})) == "sync"
        assert {tool.name for tool in group.list_tools()} >= {"old__echo", "old__add"}


def test_server_names_must_not_hold_the_separator() -> None:
    with pytest.raises(ValueError, match="separator"):
        AsyncClientGroup({"a__b": DOWN})
    with pytest.raises(ValueError, match="letters"):
        AsyncClientGroup({"my server": DOWN})
