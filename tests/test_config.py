"""``duomcp.config``: servers named in mcpServers files, used against real servers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from duomcp import AsyncClient, Client, StdioServer
from duomcp.config import ServerConfig, default_config_path, load_servers, parse_servers
from duomcp.testing import ReferenceServer

PEER = Path(__file__).with_name("stdio_peer.py")


def write(path: Path, document: Any) -> Path:
    path.write_text(document if isinstance(document, str) else json.dumps(document), "utf-8")
    return path


def test_claude_desktop_entries_become_clients(server: ReferenceServer, tmp_path: Path) -> None:
    config = write(
        tmp_path / "claude_desktop_config.json",
        {
            "mcpServers": {
                "ref": {"url": server.url, "headers": {"X-Team": "core"}},
                "peer": {
                    "command": sys.executable,
                    "args": [str(PEER), "--log", str(tmp_path / "log")],
                    "env": {"PEER_FLAG": "1"},
                },
            }
        },
    )
    servers = load_servers(config)
    assert list(servers) == ["ref", "peer"]
    ref = servers["ref"]
    assert (ref.kind, ref.url, dict(ref.headers)) == ("http", server.url, {"X-Team": "core"})
    with ref.blocking_client(headers={"X-Trace": "t"}) as client:
        assert client.call_tool("echo", {"text": "hi"}).content[0].text == "hi"
    assert all(r.headers.get("x-team") == "core" for r in server.requests)
    assert all(r.headers.get("x-trace") == "t" for r in server.requests)
    peer = servers["peer"]
    target = peer.target()
    assert isinstance(target, StdioServer)
    assert (target.command, target.args) == (
        sys.executable,
        (str(PEER), "--log", str(tmp_path / "log")),
    )
    assert target.env == {"PEER_FLAG": "1"} and not target.inherit_env
    with peer.blocking_client() as client:
        names = client.call_tool("env").content[0].text.split()
    assert "PEER_FLAG" in names


async def test_the_async_client_of_an_entry(server: ReferenceServer) -> None:
    servers = parse_servers({"servers": {"ref": {"type": "http", "url": server.url}}})
    client = servers["ref"].client(timeout=10)
    assert isinstance(client, AsyncClient)
    async with client:
        result = await client.call_tool("add", {"a": 1, "b": 2})
    assert result.structured_content == {"result": 3}
    assert isinstance(servers["ref"].blocking_client(), Client)


def test_vs_code_files_with_comments_types_and_env_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAM_TOKEN", "t0k")
    config = write(
        tmp_path / "mcp.json",
        """{
          // VS Code: "servers", with a type; comments and trailing commas
          "inputs": [],
          "servers": {
            "time": {"type": "stdio", "command": "uvx", "args": ["mcp-server-time",],},
            /* an HTTP one */
            "docs": {
              "type": "sse",
              "url": "https://example.com/mcp",
              "headers": {"Authorization": "Bearer ${env:TEAM_TOKEN}", "X": "a // b, /* c */"},
            },
          },
        }""",
    )
    servers = load_servers(config)
    assert servers["time"] == ServerConfig(
        name="time", kind="stdio", command="uvx", args=("mcp-server-time",)
    )
    assert servers["docs"].headers == {"Authorization": "Bearer t0k", "X": "a // b, /* c */"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "the config must be a JSON object"),
        ({"other": {}}, 'no "mcpServers" (or VS Code\'s "servers") object'),
        ({"mcpServers": []}, '"mcpServers" must be an object of named servers'),
        ({"mcpServers": {"a": 1}}, 'server "a": must be an object'),
        ({"mcpServers": {"a": {}}}, 'server "a": needs "command" (a stdio server) or "url"'),
        ({"mcpServers": {"a": {"command": "x", "url": "http://h"}}}, 'server "a": give "command"'),
        ({"mcpServers": {"a": {"command": 3}}}, 'server "a": "command" must be a string, not int'),
        ({"mcpServers": {"a": {"command": ""}}}, 'server "a": "command" is empty'),
        ({"mcpServers": {"a": {"command": "x", "args": "y"}}}, '"args" must be a list of strings'),
        (
            {"mcpServers": {"a": {"command": "x", "env": {"K": 1}}}},
            '"env" must be an object of strings; "K" is int',
        ),
        ({"mcpServers": {"a": {"url": "ftp://h"}}}, 'server "a": "url" must start with http://'),
        ({"mcpServers": {"a": {"url": "http://h", "headers": []}}}, '"headers" must be an object'),
        (
            {"mcpServers": {"a": {"type": "ws", "url": "http://h"}}},
            '"type" must be "stdio", "http"',
        ),
        (
            {"servers": {"a": {"type": "stdio", "url": "http://h"}}},
            '"type" is "stdio" but the entry has a "url"',
        ),
        (
            {"servers": {"a": {"type": "http", "command": "x"}}},
            '"type" is \'http\' but the entry has a "command"',
        ),
        (
            {"mcpServers": {"a": {"url": "http://h"}}, "servers": {"a": {"url": "http://h"}}},
            'server "a" is named twice',
        ),
        (
            {"mcpServers": {"a": {"command": "${env:DUOMCP_TEST_UNSET}"}}},
            '"command": uses ${env:DUOMCP_TEST_UNSET}, which is not set',
        ),
    ],
)
def test_a_malformed_config_is_a_value_error_naming_entry_and_field(
    tmp_path: Path, document: Any, message: str
) -> None:
    path = write(tmp_path / "mcp.json", document)
    with pytest.raises(ValueError) as info:
        load_servers(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_a_file_that_is_not_json_or_not_there(tmp_path: Path) -> None:
    path = write(tmp_path / "mcp.json", '{"mcpServers": {"a": }}')
    with pytest.raises(ValueError, match=r"mcp\.json: not valid JSON: .*line 1, column 22"):
        load_servers(path)
    with pytest.raises(FileNotFoundError):
        load_servers(tmp_path / "missing.json")


def test_the_default_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUOMCP_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_config_path() == tmp_path / "duomcp" / "mcp.json"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert default_config_path() == Path.home() / ".config" / "duomcp" / "mcp.json"
    monkeypatch.setenv("DUOMCP_CONFIG", str(tmp_path / "mine.json"))
    assert default_config_path() == tmp_path / "mine.json"


def test_a_server_config_repr_shows_no_secret() -> None:
    from duomcp.config import ServerConfig

    stdio = ServerConfig(
        name="a", kind="stdio", command="x", args=("--api-key", "k-1"), env={"TOKEN": "t-1"}
    )
    http = ServerConfig(name="b", kind="http", url="http://x", headers={"Authorization": "B b-1"})
    shown = repr(stdio) + repr(http)
    assert "k-1" not in shown and "t-1" not in shown and "b-1" not in shown
    assert "TOKEN" in shown and "Authorization" in shown
