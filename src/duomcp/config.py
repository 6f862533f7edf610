"""Servers named in the ``mcpServers`` JSON files of Claude Desktop, Cursor and VS Code.

The format, as those applications write it::

    {
      "mcpServers": {
        "time": {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "UTC"}},
        "docs": {"url": "https://example.com/mcp", "headers": {"X-Team": "core"}}
      }
    }

VS Code names the object ``"servers"`` and gives each entry a ``"type"`` (``"stdio"``,
``"http"`` or ``"sse"``); both spellings are read, and a file may hold both objects. VS Code
files may have ``//`` and ``/* */`` comments and trailing commas (JSONC); they are read too.
``${env:NAME}`` in a string is replaced by that environment variable (it must be set);
other ``${...}`` variables (VS Code's ``${input:...}``) are left as written. Keys duomcp
does not use (``disabled``, ``envFile``, ``inputs``...) are ignored.

Use an entry where a URL goes::

    from duomcp.config import load_servers

    servers = load_servers("~/.config/duomcp/mcp.json")
    async with servers["time"].client() as client:
        print(await client.list_tools())

A stdio entry starts its command as :class:`duomcp.StdioServer` does: with ``env`` on top
of a few inherited variables (``PATH``, ``HOME``, locale...), not the whole environment.
An HTTP entry's transport is found from its URL (Streamable HTTP, or HTTP+SSE for an old
server), whatever its ``type`` says.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ._async.client import AsyncClient
    from ._sync.client import Client
    from .transports.stdio import StdioServer

__all__ = ["ServerConfig", "default_config_path", "load_servers", "parse_servers"]

_STDIO_TYPES = frozenset({"stdio"})
_HTTP_TYPES = frozenset({"http", "sse", "streamable-http", "streamableHttp", "streamable_http"})
_ENV_VARIABLE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, repr=False)
class ServerConfig:
    """One server of a config file: a command to start (stdio) or an HTTP endpoint.

    Attributes:
        name: the entry's name in the file.
        kind: ``"stdio"`` (``command`` is set) or ``"http"`` (``url`` is set).
        command: the program to run, for a stdio server.
        args: its arguments.
        env: environment variables for it, on top of the few it inherits.
        cwd: its working directory (``None``: the caller's).
        url: the MCP endpoint, for an HTTP server.
        headers: extra HTTP headers for every request to it.
    """

    name: str
    kind: Literal["stdio", "http"]
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        # Config files hold API keys: values of env and headers, and of secret-looking
        # arguments, are never shown.
        from .transports.stdio import _redacted

        shown = [f"name={self.name!r}", f"kind={self.kind!r}"]
        if self.command is not None:
            shown += [f"command={self.command!r}", f"args={tuple(_redacted(self.args))!r}"]
            shown += [f"env={{{', '.join(f'{k!r}: ***' for k in self.env)}}}"]
        if self.url is not None:
            shown += [f"url={self.url!r}"]
            shown += [f"headers={{{', '.join(f'{k!r}: ***' for k in self.headers)}}}"]
        return f"ServerConfig({', '.join(shown)})"

    def target(self) -> str | StdioServer:
        """What a client is given in place of a URL: the URL, or a :class:`~duomcp.StdioServer`."""
        if self.kind == "http":
            assert self.url is not None
            return self.url
        from .transports.stdio import StdioServer

        assert self.command is not None
        return StdioServer(
            command=self.command, args=self.args, env=dict(self.env) or None, cwd=self.cwd
        )

    def _options(self, options: dict[str, Any]) -> dict[str, Any]:
        if self.kind == "http" and self.headers:
            options["headers"] = {**self.headers, **(options.get("headers") or {})}
        return options

    def client(self, **options: Any) -> AsyncClient:
        """An :class:`~duomcp.AsyncClient` for this server.

        ``options`` are :class:`~duomcp.AsyncClient`'s keyword arguments; ``headers`` given
        here are added to the entry's own (and win over them).
        """
        from ._async.client import AsyncClient

        return AsyncClient(self.target(), **self._options(dict(options)))

    def blocking_client(self, **options: Any) -> Client:
        """A blocking :class:`~duomcp.Client` for this server; ``options`` as for :meth:`client`."""
        from ._sync.client import Client

        return Client(self.target(), **self._options(dict(options)))


def default_config_path() -> Path:
    """Where duomcp looks for servers when no file is named: ``$DUOMCP_CONFIG`` if set, else
    ``$XDG_CONFIG_HOME/duomcp/mcp.json`` (``~/.config/duomcp/mcp.json``). The file may not
    exist."""
    named = os.environ.get("DUOMCP_CONFIG")
    if named:
        return Path(named).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "duomcp" / "mcp.json"


def load_servers(path: str | os.PathLike[str]) -> dict[str, ServerConfig]:
    """The servers of a config file (``mcpServers`` or VS Code's ``servers``), by name.

    Raises:
        OSError: the file cannot be read (``FileNotFoundError`` when it does not exist).
        ValueError: the file is not JSON (or JSONC), or an entry is malformed; the message
            names the file, the entry and the field.
    """
    where = os.fspath(Path(path).expanduser())
    with open(where, encoding="utf-8-sig") as file:
        text = file.read()
    try:
        data = json.loads(_strip_jsonc(text))
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{where}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    return parse_servers(data, source=where)


def parse_servers(data: Any, *, source: str = "config") -> dict[str, ServerConfig]:
    """The servers of an already decoded config document, by name.

    ``source`` names the document in error messages.

    Raises:
        ValueError: the document or an entry is malformed; the message names ``source``,
            the entry and the field.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: the config must be a JSON object")
    sections = [key for key in ("mcpServers", "servers") if key in data]
    if not sections:
        raise ValueError(f'{source}: no "mcpServers" (or VS Code\'s "servers") object')
    servers: dict[str, ServerConfig] = {}
    for section in sections:
        entries = data[section]
        if not isinstance(entries, Mapping):
            raise ValueError(f'{source}: "{section}" must be an object of named servers')
        for name, entry in entries.items():
            if name in servers:
                raise ValueError(f'{source}: server "{name}" is named twice')
            servers[name] = _entry(str(name), entry, f'{source}: server "{name}"')
    return servers


def _entry(name: str, entry: Any, where: str) -> ServerConfig:
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: must be an object")
    kind = entry.get("type")
    if kind is not None and kind not in _STDIO_TYPES | _HTTP_TYPES:
        raise ValueError(f'{where}: "type" must be "stdio", "http" or "sse", not {kind!r}')
    has_command, has_url = "command" in entry, "url" in entry
    if has_command and has_url:
        raise ValueError(f'{where}: give "command" (a stdio server) or "url", not both')
    if not has_command and not has_url:
        raise ValueError(f'{where}: needs "command" (a stdio server) or "url" (an HTTP server)')
    if has_command:
        if kind in _HTTP_TYPES:
            raise ValueError(f'{where}: "type" is {kind!r} but the entry has a "command"')
        command = _string(entry, "command", where)
        if not command:
            raise ValueError(f'{where}: "command" is empty')
        cwd = _string(entry, "cwd", where) if entry.get("cwd") is not None else None
        return ServerConfig(
            name=name,
            kind="stdio",
            command=command,
            args=tuple(_strings(entry, "args", where)),
            env=_string_map(entry, "env", where),
            cwd=cwd,
        )
    if kind in _STDIO_TYPES:
        raise ValueError(f'{where}: "type" is "stdio" but the entry has a "url"')
    url = _string(entry, "url", where)
    if not url.startswith(("http://", "https://")):
        raise ValueError(f'{where}: "url" must start with http:// or https://, not {url!r}')
    return ServerConfig(
        name=name, kind="http", url=url, headers=_string_map(entry, "headers", where)
    )


def _expand(value: str, where: str) -> str:
    def variable(match: re.Match[str]) -> str:
        found = os.environ.get(match[1])
        if found is None:
            raise ValueError(f"{where}: uses ${{env:{match[1]}}}, which is not set")
        return found

    return _ENV_VARIABLE.sub(variable, value)


def _string(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry[key]
    if not isinstance(value, str):
        raise ValueError(f'{where}: "{key}" must be a string, not {type(value).__name__}')
    return _expand(value, f'{where}: "{key}"')


def _strings(entry: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = entry.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f'{where}: "{key}" must be a list of strings')
    return [_expand(item, f'{where}: "{key}"') for item in value]


def _string_map(entry: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    value = entry.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f'{where}: "{key}" must be an object of strings')
    out: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(item, str):
            raise ValueError(
                f'{where}: "{key}" must be an object of strings; "{name}" is {type(item).__name__}'
            )
        out[str(name)] = _expand(item, f'{where}: "{key}"."{name}"')
    return out


def _strip_jsonc(text: str) -> str:
    """JSON with comments and trailing commas (VS Code's JSONC) as plain JSON. Strings are
    kept as they are; comments become spaces, so positions in errors stay right."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif char == ",":
            j = i + 1
            while j < n:  # a comma before only blanks and comments, then } or ], is dropped
                if text[j].isspace():
                    j += 1
                elif text.startswith("//", j):
                    k = text.find("\n", j)
                    j = n if k < 0 else k
                elif text.startswith("/*", j):
                    k = text.find("*/", j + 2)
                    j = n if k < 0 else k + 2
                else:
                    break
            out.append(" " if j < n and text[j] in "}]" else ",")
            i += 1
        else:
            out.append(char)
            i += 1
    return "".join(out)
