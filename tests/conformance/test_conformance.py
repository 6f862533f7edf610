"""Runs the official MCP conformance suite's client scenarios against duomcp.

Needs Node 22 and @modelcontextprotocol/conformance 0.1.16 in .ci-cache/node, and the
suite's pre-release 0.2.0-alpha.12 (the only one with 2026-07-28 client scenarios) in
.ci-cache/conformance-next (`bash .ci/install-node.sh`). A missing install fails the
tests: it is never skipped. The driver is the same for every scenario and era: the client
finds the era by itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".ci-cache" / "node" / "node_modules" / ".bin"
NEXT_SUITE = ROOT / ".ci-cache" / "conformance-next" / "node_modules" / ".bin" / "conformance"
DRIVER = Path(__file__).with_name("client.py")
# 2026-07-28 scenarios of the pre-release suite -> the check ids that must be SUCCESS
# (every check they reported SUCCESS when first run with duomcp, reviewed).
MODERN_SCENARIOS: dict[str, list[str]] = json.loads(
    Path(__file__).with_name("modern_checks.json").read_text(encoding="utf-8")
)
# Extension scenarios of the pre-release suite (DPoP, workload identity federation,
# enterprise-managed authorization) -> the check ids that must be SUCCESS.
_DPOP = [
    "sep-1932-client-token-request-proof",
    "sep-1932-client-dpop-auth-scheme",
    "sep-1932-client-fresh-proof",
]
EXTENSION_SCENARIOS: dict[str, list[str]] = {
    "auth/dpop": _DPOP,
    "auth/dpop-nonce": [*_DPOP, "sep-1932-client-as-nonce", "sep-1932-client-rs-nonce"],
    "auth/wif-jwt-bearer": ["wif-assertion-verified", "valid-bearer-token"],
    "auth/enterprise-managed-authorization": [
        "complete-flow-token-exchange",
        "complete-flow-jwt-bearer",
        "valid-bearer-token",
    ],
    "auth/client-credentials-basic": ["client-credentials-basic-auth", "valid-bearer-token"],
    "auth/client-credentials-jwt": ["client-credentials-jwt-verified", "valid-bearer-token"],
    # Skills (SEP-2640): listed without reading any file; a tampered SKILL.md is read,
    # refused, and the skill's other files are never read.
    "sep-2640-client-no-prefetch": ["sep-2640-host-no-prefetch"],
    "sep-2640-client-verify-digest": ["sep-2640-host-verify-digest"],
    "sep-2640-client-verify-size": ["sep-2640-host-size-mismatch-failure"],
    "sep-2640-client-verify-frontmatter": ["sep-2640-host-frontmatter-comparison"],
}
# Modern auth scenarios whose client must refuse and exit with an error.
MODERN_CLIENT_MUST_FAIL = {
    "auth/iss-normalized",
    "auth/iss-supported-missing",
    "auth/iss-unexpected",
    "auth/iss-wrong-issuer",
    "auth/metadata-issuer-mismatch",
    "auth/resource-mismatch",
    "auth/scope-retry-limit",
}

# The checks each scenario must report as SUCCESS: the suite passes a run with no
# checks at all, so the expected ids are listed here (failure-only checks such as
# client-elicitation-sep1034-general are covered by "no FAILURE or WARNING" below).
SCENARIOS = {
    "initialize": ["mcp-client-initialization"],
    "tools_call": ["tool-add-numbers"],
    "elicitation-sep1034-client-defaults": [
        "client-elicitation-sep1034-string-default",
        "client-elicitation-sep1034-integer-default",
        "client-elicitation-sep1034-number-default",
        "client-elicitation-sep1034-enum-default",
        "client-elicitation-sep1034-boolean-default",
    ],
    "sse-retry": [
        "client-sse-graceful-reconnect",
        "client-sse-retry-timing",
        "client-sse-last-event-id",
    ],
}
_FLOW = ["authorization-request", "token-request", "valid-bearer-token"]
_PKCE = [
    "pkce-code-challenge-sent",
    "pkce-s256-method-used",
    "pkce-code-verifier-sent",
    "pkce-verifier-matches-challenge",
]
_DISCOVERY = ["prm-pathbased-requested", "authorization-server-metadata"]
_RESOURCE = [
    "resource-parameter-in-authorization",
    "resource-parameter-in-token",
    "resource-parameter-valid-uri",
    "resource-parameter-consistency",
    "token-endpoint-auth-method",
]
SCENARIOS.update(
    {
        "auth/metadata-default": [*_DISCOVERY, "client-registration", *_PKCE, *_FLOW],
        "auth/metadata-var1": [*_DISCOVERY, "client-registration", *_PKCE, *_FLOW],
        "auth/metadata-var2": ["authorization-server-metadata", "client-registration", *_FLOW],
        "auth/metadata-var3": ["authorization-server-metadata", "client-registration", *_FLOW],
        "auth/basic-cimd": [*_DISCOVERY, "cimd-client-id-used", *_PKCE, *_FLOW],
        "auth/scope-from-www-authenticate": ["scope-from-www-authenticate", *_FLOW],
        "auth/scope-from-scopes-supported": ["scope-from-scopes-supported", *_FLOW],
        "auth/scope-omitted-when-undefined": ["scope-omitted-when-undefined", *_FLOW],
        "auth/scope-step-up": ["scope-step-up-initial", "scope-step-up-escalation", *_FLOW],
        "auth/scope-retry-limit": ["scope-retry-limit", "authorization-request"],
        "auth/token-endpoint-auth-basic": [*_RESOURCE, "client-registration", *_FLOW],
        "auth/token-endpoint-auth-post": [*_RESOURCE, "client-registration", *_FLOW],
        "auth/token-endpoint-auth-none": [*_RESOURCE, "client-registration", *_FLOW],
        "auth/pre-registration": ["pre-registration-auth", *_PKCE, *_FLOW],
        "auth/2025-03-26-oauth-metadata-backcompat": [
            "authorization-server-metadata",
            "client-registration",
            *_PKCE,
            *_FLOW,
        ],
        "auth/2025-03-26-oauth-endpoint-fallback": ["client-registration", *_FLOW],
        "auth/resource-mismatch": ["prm-pathbased-requested", "resource-mismatch-rejected"],
        "auth/offline-access-scope": [*_DISCOVERY, *_FLOW],
        "auth/offline-access-not-supported": ["sep-2207-offline-access-not-requested", *_FLOW],
        "auth/client-credentials-basic": ["client-credentials-basic-auth"],
        "auth/client-credentials-jwt": ["client-credentials-jwt-verified"],
        "auth/cross-app-access-complete-flow": [
            "complete-flow-token-exchange",
            "complete-flow-jwt-bearer",
        ],
    }
)
# Scenarios whose client is expected to give up with an error (the suite allows it).
CLIENT_MAY_FAIL = {"auth/scope-retry-limit", "auth/resource-mismatch"}


def _run_suite(
    suite: Path, scenario: str, tmp_path: Path, *extra: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    node = BIN / "node"
    assert node.exists() and suite.exists(), (
        f"the conformance suite is not installed at {suite}: run bash .ci/install-node.sh"
    )
    command = f"exec {sys.executable} {DRIVER}"
    proc = subprocess.run(
        [
            str(node),
            str(suite),
            "client",
            "--command",
            command,
            "--scenario",
            scenario,
            "--timeout",
            "60000",
            "-o",
            str(tmp_path),
            "--verbose",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    report = f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    checks = json.loads(proc.stdout[proc.stdout.index("[") :]) if "[" in proc.stdout else []
    # A check id may repeat (one per request kind): FAILURE or WARNING anywhere wins, then
    # SUCCESS; SKIPPED and INFO (e.g. "no initialize was sent") count least.
    rank = {"FAILURE": 4, "WARNING": 3, "SUCCESS": 2}
    status: dict[str, str] = {}
    for check in checks:
        old = status.get(check["id"])
        if old is None or rank.get(check["status"], 1) > rank.get(old, 1):
            status[check["id"]] = check["status"]
    return proc, status, report


@pytest.mark.timeout(120)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_conformance_scenario(scenario: str, tmp_path: Path) -> None:
    proc, status, report = _run_suite(BIN / "conformance", scenario, tmp_path)
    for check_id in SCENARIOS[scenario]:
        assert status.get(check_id) == "SUCCESS", f"{check_id}: {status.get(check_id)}\n{report}"
    bad = {k: v for k, v in status.items() if v in ("FAILURE", "WARNING")}
    assert not bad, f"{bad}\n{report}"
    assert proc.returncode == 0, report
    if scenario not in CLIENT_MAY_FAIL:
        assert "Traceback" not in proc.stderr, report


@pytest.mark.timeout(120)
@pytest.mark.parametrize("scenario", sorted(MODERN_SCENARIOS))
def test_modern_conformance_scenario(scenario: str, tmp_path: Path) -> None:
    """The 2026-07-28 scenarios (request metadata, MRTR, standard and custom headers,
    JSON Schema, and OAuth additions such as RFC 9207 ``iss``)."""
    proc, status, report = _run_suite(
        NEXT_SUITE, scenario, tmp_path, "--spec-version", "2026-07-28"
    )
    assert MODERN_SCENARIOS[scenario], scenario
    for check_id in MODERN_SCENARIOS[scenario]:
        assert status.get(check_id) == "SUCCESS", f"{check_id}: {status.get(check_id)}\n{report}"
    bad = {k: v for k, v in status.items() if v in ("FAILURE", "WARNING")}
    assert not bad, f"{bad}\n{report}"
    assert proc.returncode == 0, report
    if scenario in MODERN_CLIENT_MUST_FAIL:
        assert "Traceback" in proc.stderr, f"the client should have refused\n{report}"
    else:
        assert "Traceback" not in proc.stderr, report


@pytest.mark.timeout(120)
@pytest.mark.parametrize("scenario", sorted(EXTENSION_SCENARIOS))
def test_extension_conformance_scenario(scenario: str, tmp_path: Path) -> None:
    """The pre-release suite's extension scenarios (not on the spec timeline, so run
    without ``--spec-version``): DPoP, workload identity, enterprise-managed auth,
    skills."""
    proc, status, report = _run_suite(NEXT_SUITE, scenario, tmp_path)
    for check_id in EXTENSION_SCENARIOS[scenario]:
        assert status.get(check_id) == "SUCCESS", f"{check_id}: {status.get(check_id)}\n{report}"
    bad = {k: v for k, v in status.items() if v in ("FAILURE", "WARNING")}
    assert not bad, f"{bad}\n{report}"
    assert proc.returncode == 0, report
    assert "Traceback" not in proc.stderr, report
