"""The ``duomcp`` command against the reference server over real sockets."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from duomcp import cli
from duomcp.cli import main
from duomcp.testing import AuthServerSettings, ReferenceServer, ServerFaults

from .conftest import ServerThread


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
