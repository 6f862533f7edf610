"""The ``duomcp`` command: use an MCP server from a shell.

    duomcp info SERVER                          who the server is: era, version, capabilities
    duomcp tools SERVER                         list the tools
    duomcp call SERVER TOOL [NAME=VALUE ...]    call a tool (NAME:=JSON for a raw JSON value)
    duomcp resources SERVER                     list the resources and templates
    duomcp read SERVER URI                      read a resource
    duomcp prompts SERVER                       list the prompts
    duomcp prompt SERVER NAME [NAME=VALUE ...]  get a prompt
    duomcp login SERVER                         sign in with OAuth in the browser; tokens kept
    duomcp logout SERVER                        forget the tokens kept for SERVER
    duomcp demo                                 the whole flow against a bundled server
    duomcp --version                            print ``duomcp <version>``

SERVER is an http(s) endpoint; or the name of a server in a config file (below); or a
command line that starts a stdio server (quoted as one argument: ``duomcp tools "uvx
mcp-server-time"``), which gets the shell's environment.

Options go anywhere on the line, also between ``NAME=VALUE`` arguments. Every command takes
``--json`` (print the wire JSON), ``--token`` (a bearer token, or ``$DUOMCP_TOKEN``),
``--client-id``/``--client-secret`` (OAuth client credentials), ``-H 'Name: value'``
(extra headers), ``--timeout``, ``--era``, ``--config`` and ``-v``/``-q``. With no
credentials, a server that asks for authorization gets an OAuth sign-in in the browser,
and the tokens are kept (``~/.cache/duomcp/oauth``) for the next command.

Config file: the ``mcpServers`` JSON of Claude Desktop, Cursor and VS Code (``servers``),
read by :mod:`duomcp.config`; ``--config FILE``, else ``$DUOMCP_CONFIG``, else
``$XDG_CONFIG_HOME/duomcp/mcp.json`` (``~/.config/duomcp/mcp.json``) if it exists. A name
found there wins over a command of the same name. Its stdio servers get the ``env`` the
entry gives on top of a few inherited variables (``PATH``, ``HOME``...), as in those apps.

Arguments of ``call`` are checked against the tool's input schema before the call is sent:
a missing or unknown name, a wrong type or a value outside an enum exits 2 with the tool's
signature. Names the schema does not declare are refused unless it sets
``additionalProperties``.

On stderr: the server's log messages at ``warning`` and above (``-v``: info, ``-vv``:
debug; ``-q``: error, ``-qq``: critical, ``-qqq``: none), progress of a call (one updating
line on a terminal; ``-q`` hides it), and a notice when a stdio server has said nothing for
5 seconds (``$DUOMCP_WAIT_NOTICE``: other seconds, 0 for never). A server's questions
(elicitation) are asked on the terminal when stdin is one, and declined otherwise.

Exit status: 0 done; 1 the server refused or the tool reported an error, or the connection
failed; 2 bad usage (also arguments that break the tool's schema); 130 interrupted; 141
stdout was closed early (``duomcp tools URL | head -1``), as for a tool killed by SIGPIPE,
with no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
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
_EXIT_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool that a closed pipe ended
_WAIT_NOTICE_ENV = "DUOMCP_WAIT_NOTICE"
_WAIT_NOTICE_DEFAULT = 5.0
# server log threshold by -v/-q: the count of -v minus the count of -q
_LOG_THRESHOLDS = {2: "debug", 1: "info", 0: "warning", -1: "error", -2: "critical"}


class UsageError(Exception):
    """A command line that cannot be carried out as written."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``duomcp`` command with ``argv`` (default: ``sys.argv[1:]``); return its status."""
    parser, commands = _parser()
    args = _parse(parser, commands, list(sys.argv[1:] if argv is None else argv))
    if args.command is None:
        parser.print_help()
        return _EXIT_USAGE
    args.verbosity = getattr(args, "verbose", 0) - getattr(args, "quiet", 0)
    args.endpoint = None  # the URL talked to, once known (for messages)
    _log_to_stderr(args.verbosity)
    try:
        status = int(args.run(args, sys.stdout))
        sys.stdout.flush()  # a closed pipe is found here, not at exit
        return status
    except BrokenPipeError:
        _stdout_to_devnull()
        return _EXIT_PIPE
    except UsageError as exc:
        parser.exit(_EXIT_USAGE, f"duomcp: {exc}\n")
    except MCPError as exc:
        from ._errors import describe

        print(f"duomcp: {describe(exc, args.endpoint)}", file=sys.stderr)
        return _EXIT_FAILED
    except KeyboardInterrupt:
        print("duomcp: interrupted", file=sys.stderr)
        return _EXIT_INTERRUPTED


