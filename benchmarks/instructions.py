"""Instructions per call under callgrind: a figure that does not move with the machine.

    python benchmarks/instructions.py            # needs valgrind; about 5 minutes

CPU time per call (benchmarks/run.py) moves by 10-30% between runs on a shared machine,
enough to hide a change of a few percent. This counts the instructions the client
process executes per ``tools/call`` (user space only: no system calls, no cache misses),
for the same clients and servers as run.py: each client runs ``N`` and ``3N`` calls in a
fresh process under ``valgrind --tool=callgrind``, and the difference, divided by ``2N``,
leaves out start-up, imports and warm-up. The servers (Node) run outside valgrind.

Valgrind runs everything about 50 times slower, which would send duomcp down paths that a
program calling in a row at full speed does not take; the child raises two thresholds so
that the path counted is the full-speed one:
- a call finds the previous one more than 1 ms old and lets the loop turn twice before
  sending (what it does after a pause, to see a connection the server closed);
- a blocking ``Client`` with background work (a stdio server) leaves the loop to the
  portal's thread after 5 ms without a call, and the next call is handed to that thread.
Threads run one at a time under valgrind: the blocking ``Client`` from 16 threads is
counted, but its thread switches cost nothing here (see run.py's CPU figures for them).

Writes benchmarks/INSTRUCTIONS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402 (the benchmark's own helpers, next to this file)

CLIENTS = ("floor", "duomcp-async", "duomcp-sync", "official")
CELLS = (("json", 1), ("json", 16), ("stdio", 1), ("stdio", 16))
_COLLECTED = re.compile(r"Collected : (\d+)")


def child(kind: str, target: str, calls: int, concurrency: int) -> None:
    """Make ``calls`` calls (after the same warm-up whatever ``calls`` is)."""
    if kind.startswith("duomcp"):  # see the module's docstring
        from duomcp import _portal
        from duomcp.engine import _correlation

        _correlation._SETTLE_AFTER = 3600.0
        _portal._ORPHAN_GRACE = 3600.0
        run.hide_msgspec()  # the default install: no speedups extra

    def arguments(i: int) -> dict[str, Any]:
        return {"text": str(i)}

    if kind == "duomcp-sync":
        with run.open_sync(target) as call:
            for i in range(20):
                call("echo", arguments(i))
            _threads(call, calls, concurrency, arguments)
        return

    async def main() -> None:
        async with run.open_async(kind, target) as call:
            for i in range(20):
                await call("echo", arguments(i))
            numbers = iter(range(calls))

            async def worker() -> None:
                for i in numbers:
                    await call("echo", arguments(i))

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    asyncio.run(main())


def _threads(
    call: Callable[[str, dict[str, Any]], Any],
    calls: int,
    concurrency: int,
    arguments: Callable[[int], dict[str, Any]],
) -> None:
    if concurrency == 1:
        for i in range(calls):
            call("echo", arguments(i))
        return
    numbers = iter(range(calls))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                i = next(numbers, None)
            if i is None:
                return
            call("echo", arguments(i))

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def instructions(kind: str, target: str, calls: int, concurrency: int) -> int:
    """The instructions a fresh child process executes making ``calls`` calls."""
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        kind,
        "--target",
        target,
        "--calls",
        str(calls),
        "--concurrency",
        str(concurrency),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    found = _COLLECTED.search(out.stderr)
    if out.returncode != 0 or found is None:
        raise SystemExit(f"{kind} under callgrind failed:\n{out.stderr[-3000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="N: runs of N and 3N calls")
    parser.add_argument("--jobs", type=int, default=2, help="processes under valgrind at once")
    parser.add_argument("--out", type=Path, default=HERE / "INSTRUCTIONS.md")
    parser.add_argument("--child", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.target, args.calls, args.concurrency)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed (apt install valgrind)")
    with run.node_server() as (url,), ThreadPoolExecutor(args.jobs) as pool:
        counts = {
            (transport, concurrency, kind, calls): pool.submit(
                instructions,
                kind,
                run.STDIO if transport == "stdio" else url,
                calls,
                concurrency,
            )
            for transport, concurrency in CELLS
            for kind in CLIENTS
            for calls in (args.calls, 3 * args.calls)
        }
        results: dict[tuple[str, int], dict[str, float]] = {}
        for transport, concurrency in CELLS:
            cell = results[(transport, concurrency)] = {}
            for kind in CLIENTS:
                few = counts[(transport, concurrency, kind, args.calls)].result()
                many = counts[(transport, concurrency, kind, 3 * args.calls)].result()
                cell[kind] = (many - few) / (2 * args.calls)
                print(
                    f"{transport} c={concurrency} {kind}: {cell[kind] / 1000:.1f}k "
                    "instructions per call",
                    file=sys.stderr,
                )
    args.out.write_text(report(results, args.calls))
    print(f"wrote {args.out}", file=sys.stderr)


def report(results: dict[tuple[str, int], dict[str, float]], calls: int) -> str:
    labels = {
        "floor": "bare floor",
        "duomcp-async": "duomcp AsyncClient",
        "duomcp-sync": "duomcp Client (sync)",
        "official": "official mcp SDK",
    }
    lines = [
        "# Instructions per call (callgrind)",
        "",
        "`python benchmarks/instructions.py`: user-space instructions the client process "
        f"executes per `tools/call` of `echo`, the difference of {3 * calls} and {calls} "
        "calls in fresh processes (start-up and warm-up left out), against the same servers "
        "as `run.py`, beside its floors (bare aiohttp over Streamable HTTP with JSON "
        "replies, an asyncio subprocess over stdio). No system calls, no cache misses, no "
        "thread switches: a figure to compare code with code, not a time. The script's "
        "docstring says what valgrind changes.",
        "",
        f"- Python {sys.version.split()[0]}; {platform.processor() or platform.machine()}",
        "",
        "| transport | concurrency | client | instructions/call | x floor | x official |",
        "|---|---|---|---|---|---|",
    ]
    for (transport, concurrency), cell in results.items():
        name = "HTTP JSON" if transport == "json" else "stdio"
        for kind in CLIENTS:
            value = cell[kind]
            lines.append(
                f"| {name} | {concurrency} | {labels[kind]} | {value / 1000:.1f}k | "
                f"{value / cell['floor']:.2f} | {value / cell['official']:.2f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
