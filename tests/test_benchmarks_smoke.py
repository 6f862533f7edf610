"""The benchmark harness runs end to end with tiny numbers, so it cannot rot. No timing is
asserted: only that every client and mode produced figures from calls that succeeded."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(180)
def test_benchmark_quick_run(tmp_path: Path) -> None:
    out = tmp_path / "README.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=170,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = out.read_text(encoding="utf-8")
    sdks = {"duomcp AsyncClient", "duomcp Client (sync)", "official mcp SDK"}
    http = {"bare aiohttp (floor)", *sdks}
    stdio = {"bare asyncio (floor)", *sdks}
    cells = [("JSON", http), ("SSE", http), ("JSON 256 KiB", http), ("SSE 256 KiB", http)]
    cells.append(("stdio", stdio))
    for cell, clients in cells:
        pattern = rf"^\| {cell} \| (1|16) \| ([^|]+) \| (\d+) \|"
        rows = re.findall(pattern, report, re.M)
        assert {(conc, name.strip()) for conc, name, _ in rows} == {
            (conc, name) for conc in ("1", "16") for name in clients
        }, cell
        assert all(int(cpu) > 0 for *_, cpu in rows), cell
    for section in ("## Cold start", "## Sessions and start-up", "## Scale", "## Targets"):
        assert section in report
    # the speedups extra (msgspec, in the test dependencies): each client without and with
    extra = report.split("### With the `speedups` extra", 1)[1].split("## stdio", 1)[0]
    pairs = re.findall(r"^\| ([^|]+) \| (1|16) \| ([^|]+) \| (\d+) \| (\d+) \| ", extra, re.M)
    assert len(pairs) == 3 * 2 * 2 and all(int(a) > 0 and int(b) > 0 for *_, a, b in pairs)
    # the 256 KiB cells at 16 again with glibc keeping freed memory (page faults shown)
    kept = report.split("### glibc's allocator", 1)[1].split("## stdio", 1)[0]
    rows = re.findall(
        r"^\| ([^|]+) \| ([^|]+) \| (\d+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \|$", kept, re.M
    )
    assert len(rows) == 2 * 2 and all(int(a) > 0 and int(b) > 0 for *_, a, b, _, _ in rows), kept
    assert "page faults/call" in report.split("## A 256 KiB result", 1)[1]
    assert "KiB" in report and "import" in report
    cold = report.split("## Cold start", 1)[1].split("## Sessions", 1)[0]
    starts = re.findall(r"^\| ([^|]+) \| (\d+) \| ", cold, re.M)
    assert len(starts) == 4 and all(int(ms) > 0 for _, ms in starts), cold
    # calls in flight on one client, and clients to many servers: none failed
    scale = report.split("## Scale", 1)[1].split("## Targets", 1)[0]
    failures = re.findall(r"^\|[^\n]* \| (\d+) \|$", scale, re.M)
    assert len(failures) == 3 + 4 and set(failures) == {"0"}, scale
    targets = re.findall(r"^\| ([^|]+) \| ([^|]+) \| (met|\*\*missed\*\*) \|$", report, re.M)
    assert len(targets) >= 5 * 2 * 2 + 8, targets
    # the bare thread hand-over, measured, and shown beside each 16-thread target
    assert re.search(r"costs \*\*[1-9]\d* µs\*\* of CPU per call", report), report
    assert sum("the bare handoff alone: " in figure for _, figure, _ in targets) == 5
    assert sum("with glibc keeping freed memory: " in figure for _, figure, _ in targets) == 2