def _stdout_to_devnull() -> None:
    """The reader of stdout is gone: point stdout at /dev/null, so that the flush at exit
    does not fail again (and print "Exception ignored ... BrokenPipeError")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (tests): nothing to do
        pass


_HANDLER: logging.Handler | None = None


def _log_to_stderr(verbosity: int) -> None:
    """duomcp's warnings (``-v``: and what it does, ``-vv``: in detail; ``-q``: errors
    only) go to stderr."""
    global _HANDLER
    logger = logging.getLogger("duomcp")
    if _HANDLER is not None:  # main() run again in one process: one handler, not two
        logger.removeHandler(_HANDLER)
    _HANDLER = logging.StreamHandler(sys.stderr)
    _HANDLER.setFormatter(logging.Formatter("duomcp: %(levelname)s: %(message)s"))
    logger.addHandler(_HANDLER)
    levels = {2: logging.DEBUG, 1: logging.INFO, 0: logging.WARNING, -1: logging.ERROR}
    logger.setLevel(levels[max(min(verbosity, 2), -1)] if verbosity > -2 else logging.CRITICAL)
    logger.propagate = False


# -- the command line -----------------------------------------------------------------------


class _Version(argparse.Action):
    """``--version``; the version is read only when asked for (it costs a metadata read)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from .._version import version

        sys.stdout.write(f"duomcp {version()}\n")
        parser.exit(0)


