"""The ``duomcp`` command: use an MCP server from a shell.

    duomcp info URL                          who the server is: era, version, capabilities
    duomcp tools URL                         list the tools
    duomcp call URL TOOL [NAME=VALUE ...]    call a tool (NAME:=JSON for a raw JSON value)
    duomcp resources URL                     list the resources and templates
    duomcp read URL URI                      read a resource
    duomcp prompts URL                       list the prompts
    duomcp prompt URL NAME [NAME=VALUE ...]  get a prompt
    duomcp login URL                         sign in with OAuth in the browser; tokens kept
    duomcp logout URL                        forget the tokens kept for URL
    duomcp demo                              the whole flow against a bundled server

URL is an http(s) endpoint, or a command line that starts a stdio server (quoted as one
argument: ``duomcp tools "uvx mcp-server-time"``); that server gets the shell's environment.

Every command takes ``--json`` (print the wire JSON), ``--token`` (a bearer token, or
``$DUOMCP_TOKEN``), ``--client-id``/``--client-secret`` (OAuth client credentials),
``-H 'Name: value'`` (extra headers), ``--timeout`` and ``--era``. With no credentials,
a server that asks for authorization gets an OAuth sign-in in the browser, and the tokens
are kept (``~/.cache/duomcp/oauth``) for the next command.

Exit status: 0 done; 1 the server refused or the tool reported an error; 2 bad usage;
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from .._wire import to_wire
from ..errors import MCPError

__all__ = ["main"]

_META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"
_EXIT_FAILED = 1
_EXIT_USAGE = 2
_EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A command line that cannot be carried out as written."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``duomcp`` command with ``argv`` (default: ``sys.argv[1:]``); return its status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return _EXIT_USAGE
    _log_to_stderr(getattr(args, "verbose", 0))
    try:
        return int(args.run(args, sys.stdout))
    except UsageError as exc:
        parser.exit(_EXIT_USAGE, f"duomcp: {exc}\n")
    except MCPError as exc:
        print(f"duomcp: {exc}", file=sys.stderr)
        return _EXIT_FAILED
    except KeyboardInterrupt:
        print("duomcp: interrupted", file=sys.stderr)
        return _EXIT_INTERRUPTED


def _log_to_stderr(verbosity: int) -> None:
    """duomcp's warnings (``-v``: and what it does, ``-vv``: in detail) go to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("duomcp: %(levelname)s: %(message)s"))
    logger = logging.getLogger("duomcp")
    logger.addHandler(handler)
    logger.setLevel([logging.WARNING, logging.INFO, logging.DEBUG][min(verbosity, 2)])
    logger.propagate = False


