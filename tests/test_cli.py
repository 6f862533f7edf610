"""The ``duomcp`` command against the reference server over real sockets."""

from __future__ import annotations

import contextlib
import gc
import http.server
import io
import json
import re
import shlex
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from duomcp import cli
from duomcp._version import version
from duomcp.cli import main
from duomcp.testing import AuthServerSettings, ReferenceServer, ServerFaults

from .conftest import ServerThread

PEER = Path(__file__).with_name("stdio_peer.py")


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's own config file (~/.config/duomcp/mcp.json) never reaches a test."""
    monkeypatch.delenv("DUOMCP_CONFIG", raising=False)
    monkeypatch.delenv("DUOMCP_WAIT_NOTICE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))


def command(*argv: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """The real ``duomcp`` command in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "duomcp", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


def tool_calls(server: ReferenceServer) -> list[Any]:
    return [
        r.body
        for r in server.requests
        if isinstance(r.body, dict) and r.body.get("method") == "tools/call"
    ]


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_tools_lists_names_parameters_and_descriptions(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "tools", server.url)
    assert code == 0
    lines = out.splitlines()
    assert "echo  text=string" in lines
    assert "add  a=number b=number" in lines
    assert "    Echo the text back." in lines


def test_call_reads_values_by_the_input_schema(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # a and b are numbers in the schema: "2" and "3.5" are sent as numbers, not strings.
    code, out, _ = run(capsys, "call", server.url, "add", "a=2", "b=3.5", "--json")
    assert code == 0
    assert json.loads(out)["structuredContent"] == {"result": 5.5}
    # text is a string in the schema: "42" stays a string; := is always JSON.
    code, out, _ = run(capsys, "call", server.url, "echo", "text=42")
    assert (code, out) == (0, "42\n")
    code, out, _ = run(capsys, "call", server.url, "echo", "--args", '{"text": "from --args"}')
    assert (code, out) == (0, "from --args\n")


def test_a_failing_tool_exits_1_and_prints_its_error(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "call", server.url, "fail")
    assert code == 1
    assert "this tool always fails" in out


def test_a_refused_call_exits_1_with_the_servers_message(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "call", server.url, "no-such-tool")
    assert code == 1
    assert out == ""
    assert err.startswith("duomcp: ") and "no-such-tool" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ("call", "{url}", "echo", "text"),  # no =
        ("call", "{url}", "echo", "x:=not json"),
        ("call", "{url}", "echo", "--args", "[1]"),
        ("tools", "{url}", "-H", "no colon"),
    ],
)
def test_bad_usage_exits_2_before_any_request(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    before = len(server.requests)
    with pytest.raises(SystemExit) as info:
        main([a.format(url=server.url) for a in argv])
    assert info.value.code == 2
    assert "duomcp: " in capsys.readouterr().err
    assert len(server.requests) == before


def test_resources_read_and_prompts(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "resources", server.url)
    assert code == 0
    assert "mem://greeting  greeting  (text/plain)" in out.splitlines()
    assert "mem://items/{id}  item  (template)" in out.splitlines()
    assert run(capsys, "read", server.url, "mem://greeting")[:2] == (0, "Hello, world!\n")
    code, out, _ = run(capsys, "prompts", server.url)
    assert code == 0 and "greet  name" in out.splitlines()
    code, out, _ = run(capsys, "prompt", server.url, "greet", "name=Ada")
    assert (code, out) == (0, "[user]\nPlease greet Ada warmly.\n")


def test_info_in_both_eras(
    dual_server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "info", dual_server.url)
    assert code == 0
    assert "era       modern" in out and "protocol  2026-07-28" in out
    assert out.startswith("server    duomcp-reference ")  # from the discover result's _meta
    code, out, _ = run(capsys, "info", dual_server.url, "--era", "legacy")
    assert code == 0
    assert "era       legacy" in out and "protocol  2025-11-25" in out
    assert "session   " in out


def test_token_and_headers_reach_the_server(
    server: ReferenceServer, faults: ServerFaults, capsys: pytest.CaptureFixture[str]
) -> None:
    faults.require_bearer = "s3cret"
    code, out, _ = run(capsys, "tools", server.url, "--token", "s3cret", "-H", "X-Trace: t1")
    assert code == 0 and "echo  text=string" in out
    assert all(r.headers.get("authorization") == "Bearer s3cret" for r in server.requests)
    assert all(r.headers.get("x-trace") == "t1" for r in server.requests)
    code, _, err = run(capsys, "tools", server.url, "--token", "wrong")
    assert code == 1 and "401" in err
    assert "wrong" not in err and "s3cret" not in err  # no secret in messages


def test_a_command_line_is_a_stdio_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    peer = Path(__file__).with_name("stdio_peer.py")
    command = shlex.join([sys.executable, str(peer), "--log", str(tmp_path / "log")])
    code, out, _ = run(capsys, "call", command, "echo", "text=over stdio")
    assert (code, out) == (0, "over stdio\n")
    code, out, _ = run(capsys, "info", command)
    assert code == 0 and "era       legacy" in out
    with pytest.raises(SystemExit) as info:
        main(["tools", command, "--token", "t"])  # a stdio server takes no credentials
    assert info.value.code == 2
    monkeypatch.setenv("DUOMCP_TOKEN", "for-http-servers")  # set for HTTP: no harm to stdio
    assert run(capsys, "call", command, "echo", "text=still")[:2] == (0, "still\n")


def test_login_to_a_server_that_needs_none(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "login", server.url)
    assert (code, out) == (0, f"{server.url} did not ask for authorization\n")


def test_login_signs_in_once_and_later_commands_reuse_the_tokens(
    faults: ServerFaults,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    opened: list[str] = []

    def person_at_the_browser(url: str) -> bool:  # approves; the redirect reaches the loopback
        opened.append(url)
        with urllib.request.urlopen(url, timeout=10) as resp:
            return bool(resp.status == 200)

    monkeypatch.setattr(cli, "_open_browser", person_at_the_browser)
    with ServerThread.running(faults, oauth=AuthServerSettings()) as st:
        url = st.server.url
        code, out, _ = run(capsys, "login", url)
        assert code == 0
        assert out.startswith(f"signed in to {url} (scope: mcp:read mcp:write);")
        assert len(opened) == 1
        assert parse_qs(urlsplit(opened[0]).query)["code_challenge_method"] == ["S256"]
        stored = list((tmp_path / "duomcp" / "oauth").iterdir())
        assert stored and all(f.stat().st_mode & 0o777 == 0o600 for f in stored)
        code, out, _ = run(capsys, "call", url, "echo", "text=again")
        assert (code, out) == (0, "again\n")
        assert len(opened) == 1  # the stored tokens were used: no second sign-in
        code, out, _ = run(capsys, "logout", url)
        assert (code, out) == (0, f"signed out of {url}: its tokens are forgotten\n")
        assert len(opened) == 1  # logging out signs nobody in
        assert run(capsys, "logout", url)[:2] == (0, f"no tokens were kept for {url}\n")
        code, out, _ = run(capsys, "call", url, "echo", "text=back")
        assert (code, out) == (0, "back\n")
        assert len(opened) == 2  # the tokens were gone: a new sign-in


def test_demo_runs_the_whole_flow_in_a_fresh_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "duomcp", "demo"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "was refused: 401" in out
    assert "PKCE S256" in out
    assert "Connected in the modern era, protocol 2026-07-28" in out
    assert "1 x 401, refreshed (1 refresh_token grant)" in out
    assert "(1 sign-in in all)" in out and "'legacy era'" in out
    found = re.search(r"Of the (\d+) requests the server accepted \(.*\), (\d+) carried", out)
    assert found is not None
    assert int(found[1]) == int(found[2]) > 10
    assert proc.stderr == ""


# -- the version, a closed pipe, options anywhere -----------------------------------------------


def test_version_prints_the_name_and_version() -> None:
    proc = command("--version")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"duomcp {version()}\n", "")


def test_a_closed_stdout_exits_141_without_a_traceback(server: ReferenceServer) -> None:
    # `duomcp tools URL | head -1`, with a reader that is gone before the list is printed
    proc = subprocess.Popen(
        [sys.executable, "-m", "duomcp", "tools", server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    with proc:
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 141
    assert err == ""  # no BrokenPipeError, no "Exception ignored"


def test_options_go_anywhere_on_the_line(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "call", server.url, "add", "a=1", "--json", "b=2")
    assert code == 0 and json.loads(out)["structuredContent"] == {"result": 3}
    code, out, _ = run(capsys, "--json", "call", "--timeout", "9", server.url, "echo", "text=x")
    assert code == 0 and json.loads(out)["content"][0]["text"] == "x"
    code, out, _ = run(capsys, "tools", "-v", server.url, "--era", "legacy")
    assert code == 0 and "echo  text=string" in out


# -- arguments checked against the input schema -------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("a=1",), "missing argument b (number)"),
        (("a=abc", "b=2"), 'argument a: expected number, got "abc"'),
        (("a=1", "b=2", "zzz=1"), "unknown argument zzz"),
        (("a=1", "bb=2"), "unknown argument bb (did you mean b?)"),
    ],
)
def test_arguments_breaking_the_schema_exit_2_before_the_call(
    server: ReferenceServer,
    capsys: pytest.CaptureFixture[str],
    arguments: tuple[str, ...],
    expected: str,
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["call", server.url, "add", *arguments])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("duomcp: bad arguments for add:\n")
    assert f"  {expected}\n" in err
    assert "usage: add(a: number, b: number)\n" in err
    assert tool_calls(server) == []  # nothing was sent


def test_a_value_outside_an_enum_exits_2_with_the_signature(
    modern_server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["call", modern_server.url, "log", "level=loud"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert 'argument level: "loud" is not one of "debug", "info",' in err
    assert 'usage: log(message?: string, level?: "debug"|"info"|' in err
    assert tool_calls(modern_server) == []
    # the defaults of optional parameters are in the signature; a good call goes through
    assert run(capsys, "call", modern_server.url, "log", "level=error")[:2] == (0, "logged\n")


# -- HTTP errors ---------------------------------------------------------------------------------

_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>{status} Oops</title><style>b {{}}</style></head>\n"
    "<body><h1>Something went wrong</h1>\n<p>" + "padding " * 500 + "</p></body></html>\n"
)


@contextlib.contextmanager
def http_answering(status: int) -> Iterator[str]:
    """A plain HTTP server answering every request with ``status`` and an HTML page."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self) -> None:
            body = _PAGE.format(status=status).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = answer

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/mcp"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


@pytest.mark.parametrize("status", [404, 405, 501])
def test_a_url_that_is_no_mcp_endpoint_gets_one_line_and_a_hint(
    status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with http_answering(status) as url:
        code, out, err = run(capsys, "tools", url)
    gc.collect()
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and err.endswith(": is this an MCP endpoint?\n")
    assert f"answered {status} " in err and f'("{status} Oops")' in err
    assert "<" not in err and "padding" not in err


def test_an_html_error_page_is_never_printed_whole(capsys: pytest.CaptureFixture[str]) -> None:
    with http_answering(502) as url:
        code, _, err = run(capsys, "tools", url)
    gc.collect()
    assert code == 1
    assert err == f'duomcp: {url} answered 502 Bad Gateway ("502 Oops")\n'


def test_a_missing_path_on_a_real_server_and_tls_to_a_plain_port(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = server.url.rsplit("/", 1)[0] + "/nope"
    code, _, err = run(capsys, "tools", wrong)
    assert (code, err) == (1, f"duomcp: {wrong} answered 404 Not Found: is this an MCP endpoint?\n")
    tls = server.url.replace("http://", "https://")
    code, _, err = run(capsys, "tools", tls)
    assert code == 1 and err.count("\n") == 1
    assert "does not speak TLS" in err and f"use http://, as in {server.url}\n" in err
    assert "Traceback" not in err


# -- the server's log messages, progress ------------------------------------------------------


def test_server_logs_on_stderr_from_warning_up_and_v_q_move_the_level(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "call", server.url, "log", "level=warning", "message=disk low")
    assert (code, out) == (0, "logged\n")
    assert "server warning [reference]: disk low\n" in err
    assert server.log_level == "warning"  # the server was asked for no less than shown
    code, _, err = run(capsys, "call", server.url, "log", "level=info", "message=hello")
    assert code == 0 and "hello" not in err
    code, _, err = run(capsys, "call", server.url, "log", "level=info", "message=hi", "-v")
    assert code == 0 and "server info [reference]: hi\n" in err
    assert server.log_level == "info"
    code, _, err = run(capsys, "-q", "call", server.url, "log", "level=warning", "message=x")
    assert code == 0 and "server warning" not in err
    assert server.log_level == "error"


def test_progress_is_plain_lines_when_stderr_is_no_terminal(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "call", server.url, "progress", "steps=3")
    assert (code, out) == (0, "3 steps done\n")
    assert err.splitlines() == [
        "progress: 1/3 (33%) step 1 of 3",
        "progress: 2/3 (67%) step 2 of 3",
        "progress: 3/3 (100%) step 3 of 3",
    ]
    code, _, err = run(capsys, "call", server.url, "progress", "steps=3", "-q")
    assert code == 0 and err == ""


def test_progress_is_one_updating_line_on_a_terminal(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setenv("NO_COLOR", "1")
    code, out, _ = run(capsys, "call", server.url, "progress", "steps=2")
    assert (code, out) == (0, "2 steps done\n")
    assert terminal.getvalue() == (
        "\rprogress: 1/2 (50%) step 1 of 2\x1b[K"
        "\rprogress: 2/2 (100%) step 2 of 2\x1b[K"
        "\r\x1b[K"  # taken away at the end
    )


# -- a quiet stdio server -------------------------------------------------------------------------


def test_a_notice_when_a_stdio_server_says_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = shlex.join([sys.executable, str(PEER), "--log", str(tmp_path / "log")])
    monkeypatch.setenv("DUOMCP_WAIT_NOTICE", "0.3")
    code, _, err = run(capsys, "call", server, "slow", "--timeout", "1.5")  # never answered
    assert code == 1
    notices = [line for line in err.splitlines() if "still waiting" in line]
    assert len(notices) == 1
    assert re.fullmatch(
        r"duomcp: still waiting for .*stdio_peer\.py --log .* \(started \d+ s ago\)\.\.\.",
        notices[0],
    )
    code, out, err = run(capsys, "call", server, "echo", "text=quick")
    assert (code, out) == (0, "quick\n") and "still waiting" not in err


# -- elicitation -----------------------------------------------------------------------------


@pytest.mark.parametrize(("era", "tool"), [("legacy", "elicit"), ("modern", "mrtr_elicit")])
def test_elicitation_asks_on_a_terminal_with_defaults(
    dual_server: ReferenceServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    era: str,
    tool: str,
) -> None:
    # yes, answer; name: Grace; age: the default (36); subscribe: n
    monkeypatch.setattr(sys, "stdin", Terminal("y\nGrace\n\nn\n"))
    code, out, err = run(capsys, "call", dual_server.url, tool, "--era", era)
    assert code == 0
    answer = {"action": "accept", "content": {"age": 36, "name": "Grace", "subscribe": False}}
    assert json.loads(out) == answer
    assert "The server asks: Tell me about yourself" in err
    assert "  Name (string, required) [Ada]: " in err
    assert "  Age (integer) [36]: " in err and "  Subscribe (y/n) [y]: " in err


def test_elicitation_re_asks_a_bad_answer_and_may_be_declined(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal("\n\nold\n-1\n7\nmaybe\nyes\n"))
    code, out, err = run(capsys, "call", server.url, "elicit")
    assert code == 0
    answer = {"action": "accept", "content": {"age": 7, "name": "Ada", "subscribe": True}}
    assert json.loads(out) == answer
    assert "an integer, please" in err and "at least 0" in err and "answer y or n" in err
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    code, out, _ = run(capsys, "call", server.url, "elicit")
    assert (code, json.loads(out)) == (0, {"action": "decline"})
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))  # then end of input: cancelled
    code, out, _ = run(capsys, "call", server.url, "elicit")
    assert (code, json.loads(out)) == (0, {"action": "cancel"})


def test_elicitation_is_declined_when_stdin_is_no_terminal(server: ReferenceServer) -> None:
    proc = command("call", server.url, "elicit", stdin=subprocess.DEVNULL)
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {"action": "decline"}
    assert proc.stderr == (
        "duomcp: the server asked for input ('Tell me about yourself'); declined, as stdin "
        "is not a terminal\n"
    )


# -- servers named in a config file -----------------------------------------------------------


def write_config(path: Path, servers: dict[str, Any], key: str = "mcpServers") -> Path:
    path.write_text(json.dumps({key: servers}), encoding="utf-8")
    return path


def test_a_server_named_in_a_config_file(
    server: ReferenceServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path / "mcp.json",
        {
            "ref": {"url": server.url, "headers": {"X-Team": "core"}},
            "peer": {"command": sys.executable, "args": [str(PEER), "--log", str(tmp_path / "l")]},
        },
    )
    code, out, _ = run(capsys, "tools", "ref", "--config", str(config), "-H", "X-Trace: t")
    assert code == 0 and "echo  text=string" in out
    assert all(r.headers.get("x-team") == "core" for r in server.requests)
    assert all(r.headers.get("x-trace") == "t" for r in server.requests)
    code, out, _ = run(capsys, "call", "--config", str(config), "peer", "echo", "text=hi")
    assert (code, out) == (0, "hi\n")
    with pytest.raises(SystemExit) as info:
        main(["tools", "nobody", "--config", str(config)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"no server named 'nobody' in {config} (it names: peer, ref)\n" in err


def test_vs_code_servers_and_the_default_config_places(
    server: ReferenceServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "xdg"
    (home / "duomcp").mkdir(parents=True)
    write_config(
        home / "duomcp" / "mcp.json", {"ref": {"type": "http", "url": server.url}}, "servers"
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    assert run(capsys, "call", "ref", "echo", "text=xdg")[:2] == (0, "xdg\n")
    named = write_config(tmp_path / "other.json", {"other": {"url": server.url}})
    monkeypatch.setenv("DUOMCP_CONFIG", str(named))  # wins over the XDG place
    assert run(capsys, "call", "other", "echo", "text=env")[:2] == (0, "env\n")
    # a command line still works with a config file around
    peer = shlex.join([sys.executable, str(PEER), "--log", str(tmp_path / "log")])
    assert run(capsys, "call", peer, "echo", "text=cmd")[:2] == (0, "cmd\n")


def test_a_malformed_config_exits_2_naming_the_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "mcp.json", {"bad": {"command": ["not", "a", "string"]}})
    with pytest.raises(SystemExit) as info:
        main(["tools", "bad", "--config", str(config)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f'duomcp: bad config file: {config}: server "bad": ')
    assert err.endswith('"command" must be a string, not list\n')


def test_help_documents_the_config_file_and_the_environment() -> None:
    proc = command("--help")
    assert proc.returncode == 0
    assert "~/.config/duomcp/mcp.json" in proc.stdout and "$DUOMCP_CONFIG" in proc.stdout
    assert "DUOMCP_WAIT_NOTICE" in proc.stdout and "141" in proc.stdout
