"""Client CPU per tools/call: Client and AsyncClient against a bare aiohttp floor.

    python benchmarks/sync_vs_async.py [--calls N] [--rounds R] [--sse]

The reference server runs in its own process; each client flavour runs in a fresh
process, alternated A B A B over the rounds. CPU is the client process's user+system
time (getrusage, all threads) over the timed calls, after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_async(url: str, calls: int) -> dict[str, float]:
    from duomcp import AsyncClient

    async def main() -> dict[str, float]:
        async with AsyncClient(url) as client:
            for _ in range(50):
                await client.call_tool("echo", {"text": "warm"})
            cpu, wall = _cpu(), time.perf_counter()
            for i in range(calls):
                await client.call_tool("echo", {"text": str(i)})
            return {"cpu": _cpu() - cpu, "wall": time.perf_counter() - wall}

    return asyncio.run(main())


_JSON = {"Content-Type": "application/json"}


def run_floor(url: str, calls: int) -> dict[str, float]:
    """The floor: the same JSON-RPC POSTs with bare aiohttp, no SDK."""
    import json as _json

    import aiohttp

    async def main() -> dict[str, float]:
        headers = {"Accept": "application/json, text/event-stream"}
        async with aiohttp.ClientSession() as http:
            init = {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "floor", "version": "0"},
                },
            }
            async with http.post(url, json=init, headers=headers) as resp:
                headers["Mcp-Session-Id"] = resp.headers["Mcp-Session-Id"]
                headers["MCP-Protocol-Version"] = "2025-11-25"
                await resp.read()

            async def call(i: int) -> None:
                body = {
                    "jsonrpc": "2.0",
                    "id": i + 1,
                    "method": "tools/call",
                    "params": {"name": "echo", "arguments": {"text": str(i)}},
                }
                async with http.post(
                    url, data=_json.dumps(body), headers={**headers, **_JSON}
                ) as resp:
                    raw = await resp.read()
                if resp.content_type == "text/event-stream":
                    raw = raw.split(b"data: ")[-1]
                assert _json.loads(raw)["id"] == i + 1

            for i in range(50):
                await call(i)
            cpu, wall = _cpu(), time.perf_counter()
            for i in range(calls):
                await call(i)
            return {"cpu": _cpu() - cpu, "wall": time.perf_counter() - wall}

    return asyncio.run(main())


def run_sync(url: str, calls: int) -> dict[str, float]:
    from duomcp import Client

    with Client(url) as client:
        for _ in range(50):
            client.call_tool("echo", {"text": "warm"})
        cpu, wall = _cpu(), time.perf_counter()
        for i in range(calls):
            client.call_tool("echo", {"text": str(i)})
        return {"cpu": _cpu() - cpu, "wall": time.perf_counter() - wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sse", action="store_true", help="SSE replies instead of JSON")
    parser.add_argument("--child", nargs=2, metavar=("FLAVOUR", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        flavour, url = args.child
        fn = {"async": run_async, "sync": run_sync, "floor": run_floor}[flavour]
        print(json.dumps(fn(url, args.calls)))
        return
    server_cmd = [sys.executable, "-m", "duomcp.testing", "--port", "0"]
    if not args.sse:
        server_cmd.append("--json")
    server = subprocess.Popen(server_cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        results: dict[str, list[float]] = {"floor": [], "async": [], "sync": []}
        for _ in range(args.rounds):
            for flavour in results:
                out = subprocess.run(
                    [sys.executable, __file__, "--calls", str(args.calls), "--child", flavour, url],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                figures = json.loads(out.stdout)
                results[flavour].append(figures["cpu"] / args.calls * 1e6)
        med = {k: statistics.median(v) for k, v in results.items()}
        mode = "SSE" if args.sse else "JSON"
        for flavour, values in results.items():
            runs = ", ".join(f"{v:.0f}" for v in values)
            print(f"{flavour:5} {mode}: median {med[flavour]:.0f} us CPU/call (runs: {runs})")
        print(f"sync/async CPU ratio: {med['sync'] / med['async']:.2f}")
        print(f"async/floor CPU ratio: {med['async'] / med['floor']:.2f}")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