# -- the command line -----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the wire JSON")
    common.add_argument("--token", help="bearer token (default: $DUOMCP_TOKEN, HTTP only)")
    common.add_argument("--client-id", help="OAuth client id (client credentials grant)")
    common.add_argument("--client-secret", help="OAuth client secret (client credentials)")
    common.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="an extra HTTP header (repeatable)",
    )
    common.add_argument("--timeout", type=float, default=60.0, help="seconds per call (60)")
    common.add_argument(
        "--era", choices=("auto", "legacy", "modern"), default="auto", help="protocol era"
    )
    common.add_argument(
        "-v", "--verbose", action="count", default=0, help="say what happens (-vv: more)"
    )
    common.add_argument(
        "--no-browser",
        action="store_true",
        help="print the sign-in URL instead of opening a browser",
    )

    parser = argparse.ArgumentParser(
        prog="duomcp", description="Use an MCP server from a shell (duomcp, the MCP client SDK)."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, run: Callable[..., int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(run=run)
        p.add_argument(
            "url", help="the server's MCP endpoint, or a command that starts a stdio server"
        )
        return p

    command("info", _info, "show the server's name, era, protocol version and capabilities")
    command("tools", _tools, "list the server's tools")
    p = command("call", _call, "call a tool")
    p.add_argument("tool")
    p.add_argument("arguments", nargs="*", metavar="NAME=VALUE", help="or NAME:=JSON")
    p.add_argument("--args", help="the arguments as one JSON object (merged first)")
    command("resources", _resources, "list the server's resources and templates")
    p = command("read", _read, "read a resource")
    p.add_argument("uri")
    command("prompts", _prompts, "list the server's prompts")
    p = command("prompt", _prompt, "get a prompt")
    p.add_argument("name")
    p.add_argument("arguments", nargs="*", metavar="NAME=VALUE")
    command("login", _login, "sign in to a server with OAuth; the tokens are kept")
    command("logout", _logout, "forget the OAuth tokens kept for a server")
    p = sub.add_parser(
        "demo",
        help="run the whole flow against a bundled server with its own authorization server",
        description="Start a reference MCP server with its own OAuth authorization server on "
        "127.0.0.1, sign in to it (discovery, registration, PKCE), call it in both protocol "
        "eras, and show each step. Needs no account and no network.",
    )
    p.add_argument("--browser", action="store_true", help="sign in in a real browser")
    p.set_defaults(run=_demo)
    return parser


# -- making a client ------------------------------------------------------------------------


def _client(args: argparse.Namespace, auth: Any = None) -> Any:
    from .. import Client

    if not args.url.startswith(("http://", "https://")):
        if args.token or args.client_id or args.header:
            raise UsageError(
                "credentials and headers are for HTTP servers; a stdio server gets its "
                "own from the environment"
            )
        return Client(_stdio_server(args.url), timeout=args.timeout, era=args.era)
    return Client(
        args.url,
        auth=auth if auth is not None else _auth(args),
        headers=_headers(args.header),
        timeout=args.timeout,
        era=args.era,
    )


def _stdio_server(command_line: str) -> Any:
    """A command line to start as a stdio server, with the shell's whole environment (as
    the shell would give it), so keys exported for the server reach it."""
    import shlex

    from ..transports.stdio import StdioServer

    try:
        words = shlex.split(command_line)
    except ValueError as exc:
        raise UsageError(f"cannot read the command {command_line!r}: {exc}") from exc
    if not words:
        raise UsageError("give an http(s) URL or a command that starts a stdio server")
    return StdioServer(command=words[0], args=tuple(words[1:]), inherit_env=True)


def _auth(args: argparse.Namespace) -> Any:
    from ..auth import BearerToken, ClientCredentials, FileTokenStorage, LoopbackLogin, OAuth

    token = args.token or os.environ.get("DUOMCP_TOKEN")
    if token:
        return BearerToken(token)
    if args.client_id and args.client_secret:
        return ClientCredentials(client_id=args.client_id, client_secret=args.client_secret)
    if args.client_secret:
        raise UsageError("--client-secret needs --client-id")
    login = LoopbackLogin(opener=_print_only if args.no_browser else _open_browser)
    return OAuth(
        interaction=login,
        redirect_uri=login.redirect_uri,
        client_id=args.client_id,
        storage=FileTokenStorage(),
    )


def _open_browser(url: str) -> bool:
    import webbrowser

    return webbrowser.open(url)


def _print_only(url: str) -> bool:
    return False  # LoopbackLogin then prints the URL for the user to open


def _headers(lines: Sequence[str]) -> dict[str, str]:
    headers = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"a header is 'Name: value', not {line!r}")
        headers[name.strip()] = value.strip()
    return headers


def _pairs(pairs: Sequence[str]) -> list[tuple[str, str, Any]]:
    """Check ``NAME=VALUE`` / ``NAME:=JSON`` pairs: ``(name, kind, value)``, before any request.

    ``kind`` is ``"json"`` for ``NAME:=JSON`` (``value`` decoded), else ``"text"``.
    """
    out: list[tuple[str, str, Any]] = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.rstrip(":"):
            raise UsageError(f"an argument is NAME=VALUE or NAME:=JSON, not {pair!r}")
        if name.endswith(":"):
            try:
                out.append((name[:-1], "json", json.loads(value)))
            except ValueError as exc:
                raise UsageError(f"{name}= needs JSON: {exc}") from exc
        else:
            out.append((name, "text", value))
    return out


def _arguments(
    pairs: list[tuple[str, str, Any]], schema: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Checked pairs as arguments, each ``NAME=VALUE`` read by the input schema.

    ``NAME=VALUE`` is a string, unless the schema gives the property a type other than
    string: then VALUE is read as JSON (``n=3``, ``flag=true``), and kept as a string when
    it is not valid JSON. ``NAME:=JSON`` is always JSON.
    """
    properties = (schema or {}).get("properties")
    if not isinstance(properties, Mapping):
        properties = {}
    out: dict[str, Any] = {}
    for name, kind, value in pairs:
        spec = properties.get(name)
        declared = spec.get("type") if isinstance(spec, Mapping) else None
        types = [declared] if isinstance(declared, str) else list(declared or ())
        if kind == "json" or not types or "string" in types:
            out[name] = value
            continue
        try:
            out[name] = json.loads(value)
        except ValueError:
            out[name] = value
    return out


# -- the commands -------------------------------------------------------------------------


def _print_json(value: Any, out: TextIO) -> None:
    print(json.dumps(to_wire(value), indent=2, ensure_ascii=False), file=out)


def _info(args: argparse.Namespace, out: TextIO) -> int:
    with _client(args) as client:
        client.connect()
        result = client.initialize_result or client.discover_result
        if args.json:
            _print_json(result, out)
            return 0
        init = client.initialize_result
        if init is not None:
            print(f"server    {init.server_info.name} {init.server_info.version}", file=out)
        elif client.discover_result is not None:  # modern: in the result's _meta, if given
            info = (client.discover_result.meta or {}).get(_META_SERVER_INFO)
            if isinstance(info, Mapping) and info.get("name"):
                print(f"server    {info['name']} {info.get('version', '')}".rstrip(), file=out)
        print(f"era       {client.era}", file=out)
        print(f"protocol  {client.protocol_version}", file=out)
        if client.session_id:
            print(f"session   {client.session_id}", file=out)
        capabilities = to_wire(client.server_capabilities) or {}
        print(f"offers    {', '.join(sorted(capabilities)) or 'nothing'}", file=out)
        instructions = result.instructions if result is not None else None
        if instructions:
            print(f"\n{instructions}", file=out)
    return 0


def _tools(args: argparse.Namespace, out: TextIO) -> int:
    def params(tool: Any) -> str:
        schema = tool.input_schema or {}
        required = set(schema.get("required") or ())
        return " ".join(
            f"{name}{'' if name in required else '?'}={spec.get('type', 'any')}"
            for name, spec in (schema.get("properties") or {}).items()
            if isinstance(spec, dict)
        )

    return _listing(args, out, lambda client: client.list_tools(), params)


def _listing(
    args: argparse.Namespace,
    out: TextIO,
    fetch: Callable[[Any], Sequence[Any]],
    params: Callable[[Any], str],
) -> int:
    """Print named things (tools, prompts): name and parameters, then the description."""
    with _client(args) as client:
        items = fetch(client)
    if args.json:
        _print_json(items, out)
        return 0
    for item in items:
        print(f"{item.name}  {params(item)}".rstrip(), file=out)
        if item.description:
            print(f"    {_one_line(item.description)}", file=out)
    return 0


def _call(args: argparse.Namespace, out: TextIO) -> int:
    arguments: dict[str, Any] = {}
    if args.args:
        try:
            given = json.loads(args.args)
        except ValueError as exc:
            raise UsageError(f"--args needs a JSON object: {exc}") from exc
        if not isinstance(given, dict):
            raise UsageError("--args needs a JSON object")
        arguments.update(given)
    pairs = _pairs(args.arguments)
    with _client(args) as client:
        schema = None
        if any(kind == "text" for _, kind, _ in pairs):
            tool = next((t for t in client.list_tools() if t.name == args.tool), None)
            schema = tool.input_schema if tool is not None else None
        arguments.update(_arguments(pairs, schema))
        result = client.call_tool(args.tool, arguments)
    if args.json:
        _print_json(result, out)
    else:
        _print_content(result.content, out)
        if result.structured_content is not None and not result.content:
            print(json.dumps(result.structured_content, indent=2, ensure_ascii=False), file=out)
    return _EXIT_FAILED if result.is_error else 0


def _resources(args: argparse.Namespace, out: TextIO) -> int:
    with _client(args) as client:
        resources = client.list_resources()
        templates = client.list_resource_templates()
    if args.json:
        print(
            json.dumps(
                {"resources": to_wire(resources), "resourceTemplates": to_wire(templates)},
                indent=2,
                ensure_ascii=False,
            ),
            file=out,
        )
        return 0
    for resource in resources:
        mime = f"  ({resource.mime_type})" if resource.mime_type else ""
        print(f"{resource.uri}  {resource.name}{mime}", file=out)
    for template in templates:
        print(f"{template.uri_template}  {template.name}  (template)", file=out)
    return 0


def _read(args: argparse.Namespace, out: TextIO) -> int:
    from ..types import TextResourceContents

    with _client(args) as client:
        result = client.read_resource(args.uri)
    if args.json:
        _print_json(result, out)
        return 0
    for contents in result.contents:
        if isinstance(contents, TextResourceContents):
            print(contents.text, file=out)
        else:
            size = len(contents.blob) * 3 // 4
            print(f"[{contents.mime_type or 'binary'}, about {size} bytes: use --json]", file=out)
    return 0


def _prompts(args: argparse.Namespace, out: TextIO) -> int:
    def params(prompt: Any) -> str:
        return " ".join(f"{a.name}{'' if a.required else '?'}" for a in (prompt.arguments or ()))

    return _listing(args, out, lambda client: client.list_prompts(), params)


def _prompt(args: argparse.Namespace, out: TextIO) -> int:
    arguments = {
        name: value if isinstance(value, str) else json.dumps(value)
        for name, value in _arguments(_pairs(args.arguments), None).items()
    }
    with _client(args) as client:
        result = client.get_prompt(args.name, arguments)
    if args.json:
        _print_json(result, out)
        return 0
    for message in result.messages:
        print(f"[{message.role}]", file=out)
        _print_content((message.content,), out)
    return 0


def _login(args: argparse.Namespace, out: TextIO) -> int:
    from ..auth import OAuth

    auth = _auth(args)
    with _client(args, auth) as client:
        client.connect()
        client.ping()
    if isinstance(auth, OAuth) and auth.tokens is not None:
        scope = f" (scope: {auth.tokens.scope})" if auth.tokens.scope else ""
        print(f"signed in to {args.url}{scope}; the tokens are kept for later", file=out)
    else:
        print(f"{args.url} did not ask for authorization", file=out)
    return 0


def _logout(args: argparse.Namespace, out: TextIO) -> int:
    from .._portal import portal
    from ..auth import FileTokenStorage, LoopbackLogin, OAuth
    from ..errors import AuthError

    class NoSignIn(LoopbackLogin):
        async def __call__(self, authorization_url: str) -> str:
            raise AuthError("not signed in")

    login = NoSignIn()
    auth = OAuth(interaction=login, redirect_uri=login.redirect_uri, storage=FileTokenStorage())
    try:  # a first request finds the authorization server and where its tokens are kept
        with _client(args, auth) as client:
            client.connect()
    except MCPError:
        pass  # refused: the tokens had expired, or the server is down; discovery may be done
    if portal.call(auth.sign_out):
        print(f"signed out of {args.url}: its tokens are forgotten", file=out)
    else:
        print(f"no tokens were kept for {args.url}", file=out)
    return 0


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    from ._demo import run_demo

    return run_demo(out, browser=args.browser)


# -- printing results -----------------------------------------------------------------------


def _one_line(text: str, limit: int = 100) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _print_content(blocks: Sequence[Any], out: TextIO) -> None:
    from ..types import (
        AudioContent,
        EmbeddedResource,
        ImageContent,
        ResourceLink,
        TextContent,
        TextResourceContents,
    )

    for block in blocks:
        if isinstance(block, TextContent):
            print(block.text, file=out)
        elif isinstance(block, (ImageContent, AudioContent)):
            size = len(block.data) * 3 // 4
            print(f"[{block.type} {block.mime_type}, about {size} bytes: use --json]", file=out)
        elif isinstance(block, ResourceLink):
            print(f"[resource link] {block.uri}  {block.name}", file=out)
        elif isinstance(block, EmbeddedResource):
            resource = block.resource
            if isinstance(resource, TextResourceContents):
                print(resource.text, file=out)
            else:
                print(f"[resource {resource.uri}, binary: use --json]", file=out)
        else:
            print(json.dumps(to_wire(block), ensure_ascii=False), file=out)
