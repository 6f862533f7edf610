"""duomcp against the official Python SDK and a bare aiohttp floor, in one run.

    python benchmarks/run.py            # full run: writes benchmarks/README.md and the PNG
    python benchmarks/run.py --quick    # tiny numbers (the CI smoke run), no plot

A Node server (benchmarks/server.mjs, Node 22 from .ci-cache/node) answers tools/call
`echo` with JSON or single-event SSE replies and reports its own CPU and the TCP
connections it accepted. Each client runs in a fresh process; clients alternate A B C D,
rotated every round. Client CPU per call is user+system time of the client process
(getrusage, all threads) over the timed calls, after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NODE = ROOT / ".ci-cache" / "node" / "node_modules" / ".bin" / "node"
CLIENTS = ("floor", "duomcp-async", "duomcp-sync", "official")
LABELS = {
    "floor": "bare aiohttp (floor)",
    "duomcp-async": "duomcp AsyncClient",
    "duomcp-sync": "duomcp Client (sync)",
    "official": "official mcp SDK",
}
WARMUP = 50


# -- measuring in a child process ---------------------------------------------------------


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _stats(url: str) -> dict[str, int]:
    base = url.rsplit("/", 1)[0]
    with urllib.request.urlopen(f"{base}/stats", timeout=10) as resp:
        return dict(json.loads(resp.read()))


def _summary(
    url: str, calls: int, latencies: list[float], cpu: float, wall: float, before: dict[str, int]
) -> dict[str, float]:
    after = _stats(url)
    latencies.sort()
    return {
        "cpu_us": cpu / calls * 1e6,
        "calls_per_s": calls / wall,
        "p50_ms": latencies[len(latencies) // 2] * 1e3,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3,
        # the stats request itself opens one connection
        "new_connections_per_call": (after["connections"] - before["connections"] - 1) / calls,
        "server_cpu_share": (after["cpu_us"] - before["cpu_us"]) / 1e6 / wall,
    }


async def _timed_async(
    url: str, calls: int, concurrency: int, call: Callable[[int], Awaitable[Any]]
) -> dict[str, float]:
    latencies: list[float] = []

    async def worker(indices: range) -> None:
        for i in indices:
            started = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - started)

    # Warm up at the same concurrency, so the connection pool has grown before timing.
    warm = WARMUP * concurrency
    await asyncio.gather(*(worker(range(w, warm, concurrency)) for w in range(concurrency)))
    latencies.clear()
    before = _stats(url)
    cpu, wall = _cpu(), time.perf_counter()
    await asyncio.gather(*(worker(range(w, calls, concurrency)) for w in range(concurrency)))
    return _summary(url, calls, latencies, _cpu() - cpu, time.perf_counter() - wall, before)


async def _floor(url: str, calls: int, concurrency: int) -> dict[str, float]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(trust_env=False, connector=connector) as http:
        headers = {"Accept": "application/json, text/event-stream"}
        headers["Content-Type"] = "application/json"
        init = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "floor", "version": "1"},
            },
        }
        async with http.post(url, data=json.dumps(init), headers=headers) as resp:
            headers["Mcp-Session-Id"] = resp.headers["Mcp-Session-Id"]
            await resp.read()
        headers["MCP-Protocol-Version"] = "2025-11-25"
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        async with http.post(url, data=json.dumps(note), headers=headers) as resp:
            await resp.read()

        async def call(i: int) -> Any:
            body = {
                "jsonrpc": "2.0",
                "id": i + 1,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": str(i)}},
            }
            async with http.post(url, data=json.dumps(body), headers=headers) as resp:
                raw = await resp.read()
            if resp.content_type == "text/event-stream":
                raw = next(line[5:] for line in raw.splitlines() if line.startswith(b"data:"))
            return json.loads(raw)["result"]

        return await _timed_async(url, calls, concurrency, call)


async def _duomcp_async(url: str, calls: int, concurrency: int) -> dict[str, float]:
    from duomcp import AsyncClient

    async with AsyncClient(url) as client:
        return await _timed_async(
            url, calls, concurrency, lambda i: client.call_tool("echo", {"text": str(i)})
        )


async def _official(url: str, calls: int, concurrency: int) -> dict[str, float]:
    from mcp import Client

    async with Client(url, mode="legacy") as client:
        return await _timed_async(
            url, calls, concurrency, lambda i: client.call_tool("echo", {"text": str(i)})
        )


def _duomcp_sync(url: str, calls: int, concurrency: int) -> dict[str, float]:
    from duomcp import Client

    with Client(url) as client, ThreadPoolExecutor(concurrency) as pool:
        latencies: list[float] = []
        lock = threading.Lock()

        def worker(indices: range) -> None:
            for i in indices:
                started = time.perf_counter()
                client.call_tool("echo", {"text": str(i)})
                with lock:
                    latencies.append(time.perf_counter() - started)

        warm = WARMUP * concurrency
        list(pool.map(worker, [range(w, warm, concurrency) for w in range(concurrency)]))
        latencies.clear()
        before = _stats(url)
        cpu, wall = _cpu(), time.perf_counter()
        list(pool.map(worker, [range(w, calls, concurrency) for w in range(concurrency)]))
        return _summary(url, calls, latencies, _cpu() - cpu, time.perf_counter() - wall, before)


def _idle_sessions(client: str, url: str, sessions: int) -> dict[str, float]:
    """Python heap per idle connected session (tracemalloc), and time to open one."""
    import gc
    import tracemalloc
    from contextlib import AsyncExitStack

    if client == "duomcp-async":
        from duomcp import AsyncClient

        def make() -> Any:
            return AsyncClient(url)
    else:
        from mcp import Client

        def make() -> Any:
            return Client(url, mode="legacy")

    async def main() -> dict[str, float]:
        async with AsyncExitStack() as warm:
            await warm.enter_async_context(make())  # imports, caches, era probe paid here
            times = []
            for _ in range(min(sessions, 10)):
                started = time.perf_counter()
                await warm.enter_async_context(make())
                times.append(time.perf_counter() - started)
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        async with AsyncExitStack() as held:
            for _ in range(sessions):
                await held.enter_async_context(make())
            await asyncio.sleep(0.3)
            gc.collect()
            used = tracemalloc.get_traced_memory()[0] - base
            tracemalloc.stop()
        return {
            "kib_per_session": used / sessions / 1024,
            "open_ms": statistics.median(times) * 1e3,
        }

    return asyncio.run(main())


def child(args: argparse.Namespace) -> None:
    if args.idle:
        result = _idle_sessions(args.child, args.url, args.sessions)
    elif args.child == "duomcp-sync":
        result = _duomcp_sync(args.url, args.calls, args.concurrency)
    else:
        fn = {"floor": _floor, "duomcp-async": _duomcp_async, "official": _official}
        result = asyncio.run(fn[args.child](args.url, args.calls, args.concurrency))
    print(json.dumps(result))


# -- the parent: servers, alternation, report ---------------------------------------------


@contextmanager
def node_server(sse: bool) -> Iterator[str]:
    if not NODE.exists():
        raise SystemExit(f"Node 22 not found at {NODE}: run bash .ci/install-node.sh")
    cmd = [str(NODE), str(HERE / "server.mjs"), "--port", "0", *(["--sse"] if sse else [])]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("listening "):
            raise SystemExit(f"the benchmark server did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)


def run_child(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if out.returncode != 0:
        raise SystemExit(f"benchmark child {args} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# What each start-up figure times, in a fresh interpreter.
STARTUP = {
    "duomcp": "import duomcp",
    "mcp": "import mcp",
    "aiohttp": "import aiohttp",
    # duomcp imports aiohttp when the first client is made: this is the whole price.
    "duomcp+client": "import duomcp; duomcp.AsyncClient('http://127.0.0.1:9/mcp')",
    "mcp+client": "import mcp; mcp.Client('http://127.0.0.1:9/mcp', mode='legacy')",
}


def compile_duomcp() -> None:
    """Compile duomcp's bytecode, as installing a wheel does: a source checkout run with
    PYTHONDONTWRITEBYTECODE (CI machines set it) would otherwise compile every module at
    every import, while aiohttp and mcp come with theirs (187 vs 234 ms measured)."""
    from importlib.util import find_spec

    spec = find_spec("duomcp")
    assert spec is not None and spec.submodule_search_locations
    folder = next(iter(spec.submodule_search_locations))
    subprocess.run([sys.executable, "-m", "compileall", "-q", folder], check=True)


def import_ms(statements: str, repeats: int) -> float:
    code = f"import time; t = time.perf_counter(); {statements}; print(time.perf_counter() - t)"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(repeats)
    ]
    return statistics.median(runs) * 1e3


def measure(args: argparse.Namespace) -> dict[str, Any]:
    calls = {1: args.calls, 16: args.calls * 2}
    runs: dict[tuple[str, int, str], list[dict[str, float]]] = {}
    for mode in ("json", "sse"):
        with node_server(mode == "sse") as url:
            for round_no in range(args.rounds):
                order = CLIENTS[round_no % 4 :] + CLIENTS[: round_no % 4]
                for concurrency in (1, 16):
                    for client in order:
                        result = run_child(
                            "--child",
                            client,
                            "--url",
                            url,
                            "--calls",
                            str(calls[concurrency]),
                            "--concurrency",
                            str(concurrency),
                        )
                        runs.setdefault((mode, concurrency, client), []).append(result)
                        print(
                            f"{mode} c={concurrency} {client}: {result['cpu_us']:.0f} us",
                            file=sys.stderr,
                        )
    idle: dict[str, dict[str, float]] = {}
    with node_server(False) as url:
        for client in ("duomcp-async", "official"):
            idle[client] = run_child(
                "--child", client, "--idle", "--url", url, "--sessions", str(args.sessions)
            )
    medians = {
        key: {field: statistics.median(r[field] for r in results) for field in results[0]}
        for key, results in runs.items()
    }
    compile_duomcp()
    imports = {name: import_ms(code, args.import_repeats) for name, code in STARTUP.items()}
    return {
        "medians": medians,
        "idle": idle,
        "imports": imports,
        "rounds": args.rounds,
        "calls": calls,
    }


def environment() -> list[str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    node = subprocess.run([str(NODE), "--version"], capture_output=True, text=True).stdout
    return [
        f"- Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; duomcp {metadata.version('duomcp')}, "
        f"aiohttp {metadata.version('aiohttp')}, mcp {metadata.version('mcp')}; "
        f"Node {node.strip()} (server)",
    ]


def report(data: dict[str, Any], path: Path, plot: Path | None) -> None:
    med = data["medians"]
    lines = [
        "# Benchmarks",
        "",
        "One command, one run: `python benchmarks/run.py` (`--quick` for the CI smoke run).",
        "duomcp's clients, the official SDK's client and a bare aiohttp loop (the floor: the",
        "same requests, no SDK) each run in a fresh process against a Node server",
        "(`benchmarks/server.mjs`), alternated and rotated over "
        f"{data['rounds']} round(s); figures are medians.",
        "",
        *environment(),
        "",
        "## CPU per `tools/call` (client process, getrusage)",
        "",
        "| reply | concurrency | client | CPU µs/call | x floor | x official | calls/s | "
        "p50 ms | p99 ms | new TCP conns/call | server CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mode in ("json", "sse"):
        for concurrency in (1, 16):
            floor = med[(mode, concurrency, "floor")]["cpu_us"]
            official = med[(mode, concurrency, "official")]["cpu_us"]
            for client in CLIENTS:
                m = med[(mode, concurrency, client)]
                lines.append(
                    f"| {mode.upper()} | {concurrency} | {LABELS[client]} | {m['cpu_us']:.0f} | "
                    f"{m['cpu_us'] / floor:.2f} | {m['cpu_us'] / official:.2f} | "
                    f"{m['calls_per_s']:.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | "
                    f"{m['new_connections_per_call']:.3f} | {m['server_cpu_share']:.0%} |"
                )
    idle, imports = data["idle"], data["imports"]
    lines += [
        "",
        '"server CPU" is the Node server\'s CPU time over the wall time of the timed calls: '
        "well under 100% means the server was not the bottleneck.",
        "",
        "## Sessions and start-up",
        "",
        "| | duomcp AsyncClient | official mcp SDK | duomcp / official |",
        "|---|---|---|---|",
        f"| Python heap per idle session (tracemalloc, {data.get('sessions', '')} open) | "
        f"{idle['duomcp-async']['kib_per_session']:.1f} KiB | "
        f"{idle['official']['kib_per_session']:.1f} KiB | "
        f"{idle['duomcp-async']['kib_per_session'] / idle['official']['kib_per_session']:.2f} |",
        f"| time to open a session (median of 10) | {idle['duomcp-async']['open_ms']:.1f} ms | "
        f"{idle['official']['open_ms']:.1f} ms | "
        f"{idle['duomcp-async']['open_ms'] / idle['official']['open_ms']:.2f} |",
        f"| `import` in a fresh process (median, bytecode compiled) | {imports['duomcp']:.0f} ms | "
        f"{imports['mcp']:.0f} ms | {imports['duomcp'] / imports['mcp']:.2f} |",
        f"| `import` and make a first client (median) | {imports['duomcp+client']:.0f} ms | "
        f"{imports['mcp+client']:.0f} ms | "
        f"{imports['duomcp+client'] / imports['mcp+client']:.2f} |",
        "",
        f"`import aiohttp` alone: {imports['aiohttp']:.0f} ms. duomcp imports aiohttp when "
        "the first client is made, so a program that never makes one (a command that prints "
        "its help) does not pay for it; the second row is the whole price.",
    ]
    for mode in ("json", "sse"):
        for concurrency in (1, 16):
            sync = med[(mode, concurrency, "duomcp-sync")]["cpu_us"]
            asy = med[(mode, concurrency, "duomcp-async")]["cpu_us"]
            lines.append(f"Sync/async CPU, {mode.upper()} c={concurrency}: {sync / asy:.2f}.")
    lines += ["", "## Targets (ratios in this run)", "", *targets(data)]
    if plot is not None:
        lines += ["", f"![CPU per call]({plot.name})"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if plot is not None:
        draw(med, plot)


def targets(data: dict[str, Any]) -> list[str]:
    """Each target of the issue, met or missed, with the figure that decides it."""
    med = data["medians"]
    keys = [(m, c) for m in ("json", "sse") for c in (1, 16)]

    def worst(client: str, over: str) -> float:
        return max(med[(m, c, client)]["cpu_us"] / med[(m, c, over)]["cpu_us"] for m, c in keys)

    conns = max(
        med[(m, c, client)]["new_connections_per_call"]
        for m, c in keys
        for client in ("duomcp-async", "duomcp-sync")
    )
    rows = [
        (
            "CPU per call <= 1.5x the floor, AsyncClient (worst case)",
            worst("duomcp-async", "floor"),
            1.5,
        ),
        ("CPU per call <= 1.5x the floor, Client (worst case)", worst("duomcp-sync", "floor"), 1.5),
        ("new TCP connections per call = 0 (worst case)", conns, 0.0),
        ("sync <= 1.3x async CPU per call (worst case)", worst("duomcp-sync", "duomcp-async"), 1.3),
        ("<= 64 KiB per idle session", data["idle"]["duomcp-async"]["kib_per_session"], 64.0),
        ("import duomcp <= 250 ms", data["imports"]["duomcp"], 250.0),
    ]
    return [
        f"- {'met' if value <= limit else 'MISSED'}: {name}: {value:.2f}"
        for name, value, limit in rows
    ]


def draw(med: dict[tuple[str, int, str], dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [(m, c) for m in ("json", "sse") for c in (1, 16)]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.2
    for n, client in enumerate(CLIENTS):
        xs = [g + (n - 1.5) * width for g in range(len(groups))]
        ax.bar(xs, [med[(m, c, client)]["cpu_us"] for m, c in groups], width, label=LABELS[client])
    ax.set_xticks(range(len(groups)), [f"{m.upper()}, concurrency {c}" for m, c in groups])
    ax.set_ylabel("client CPU µs per tools/call")
    ax.set_title("Client CPU per call (lower is better)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny numbers, no plot (CI)")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--import-repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "README.md")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--child", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--idle", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.quick:
        args.calls, args.rounds, args.sessions, args.import_repeats = 32, 1, 3, 1
        args.no_plot = True
    data = measure(args)
    data["sessions"] = args.sessions
    plot = None if args.no_plot else args.out.with_name("cpu_per_call.png")
    report(data, args.out, plot)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