_EPILOG = """\
SERVER is an http(s) URL, a server's name in the config file, or a command line that
starts a stdio server ("uvx mcp-server-time", quoted as one argument).

config file: the mcpServers JSON of Claude Desktop, Cursor or VS Code ("servers"):
  --config FILE, else $DUOMCP_CONFIG, else $XDG_CONFIG_HOME/duomcp/mcp.json
  (~/.config/duomcp/mcp.json), when it exists.

environment: DUOMCP_TOKEN (bearer token for HTTP servers), DUOMCP_CONFIG (the config
  file), DUOMCP_WAIT_NOTICE (seconds a stdio server may say nothing before a notice on
  stderr; default 5, 0: never), NO_COLOR.

exit status: 0 done; 1 refused, failed, or the tool reported an error; 2 bad usage or
  arguments that break the tool's input schema; 130 interrupted; 141 stdout closed early.
"""


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
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
        "--config",
        metavar="FILE",
        help="an mcpServers JSON file naming servers (default: $DUOMCP_CONFIG, then "
        "~/.config/duomcp/mcp.json)",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="say more: duomcp's steps, the server's info logs (-vv: debug)",
    )
    common.add_argument(
        "-q",
        "--quiet",
        action="count",
        default=0,
        help="say less: no progress, the server's errors only (-qq: critical, -qqq: none)",
    )
    common.add_argument(
        "--no-browser",
        action="store_true",
        help="print the sign-in URL instead of opening a browser",
    )

    parser = argparse.ArgumentParser(
        prog="duomcp",
        description="Use an MCP server from a shell (duomcp, the MCP client SDK).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version)
    parser.set_defaults(command=None)
    sub = parser.add_subparsers(metavar="COMMAND")
    commands: dict[str, argparse.ArgumentParser] = {}

    def command(name: str, run: Callable[..., int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            parents=[common],
            help=help,
            description=help,
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(run=run, command=name)
        p.add_argument(
            "url",
            metavar="SERVER",
            help="an MCP endpoint URL, a server named in the config file, or a command "
            "that starts a stdio server",
        )
        commands[name] = p
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
    p.set_defaults(run=_demo, command="demo")
    commands["demo"] = p
    return parser, commands


def _parse(
    parser: argparse.ArgumentParser,
    commands: Mapping[str, argparse.ArgumentParser],
    argv: list[str],
) -> argparse.Namespace:
    """Parse with options anywhere: before the command, between ``NAME=VALUE`` arguments
    (``duomcp call URL add a=1 --json b=2``), after them. The command's own parser reads
    the whole line but the command's name, intermixed."""
    at = next((i for i, arg in enumerate(argv) if arg in commands), None)
    if at is None or any(arg in ("-h", "--help", "--version") for arg in argv[:at]):
        return parser.parse_args(argv)  # help, version, no command, or an unknown one
    return commands[argv[at]].parse_intermixed_args(argv[:at] + argv[at + 1 :])


# -- making a client ------------------------------------------------------------------------


def _get_console(args: argparse.Namespace) -> Any:
    """The command's stderr companion (one per run)."""
    console = getattr(args, "console", None)
    if console is None:
        from ._console import Console

        console = args.console = Console(sys.stderr)
    return console


def _wait_notice_after() -> float:
    text = os.environ.get(_WAIT_NOTICE_ENV)
    if not text:
        return _WAIT_NOTICE_DEFAULT
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"${_WAIT_NOTICE_ENV} must be a number of seconds, not {text!r}") from None


def _client(args: argparse.Namespace, auth: Any = None) -> _Session:
    from .. import Client
    from ._console import Elicitor, ServerLog, Watchdog

    target, config_headers = _server(args)
    console = _get_console(args)
    threshold = _LOG_THRESHOLDS.get(max(min(args.verbosity, 2), -3))  # -qqq: None, no logs
    server_log = ServerLog(console, threshold)
    watchdog = None
    if not isinstance(target, str):
        watchdog = Watchdog(console, target.display, _wait_notice_after())
    elicitor = Elicitor(
        console,
        interactive=_isatty(sys.stdin),
        pause=watchdog.paused if watchdog is not None else contextlib.nullcontext,
    )
    options: dict[str, Any] = {
        "timeout": args.timeout,
        "era": args.era,
        "on_logging_message": server_log,
        "elicitation_handler": elicitor,
    }
    if watchdog is not None:
        options["on_notification"] = watchdog.heard
    if isinstance(target, str):
        args.endpoint = target
        client = Client(
            target,
            auth=auth if auth is not None else _auth(args),
            headers={**config_headers, **_headers(args.header)},
            **options,
        )
    else:
        if args.token or args.client_id or args.header:
            raise UsageError(
                "credentials and headers are for HTTP servers; a stdio server gets its "
                "own from the environment"
            )
        client = Client(target, **options)
    return _Session(client, watchdog, threshold)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class _Session:
    """A blocking client with what the command adds around it: the server's log level set
    on connection, and a watchdog over every wait for a stdio server."""

    def __init__(self, client: Any, watchdog: Any, threshold: str | None) -> None:
        self._client = client
        self.watchdog = watchdog
        self._threshold = threshold

    def _waiting(self) -> contextlib.AbstractContextManager[Any]:
        return self.watchdog.waiting() if self.watchdog is not None else contextlib.nullcontext()

    def __enter__(self) -> _Session:
        try:
            with self._waiting():
                self._client.__enter__()
        except BaseException:
            self._stop()
            raise
        try:
            self._set_logging_level()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._client.__exit__(*exc)
        finally:
            self._stop()

    def _stop(self) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()

    def _set_logging_level(self) -> None:
        """Ask a server that declares logging for no less severe messages than are shown."""
        capabilities = self._client.server_capabilities
        if capabilities is None or capabilities.logging is None:
            return
        try:
            with self._waiting():
                self._client.set_logging_level(self._threshold or "emergency")
        except MCPError as exc:  # only a courtesy: the messages are filtered here anyway
            logging.getLogger("duomcp").info("the server refused logging/setLevel: %s", exc)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._client, name)
        if self.watchdog is None or not callable(value):
            return value

        @functools.wraps(value)
        def watched(*args: Any, **kwargs: Any) -> Any:
            with self._waiting():
                return value(*args, **kwargs)

        return watched


def _server(args: argparse.Namespace) -> tuple[Any, dict[str, str]]:
    """What SERVER names: ``(url, headers from the config)`` or ``(StdioServer, {})``."""
    target = args.url
    if target.startswith(("http://", "https://")):
        return target, {}
    entry = _config_entry(args, target)
    if entry is None:
        return _stdio_server(target), {}
    if entry.kind == "http":
        return entry.url, dict(entry.headers)
    return entry.target(), {}


def _config_entry(args: argparse.Namespace, name: str) -> Any:
    """The config file's server called ``name``; ``None`` when there is none (then SERVER
    is a command line). With ``--config``, a one-word SERVER must be a name in the file."""
    from ..config import default_config_path, load_servers

    path = args.config or default_config_path()
    if args.config is None and not os.path.isfile(path):
        return None
    try:
        servers = load_servers(path)
    except ValueError as exc:
        raise UsageError(f"bad config file: {exc}") from exc
    except OSError as exc:
        raise UsageError(f"cannot read the config file {path}: {exc.strerror or exc}") from exc
    if name in servers:
        return servers[name]
    if args.config is not None and not any(char.isspace() for char in name):
        known = ", ".join(sorted(servers)) or "none"
        raise UsageError(f"no server named {name!r} in {path} (it names: {known})")
    return None


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
    from ._checks import argument_problems, signature
    from ._console import ProgressLine

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
        # an unknown tool is sent anyway: the server's refusal says what it has
        tool = next((t for t in client.list_tools() if t.name == args.tool), None)
        schema = tool.input_schema if tool is not None else None
        arguments.update(_arguments(pairs, schema))
        problems = argument_problems(arguments, schema) if tool is not None else []
        if problems:
            raise UsageError(
                f"bad arguments for {args.tool}:\n  "
                + "\n  ".join(problems)
                + f"\nusage: {signature(args.tool, schema)}"
            )
        progress = ProgressLine(_get_console(args), args.tool)
        watchdog = client.watchdog

        def on_progress(done: float, total: float | None, message: str | None) -> None:
            if watchdog is not None:
                watchdog.heard()
            if args.verbosity >= 0:
                progress(done, total, message)

        try:
            result = client.call_tool(args.tool, arguments, on_progress=on_progress)
        finally:
            progress.done()
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
    try:
        signed_out = portal.call(auth.sign_out)
    finally:
        portal.call(auth.aclose)  # the revocation's connections
    if signed_out:
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
