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
    rows = re.findall(r"^\| (JSON|SSE) \| (1|16) \| ([^|]+) \| (\d+) \|", report, re.M)
    clients = {"bare aiohttp (floor)", "duomcp AsyncClient", "duomcp Client (sync)"}
    clients.add("official mcp SDK")
    assert {(mode, conc, name.strip()) for mode, conc, name, _ in rows} == {
        (mode, conc, name) for mode in ("JSON", "SSE") for conc in ("1", "16") for name in clients
    }
    assert all(int(cpu) > 0 for *_, cpu in rows)
    assert "KiB" in report and "import" in report
