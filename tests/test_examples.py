"""Every file in examples/ runs and says what the docs show; the docs site builds cleanly.

Each example starts the server it talks to, so it runs in a subprocess of its own, in its
own session (process group): a stuck example is killed with whatever it started.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
TIMEOUT = 60.0

# Lines (or parts of lines) each example must print. A new example gets an entry here.
EXPECTED: dict[str, list[str]] = {
    "machine_auth.py": [
        "client credentials -> as a service",
        "workload identity -> as a workload",
        "enterprise-managed -> for Ada, via her company",
        "'client_credentials': 1, 'urn:ietf:params:oauth:grant-type:jwt-bearer': 2",
    ],
    "many_servers.py": [
        "not connected: ['gone']",
        "OpenAI tool definitions:",
        'tool message for a: {"result": 5}',
        "tool message for b: hi",
    ],
    "skills.py": [
        "skill release-notes: Write release notes from a list of merged changes (2 files)",
        "SKILL.md verified; first line: Group the changes",
        "template.md verified: ## [version] - date",
        "tampered digest: refused (digest check of skill://release-notes/SKILL.md)",
        "tampered size: refused (size check of skill://release-notes/SKILL.md)",
        "tampered frontmatter: refused (frontmatter check of skill://release-notes/SKILL.md)",
    ],
    "tasks.py": [
        "legacy server",
        "modern server",
        "the task asks: Delete old.txt?",
        "confirm_delete -> deleted old.txt",
        "slow_compute(60 s) -> cancelled",
        "later: computed report in 0.3 s",
        "later, from another client: computed report in 0.3 s",
        "task completed",
    ],
    "quickstart.py": [
        "connected to http://127.0.0.1:",
        "tool add:",
        "add(2, 3) -> ",
        "structured: {'result': 5}",
    ],
    "blocking_script.py": [
        "legacy era, protocol 2025-11-25",
        "add(2, 3) -> {'result': 5}",
        "echo -> hi",
        "fail -> is_error: True",
        "mem://greeting -> Hello, world!",
        "prompt greet -> Please greet Ada warmly.",
        "no_such_tool -> JSONRPCError -32602",
    ],
    "async_service.py": [
        "connected: modern era, protocol 2026-07-28",
        "50 concurrent calls in",
        "sum of sums 2450",
        "progress 3/3: step 3 of 3",
        "progress -> 3 steps done",
        "slow -> RequestTimeoutError after 0.5 s",
        "slow under asyncio.wait_for -> cancelled",
        "no_such_tool -> JSONRPCError -32602",
        "fail -> is_error: True",
        "mem://missing -> JSONRPCError",
    ],
    "notebook_cell.py": [
        "asyncio.run here fails: asyncio.run() cannot be called from a running event loop",
        "answer: {'result': 42}",
        "add: Add two numbers.",
    ],
    "stdio_server.py": [
        "modern era, protocol 2026-07-28",
        "tool word_count: Count the words in a text.",
        "word_count -> {'result': 3}",
        "shout -> HELLO",
        "closed: the server process was ended",
    ],
    "oauth_demo.py": [
        "sign-in at http://127.0.0.1:",
        "connected: modern era, protocol 2026-07-28",
        "add(2, 3) -> {'result': 5}",
        "401 responses: 1; registrations: 1",
        "refresh token: True",
        "second client (legacy era): the stored tokens, no new sign-in",
        "sign-ins in all: 1",
    ],
}

NEEDS = {"stdio_server.py": "mcp"}  # a package outside duomcp's own dependencies


def run(args: list[str], timeout: float, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``args`` from the repository root; kill its whole process group on timeout."""
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"{args} ran over {timeout} s\nstdout:\n{out}\nstderr:\n{err}")
    return process.returncode, out, err


def test_every_example_has_expectations() -> None:
    assert EXAMPLES, "no examples found"
    assert sorted(path.name for path in EXAMPLES) == sorted(EXPECTED)


@pytest.mark.skipif(sys.platform == "win32", reason="process groups (killpg) are POSIX-only")
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(example: Path) -> None:
    needed = NEEDS.get(example.name)
    if needed and importlib.util.find_spec(needed) is None:
        pytest.skip(f"{example.name} needs the {needed!r} package")
    code, out, err = run([sys.executable, str(example)], TIMEOUT)
    assert code == 0, f"exit {code}\nstdout:\n{out}\nstderr:\n{err}"
    for expected in EXPECTED.get(example.name, []):
        assert expected in out, f"{expected!r} not printed\nstdout:\n{out}\nstderr:\n{err}"
    # nothing went wrong quietly: no traceback, no coroutine left unawaited, no warning
    for sign in ("Traceback", "Warning", "never awaited"):
        assert sign not in err, f"{sign!r} on stderr:\n{err}"


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None,
    reason="mkdocs is not installed (the docs dependency group installs it)",
)
def test_docs_build_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    code, out, err = run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1"},  # mkdocs-material's banner about MkDocs 2.0
    )
    log = out + err
    assert code == 0, log
    assert "WARNING" not in log, log
    # the API reference was generated from the docstrings, not left empty
    api = (site / "api" / "duomcp" / "index.html").read_text(encoding="utf-8")
    for anchor in ("duomcp.AsyncClient.call_tool", "duomcp.Client.call_tool", "duomcp.StdioServer"):
        assert f'id="{anchor}"' in api, anchor
    testing = (site / "api" / "testing" / "index.html").read_text(encoding="utf-8")
    assert 'id="duomcp.testing.ReferenceServer"' in testing
    assert 'id="duomcp.testing.ServerFaults"' in testing
    # the guides include the example files themselves
    scripts = (site / "scripts" / "index.html").read_text(encoding="utf-8")
    assert "A plain script with the blocking Client" in scripts
