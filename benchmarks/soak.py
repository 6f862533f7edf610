"""Soak: long runs of both client flavours, with concurrency; resources before and after.

    python benchmarks/soak.py            # 100,000 calls + 1,000 open/close cycles a flavour
    python benchmarks/soak.py --quick    # 2,000 calls + 50 cycles (a smoke run)

Against the Node benchmark server (benchmarks/server.mjs, SSE replies), each flavour in a
fresh process: a warm-up, then the calls from 16 concurrent callers (tasks for
`AsyncClient`, threads sharing one `Client`), then open/close cycles (4 at a time, each a
new client, one call, close). Before and after each phase it reads the process's RSS, open
file descriptors, asyncio tasks and threads, after a garbage collection; the warm-up has
the same shapes (concurrent calls, cycles), so the start is warm. Flat means: RSS within
10 MiB of the warm start, and no more descriptors, tasks or threads. Writes
benchmarks/SOAK.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import node_server  # noqa: E402 (the benchmark's own server helper)

RSS_MARGIN_KIB = 10 * 1024
CONCURRENCY = 16
CYCLE_CONCURRENCY = 4


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _snapshot(loop: asyncio.AbstractEventLoop | None) -> dict[str, int]:
    gc.collect()
    tasks = len(asyncio.all_tasks(loop)) if loop is not None else 0
    return {
        "rss_kib": _rss_kib(),
        "fds": len(os.listdir("/proc/self/fd")),
        "tasks": tasks,
        "threads": threading.active_count(),
    }


async def _soak_async(url: str, calls: int, cycles: int) -> dict[str, Any]:
    from duomcp import AsyncClient

    loop = asyncio.get_running_loop()
    out: dict[str, Any] = {}

    async def run_calls(client: AsyncClient, count: int) -> float:
        queue = iter(range(count))

        async def caller() -> None:
            for i in queue:
                await client.call_tool("echo", {"text": str(i)})

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(CONCURRENCY)))
        return time.perf_counter() - started

    async def run_cycles(count: int) -> float:
        rounds = iter(range(count))

        async def cycler() -> None:
            for _ in rounds:
                async with AsyncClient(url, timeout=30) as fresh:
                    await fresh.call_tool("echo", {"text": "cycle"})

        started = time.perf_counter()
        await asyncio.gather(*(cycler() for _ in range(CYCLE_CONCURRENCY)))
        await asyncio.sleep(0.5)  # let closed connections finish closing
        return time.perf_counter() - started

    async with AsyncClient(url, timeout=30) as client:
        await run_calls(client, 1000)  # warm-up: the same shapes as the timed phases
        await run_cycles(2 * CYCLE_CONCURRENCY)
        out["start"] = _snapshot(loop)
        out["calls_s"] = await run_calls(client, calls)
        out["after_calls"] = _snapshot(loop)
        out["cycles_s"] = await run_cycles(cycles)
        out["end"] = _snapshot(loop)
    return out


def _soak_sync(url: str, calls: int, cycles: int) -> dict[str, Any]:
    from duomcp import Client
    from duomcp._portal import portal

    out: dict[str, Any] = {}

    def in_threads(work: Any, threads: int) -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            for future in [pool.submit(work) for _ in range(threads)]:
                future.result()
        return time.perf_counter() - started

    def run_calls(client: Client, count: int) -> float:
        lock = threading.Lock()
        queue = iter(range(count))

        def caller() -> None:
            while True:
                with lock:
                    i = next(queue, None)
                if i is None:
                    return
                client.call_tool("echo", {"text": str(i)})

        return in_threads(caller, CONCURRENCY)

    def run_cycles(count: int) -> float:
        lock = threading.Lock()
        rounds = iter(range(count))

        def cycler() -> None:
            while True:
                with lock:
                    if next(rounds, None) is None:
                        return
                with Client(url, timeout=30) as fresh:
                    fresh.call_tool("echo", {"text": "cycle"})

        elapsed = in_threads(cycler, CYCLE_CONCURRENCY)
        time.sleep(0.5)  # let closed connections finish closing
        return elapsed

    with Client(url, timeout=30) as client:
        run_calls(client, 1000)  # warm-up: the same shapes as the timed phases
        run_cycles(2 * CYCLE_CONCURRENCY)
        out["start"] = _snapshot(portal.loop())
        out["calls_s"] = run_calls(client, calls)
        out["after_calls"] = _snapshot(portal.loop())
        out["cycles_s"] = run_cycles(cycles)
        out["end"] = _snapshot(portal.loop())
    return out


def _flat(result: dict[str, Any]) -> bool:
    start, end = result["start"], result["end"]
    return (
        end["rss_kib"] - start["rss_kib"] <= RSS_MARGIN_KIB
        and end["fds"] <= start["fds"]
        and end["tasks"] <= start["tasks"]
        and end["threads"] <= start["threads"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", choices=("async", "sync"))
    parser.add_argument("--url")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=1_000)
    parser.add_argument("--out", type=Path, default=HERE / "SOAK.md")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.cycles = 2_000, 50
    if args.child:
        if args.child == "async":
            result = asyncio.run(_soak_async(args.url, args.calls, args.cycles))
        else:
            result = _soak_sync(args.url, args.calls, args.cycles)
        print(json.dumps(result))
        return
    results: dict[str, dict[str, Any]] = {}
    with node_server(sse=True) as url:
        for flavour in ("async", "sync"):
            cmd = [sys.executable, __file__, "--child", flavour, "--url", url]
            cmd += ["--calls", str(args.calls), "--cycles", str(args.cycles)]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
            if done.returncode != 0:
                raise SystemExit(f"{flavour} soak failed:\n{done.stderr}")
            results[flavour] = json.loads(done.stdout.strip().splitlines()[-1])
            print(flavour, json.dumps(results[flavour]), flush=True)
    lines = [
        "# Soak",
        "",
        f"`python benchmarks/soak.py`: per flavour, {args.calls:,} `tools/call` from "
        f"{CONCURRENCY} concurrent callers, then {args.cycles:,} open/call/close cycles "
        f"({CYCLE_CONCURRENCY} at a time), against the Node server with SSE replies. "
        f"Flat: RSS within {RSS_MARGIN_KIB // 1024} MiB of the warm start; descriptors, "
        "tasks and threads not above it.",
        "",
        "| flavour | phase | RSS KiB | open fds | asyncio tasks | threads |",
        "|---|---|---|---|---|---|",
    ]
    for flavour, result in results.items():
        name = "AsyncClient" if flavour == "async" else "Client"
        for phase in ("start", "after_calls", "end"):
            snap = result[phase]
            lines.append(
                f"| {name} | {phase.replace('_', ' ')} | {snap['rss_kib']} | {snap['fds']} "
                f"| {snap['tasks']} | {snap['threads']} |"
            )
    lines.append("")
    for flavour, result in results.items():
        name = "AsyncClient" if flavour == "async" else "Client"
        rate = args.calls / result["calls_s"]
        verdict = "flat" if _flat(result) else "NOT FLAT"
        lines.append(
            f"- {name}: {verdict}; {rate:,.0f} calls/s, {args.cycles:,} cycles in "
            f"{result['cycles_s']:.1f} s."
        )
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if not all(_flat(result) for result in results.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
