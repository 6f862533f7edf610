"""Several servers behind one object: their tools, resources and prompts together.

:class:`AsyncClientGroup` connects to every server at once; a server that fails to start
or connect is reported in :attr:`~AsyncClientGroup.failures` and the others work on. Tools
and prompts are listed under collision-free names, ``<server>__<name>`` (the separator is
an option), and calls are routed by that name; resources keep their URIs and are read from
the server that listed them. :class:`ClientGroup` is the blocking twin, run through the
same portal as :class:`~duomcp.Client`::

    from duomcp.config import load_servers
    from duomcp.group import ClientGroup

    with ClientGroup(load_servers("mcp.json")) as group:
        for tool in group.list_tools():
            print(tool.name)
        print(group.call_tool("time__get_current_time", {"timezone": "UTC"}).text)
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, Union

from ._async.client import AsyncClient
from ._portal import portal
from ._timeouts import wait_for
from .errors import InvalidRequestError
from .types import (
    CallToolResult,
    GetPromptResult,
    Prompt,
    ReadResourceResult,
    Resource,
    Tool,
)
from .types._lazy import evolve

if TYPE_CHECKING:
    from .config import ServerConfig
    from .transports.stdio import StdioServer

__all__ = ["AsyncClientGroup", "ClientGroup", "GroupMember"]

log = logging.getLogger("duomcp")

GroupMember = Union[str, "StdioServer", AsyncClient, "ServerConfig"]
"""What a group is made of, by server name: a URL, a StdioServer, a client, or a config
entry (``duomcp.config.ServerConfig``)."""

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_T = TypeVar("_T")


class AsyncClientGroup:
    """Clients of several servers, used as one.

    Args:
        servers: the servers by name (names become the prefix of their tools' and
            prompts' names: letters, digits, ``_`` and ``-``).
        separator: what joins a server's name and a tool's or prompt's name.
        connect_timeout: seconds each server may take to connect.
        options: :class:`~duomcp.AsyncClient` keyword arguments for the servers given
            as URLs, StdioServers or config entries (``timeout``, ``auth`` ...).
    """

    def __init__(
        self,
        servers: Mapping[str, GroupMember],
        *,
        separator: str = "__",
        connect_timeout: float = 60.0,
        **options: Any,
    ) -> None:
        if not separator:
            raise ValueError("separator must not be empty")
        self.separator = separator
        self._connect_timeout = connect_timeout
        self.clients: dict[str, AsyncClient] = {}
        """The clients by server name, those that failed included."""
        self.failures: dict[str, BaseException] = {}
        """The servers that could not be connected, with the error each raised."""
        self._resources: dict[str, str] = {}  # uri -> server name
        for name, member in servers.items():
            if not _NAME.match(name) or separator in name:
                raise ValueError(
                    f"server name {name!r}: use letters, digits, '_' and '-', "
                    f"without the separator {separator!r}"
                )
            self.clients[name] = _client(member, options)

    @property
    def connected(self) -> dict[str, AsyncClient]:
        """The clients that are connected, by server name."""
        return {n: c for n, c in self.clients.items() if n not in self.failures}

    async def __aenter__(self) -> AsyncClientGroup:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> dict[str, BaseException]:
        """Connect to every server at once; return (and keep in :attr:`failures`) the
        servers that failed, each with its error. The others are ready."""

        async def one(name: str, client: AsyncClient) -> None:
            try:
                await wait_for(client.connect(), self._connect_timeout)
            except Exception as exc:
                log.warning("server %s of the group failed to connect: %s", name, exc)
                self.failures[name] = exc
                await client.close()

        await asyncio.gather(*(one(n, c) for n, c in self.clients.items()))
        return dict(self.failures)

    async def close(self) -> None:
        """Close every client."""
        await asyncio.gather(*(client.close() for client in self.clients.values()))

    # -- names --------------------------------------------------------------------------

    def _split(self, qualified: str, what: str) -> tuple[str, AsyncClient, str]:
        server, sep, name = qualified.partition(self.separator)
        if not sep or server not in self.clients:
            raise InvalidRequestError(
                f"{what} {qualified!r}: not '<server>{self.separator}<name>' with a server of "
                f"this group ({', '.join(self.clients)})"
            )
        if server in self.failures:
            raise InvalidRequestError(
                f"{what} {qualified!r}: server {server!r} is not connected "
                f"({self.failures[server]})"
            )
        return server, self.clients[server], name

    async def _each(
        self, fetch: Callable[[AsyncClient], Awaitable[list[_T]]]
    ) -> list[tuple[str, list[_T]]]:
        names = list(self.connected)
        found = await asyncio.gather(
            *(fetch(self.clients[n]) for n in names), return_exceptions=True
        )
        out = []
        for name, items in zip(names, found, strict=True):
            if isinstance(items, BaseException):
                if not isinstance(items, Exception):
                    raise items
                log.warning("server %s of the group failed to list: %s", name, items)
                continue
            out.append((name, items))
        return out

    # -- tools, prompts, resources ------------------------------------------------------

    async def list_tools(self, *, timeout: float | None = None) -> list[Tool]:
        """Every connected server's tools, named ``<server><separator><tool>``. A server
        that fails to list is left out (and logged)."""
        listed = await self._each(lambda c: c.list_tools(timeout=timeout))
        sep = self.separator
        return [evolve(t, name=f"{n}{sep}{t.name}") for n, tools in listed for t in tools]

    async def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None = None, **options: Any
    ) -> CallToolResult:
        """Call a tool by its group name (``<server><separator><tool>``); ``options`` as
        for :meth:`duomcp.AsyncClient.call_tool`.

        Raises:
            InvalidRequestError: the name names no connected server of the group.
        """
        _, client, tool = self._split(name, "tool")
        return await client.call_tool(tool, arguments, **options)

    async def list_prompts(self, *, timeout: float | None = None) -> list[Prompt]:
        """Every connected server's prompts, named ``<server><separator><prompt>``."""
        listed = await self._each(lambda c: c.list_prompts(timeout=timeout))
        sep = self.separator
        return [evolve(p, name=f"{n}{sep}{p.name}") for n, prompts in listed for p in prompts]

    async def get_prompt(
        self, name: str, arguments: Mapping[str, str] | None = None, **options: Any
    ) -> GetPromptResult:
        """Get a prompt by its group name."""
        _, client, prompt = self._split(name, "prompt")
        return await client.get_prompt(prompt, arguments, **options)

    async def list_resources(self, *, timeout: float | None = None) -> list[Resource]:
        """Every connected server's resources, URIs unchanged (a URI two servers list is
        read from the first)."""
        listed = await self._each(lambda c: c.list_resources(timeout=timeout))
        out = []
        for name, resources in listed:
            for resource in resources:
                self._resources.setdefault(resource.uri, name)
                out.append(resource)
        return out

    async def read_resource(
        self, uri: str, *, server: str | None = None, timeout: float | None = None
    ) -> ReadResourceResult:
        """Read a resource from ``server``, or from the server that listed it.

        Raises:
            InvalidRequestError: no server is named and none listed the URI.
        """
        name = server or self._resources.get(uri)
        if name is None:
            raise InvalidRequestError(
                f"resource {uri!r} was listed by no server of the group: list_resources() "
                "first, or name the server"
            )
        _, client, _ = self._split(f"{name}{self.separator}", "resource server")
        return await client.read_resource(uri, timeout=timeout)


def _client(member: GroupMember, options: Mapping[str, Any]) -> AsyncClient:
    from .config import ServerConfig

    if isinstance(member, AsyncClient):
        return member
    if isinstance(member, ServerConfig):
        return member.client(**options)
    return AsyncClient(member, **options)


class ClientGroup:
    """The blocking twin of :class:`AsyncClientGroup`: the same methods, blocking; its
    clients run on the portal that runs :class:`~duomcp.Client`'s, so servers connect and
    list at once here too. Arguments as for :class:`AsyncClientGroup`."""

    def __init__(
        self,
        servers: Mapping[str, GroupMember],
        *,
        separator: str = "__",
        connect_timeout: float = 60.0,
        **options: Any,
    ) -> None:
        self._group = AsyncClientGroup(
            servers, separator=separator, connect_timeout=connect_timeout, **options
        )

    @property
    def failures(self) -> dict[str, BaseException]:
        """The servers that could not be connected, with the error each raised."""
        return self._group.failures

    @property
    def separator(self) -> str:
        """What joins a server's name and a tool's or prompt's name."""
        return self._group.separator

    def __enter__(self) -> ClientGroup:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self) -> dict[str, BaseException]:
        """Connect to every server at once; return the servers that failed."""
        return portal.call(self._group.connect)

    def close(self) -> None:
        """Close every client."""
        portal.call(self._group.close)

    def list_tools(self, *, timeout: float | None = None) -> list[Tool]:
        """Every connected server's tools, named ``<server><separator><tool>``."""
        return portal.call(self._group.list_tools, timeout=timeout)

    def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None = None, **options: Any
    ) -> CallToolResult:
        """Call a tool by its group name."""
        return portal.call(self._group.call_tool, name, arguments, **options)

    def list_prompts(self, *, timeout: float | None = None) -> list[Prompt]:
        """Every connected server's prompts, named ``<server><separator><prompt>``."""
        return portal.call(self._group.list_prompts, timeout=timeout)

    def get_prompt(
        self, name: str, arguments: Mapping[str, str] | None = None, **options: Any
    ) -> GetPromptResult:
        """Get a prompt by its group name."""
        return portal.call(self._group.get_prompt, name, arguments, **options)

    def list_resources(self, *, timeout: float | None = None) -> list[Resource]:
        """Every connected server's resources, URIs unchanged."""
        return portal.call(self._group.list_resources, timeout=timeout)

    def read_resource(
        self, uri: str, *, server: str | None = None, timeout: float | None = None
    ) -> ReadResourceResult:
        """Read a resource from ``server``, or from the server that listed it."""
        return portal.call(self._group.read_resource, uri, server=server, timeout=timeout)
