"""duomcp against the official Python SDK and a bare floor, in one run.

    python benchmarks/run.py            # full run: writes benchmarks/README.md and the PNG
    python benchmarks/run.py --quick    # tiny numbers (the CI smoke run), no plot

Two Node servers (Node 22 from .ci-cache/node), both of the legacy era, stand in for MCP
servers: benchmarks/server.mjs (Streamable HTTP; tools/call `echo` and `big`, a ~256 KiB
text, with JSON or single-event SSE replies; it reports its own CPU and the TCP
connections it accepted) and benchmarks/stdio_server.mjs (stdio, started by each client).

Each client runs in a fresh process; clients alternate, rotated every round. Client CPU is
user+system time of the client process alone (getrusage RUSAGE_SELF, all its threads; a
stdio server is its child and not counted) over the timed calls, after a warm-up.

Cells: calls over HTTP (small and 256 KiB results) and over stdio, at concurrency 1 and 16;
cold start (import, connect and a first call in a fresh process); import time; idle
sessions; scale (10,000 idle sessions, 1,000 calls in flight on one client, 100 clients to
100 servers). Every target of the issue is printed at the end, met or missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import itertools
import json
import math
import os
import platform
import resource
import select
import shlex
import statistics
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NODE = ROOT / ".ci-cache" / "node" / "node_modules" / ".bin" / "node"
STDIO_SERVER = HERE / "stdio_server.mjs"
STDIO = "stdio"
"""The target of a cell over stdio: each client starts its own stdio_server.mjs."""
PROTOCOL = "2025-11-25"
"""The protocol version the floors ask for in initialize (both servers echo it)."""
CLIENTS = ("floor", "duomcp-async", "duomcp-sync", "official")
DUOMCP_CLIENTS = ("duomcp-async", "duomcp-sync")
LABELS = {
    "floor": "bare floor",
    "duomcp-async": "duomcp AsyncClient",
    "duomcp-sync": "duomcp Client (sync)",
    "official": "official mcp SDK",
}
FLOOR_LABELS = {"http": "bare aiohttp (floor)", "stdio": "bare asyncio (floor)"}


@dataclass(frozen=True)
class Cell:
    """Calls of one tool over one transport, measured at concurrency 1 and 16."""

    name: str
    transport: str  # "json" or "sse" (server.mjs reply mode), or "stdio"
    tool: str  # "echo" or "big"
    floor_limit: float  # the target: AsyncClient CPU per call <= this x the floor's
    sync_over: str  # the Client's target is relative to this client's CPU per call
    sync_limit: float


CELLS = (
    Cell("JSON", "json", "echo", 1.10, "duomcp-async", 1.10),
    Cell("SSE", "sse", "echo", 1.10, "duomcp-async", 1.10),
    Cell("JSON 256 KiB", "json", "big", 1.10, "duomcp-async", 1.10),
    Cell("SSE 256 KiB", "sse", "big", 1.10, "duomcp-async", 1.10),
    Cell("stdio", "stdio", "echo", 1.30, "floor", 1.30),
)
CONCURRENCY = (1, 16)
ToolCall = Callable[[str, dict[str, Any]], Awaitable[Any]]
Probe = Callable[[], dict[str, float]]
Medians = dict[tuple[str, int, str], dict[str, float]]
Rounds = dict[tuple[str, int, str], list[float]]  # CPU µs per call, one per round, in order


# -- measuring in a child process ---------------------------------------------------------


def _cpu() -> float:
    """User+system seconds of this process (all threads; never its children)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _faults() -> int:
    """Minor page faults of this process so far: each is a fresh page the kernel zeroed and
    mapped, as when the allocator takes memory back from the system it had given up."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _rss_mib() -> float:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return math.nan
    return pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def http_probe(url: str) -> Probe:
    """The server's accepted TCP connections and CPU seconds, from its /stats."""
    base = url.rsplit("/", 1)[0]
    looks = 0

    def probe() -> dict[str, float]:
        nonlocal looks
        with urllib.request.urlopen(f"{base}/stats", timeout=10) as resp:
            stats = json.loads(resp.read())
        looks += 1  # each look opens a connection itself
        return {"connections": stats["connections"] - looks, "server_cpu_s": stats["cpu_us"] / 1e6}

    return probe


def stdio_probe() -> dict[str, float]:
    """The CPU seconds of this process's children (the stdio server), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    tasks = Path(f"/proc/{os.getpid()}/task")
    if not tasks.is_dir():  # not Linux
        return {"connections": math.nan, "server_cpu_s": math.nan}
    total = 0
    for task in tasks.iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:  # a thread that just ended
            continue
        for pid in children:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:  # a child that just ended
                continue
            fields = stat.rsplit(")", 1)[1].split()  # the name in () may hold spaces
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return {"connections": math.nan, "server_cpu_s": total / tick}


def _summary(
    calls: int,
    latencies: list[float],
    cpu: float,
    wall: float,
    faults: int,
    before: dict[str, float],
    after: dict[str, float],
) -> dict[str, float]:
    latencies.sort()
    return {
        "cpu_us": cpu / calls * 1e6,
        "faults_per_call": faults / calls,
        "calls_per_s": calls / wall,
        "p50_ms": latencies[len(latencies) // 2] * 1e3,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3,
        "new_connections_per_call": (after["connections"] - before["connections"]) / calls,
        "server_cpu_share": (after["server_cpu_s"] - before["server_cpu_s"]) / wall,
    }


async def _timed_async(
    calls: int, concurrency: int, warmup: int, call: Callable[[int], Awaitable[Any]], probe: Probe
) -> dict[str, float]:
    latencies: list[float] = []

    async def worker(indices: range) -> None:
        for i in indices:
            started = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - started)

    # Warm up at the same concurrency, so the connection pool has grown before timing.
    warm = warmup * concurrency
    await asyncio.gather(*(worker(range(w, warm, concurrency)) for w in range(concurrency)))
    latencies.clear()
    before = probe()
    faults, cpu, wall = _faults(), _cpu(), time.perf_counter()
    await asyncio.gather(*(worker(range(w, calls, concurrency)) for w in range(concurrency)))
    cpu, wall = _cpu() - cpu, time.perf_counter() - wall
    faults = _faults() - faults
    return _summary(calls, latencies, cpu, wall, faults, before, probe())


def _timed_sync(
    calls: int, concurrency: int, warmup: int, call: Callable[[int], Any], probe: Probe
) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(indices: range) -> None:
        for i in indices:
            started = time.perf_counter()
            call(i)
            with lock:
                latencies.append(time.perf_counter() - started)

    # Concurrency 1 is a program calling in a row: from the main thread, as a script does
    # (each call then has its Ctrl-C handler, which a worker thread's call does not).
    pool = ThreadPoolExecutor(concurrency) if concurrency > 1 else None

    def run_all(n: int) -> None:
        ranges = [range(w, n, concurrency) for w in range(concurrency)]
        if pool is None:
            worker(ranges[0])
        else:
            list(pool.map(worker, ranges))

    try:
        run_all(warmup * concurrency)
        latencies.clear()
        before = probe()
        faults, cpu, wall = _faults(), _cpu(), time.perf_counter()
        run_all(calls)
        cpu, wall = _cpu() - cpu, time.perf_counter() - wall
        faults = _faults() - faults
    finally:
        if pool is not None:
            pool.shutdown()
    return _summary(calls, latencies, cpu, wall, faults, before, probe())


class FloorHTTP:
    """The floor over Streamable HTTP: the requests a client sends, with aiohttp and the
    standard ``json`` module, and nothing else (no SDK, no checks)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.headers = {"Accept": "application/json, text/event-stream"}
        self.headers["Content-Type"] = "application/json"
        self.ids = itertools.count(1)
        self.http: Any = None

    async def __aenter__(self) -> FloorHTTP:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=0)
        self.http = http = aiohttp.ClientSession(trust_env=False, connector=connector)
        init = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "floor", "version": "1"},
            },
        }
        async with http.post(self.url, data=json.dumps(init), headers=self.headers) as resp:
            self.headers["Mcp-Session-Id"] = resp.headers["Mcp-Session-Id"]
            await resp.read()
        self.headers["MCP-Protocol-Version"] = PROTOCOL
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        async with http.post(self.url, data=json.dumps(note), headers=self.headers) as resp:
            await resp.read()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        body = {
            "jsonrpc": "2.0",
            "id": next(self.ids),
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        }
        async with self.http.post(self.url, data=json.dumps(body), headers=self.headers) as resp:
            raw = await resp.read()
        if resp.content_type == "text/event-stream":
            raw = next(line[5:] for line in raw.splitlines() if line.startswith(b"data:"))
        return json.loads(raw)["result"]


class FloorStdio:
    """The floor over stdio: an asyncio subprocess, one JSON message a line, the standard
    ``json`` module. Each caller waits for its own answer; callers run concurrently, so
    answers are matched to callers by id."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.process: asyncio.subprocess.Process | None = None
        self.reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> FloorStdio:
        self.process = process = await asyncio.create_subprocess_exec(
            str(NODE),
            str(STDIO_SERVER),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            limit=16 << 20,
        )
        assert process.stdout is not None
        self.reader = asyncio.create_task(self._read(process.stdout))
        params = {
            "protocolVersion": PROTOCOL,
            "capabilities": {},
            "clientInfo": {"name": "floor", "version": "1"},
        }
        await self.request("initialize", params)
        await self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None:
            await _end_process(self.process)
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)

    async def _send(self, message: dict[str, Any]) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        await self.process.stdin.drain()

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        request_id = next(self.ids)
        answer = self.pending[request_id] = asyncio.get_running_loop().create_future()
        await self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        return (await answer)["result"]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        return await self.request("tools/call", {"name": name, "arguments": arguments})

    async def _read(self, stdout: asyncio.StreamReader) -> None:
        try:
            while line := await stdout.readline():
                message = json.loads(line)
                answer = self.pending.pop(message.get("id"), None)
                if answer is not None and not answer.done():
                    answer.set_result(message)
        finally:
            for answer in self.pending.values():
                if not answer.done():
                    answer.set_exception(ConnectionError("the stdio server closed its stdout"))


async def _end_process(process: asyncio.subprocess.Process) -> None:
    """Close stdin, then terminate, then kill: a few seconds at most."""
    if process.stdin is not None:
        process.stdin.close()
    for step in (None, process.terminate, process.kill):
        if step is not None and process.returncode is None:
            try:
                step()
            except ProcessLookupError:
                return
        try:
            await asyncio.wait_for(process.wait(), 3.0)
            return
        except asyncio.TimeoutError:
            continue


def _duomcp_server(target: str) -> Any:
    if target != STDIO:
        return target
    from duomcp import StdioServer

    return StdioServer(command=str(NODE), args=(str(STDIO_SERVER),))


@asynccontextmanager
async def open_async(kind: str, target: str) -> AsyncIterator[ToolCall]:
    """One connected client of ``kind`` (any but the sync one) to ``target`` (an HTTP URL
    or STDIO); yields its ``call_tool``."""
    if kind == "floor":
        floor: FloorHTTP | FloorStdio = FloorStdio() if target == STDIO else FloorHTTP(target)
        async with floor:
            yield floor.call_tool
    elif kind == "duomcp-async":
        from duomcp import AsyncClient

        async with AsyncClient(_duomcp_server(target)) as client:
            yield client.call_tool
    elif kind == "official":
        from mcp import Client, StdioServerParameters

        server: Any = target
        if target == STDIO:
            server = StdioServerParameters(command=str(NODE), args=[str(STDIO_SERVER)])
        async with Client(server, mode="legacy") as official:
            yield official.call_tool
    else:
        raise ValueError(f"no async client {kind!r}")


@contextmanager
def open_sync(target: str) -> Iterator[Callable[[str, dict[str, Any]], Any]]:
    """A connected duomcp ``Client`` to ``target``; yields its ``call_tool``."""
    from duomcp import Client

    with Client(_duomcp_server(target)) as client:
        yield client.call_tool


def calls_cell(kind: str, target: str, plan: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Each job of ``plan`` in turn, each with a new client."""
    probe = stdio_probe if target == STDIO else http_probe(target)
    return [calls_job(kind, target, probe, **job) for job in plan]


def calls_job(
    kind: str, target: str, probe: Probe, tool: str, calls: int, concurrency: int, warmup: int
) -> dict[str, float]:
    """A client's CPU, throughput and latency over ``calls`` timed calls of ``tool``."""

    def arguments(i: int) -> dict[str, Any]:
        return {"text": str(i)} if tool == "echo" else {}

    if kind == "duomcp-sync":
        with open_sync(target) as call_sync:
            return _timed_sync(
                calls, concurrency, warmup, lambda i: call_sync(tool, arguments(i)), probe
            )

    async def main() -> dict[str, float]:
        async with open_async(kind, target) as call_tool:
            return await _timed_async(
                calls, concurrency, warmup, lambda i: call_tool(tool, arguments(i)), probe
            )

    return asyncio.run(main())


def _open_sockets() -> int:
    """How many sockets this process holds open (Linux; 0 where /proc is not there)."""
    count = 0
    with contextlib.suppress(OSError):
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


async def _until_pool_closed(before: int, limit: float) -> tuple[float, int]:
    """Wait until no more sockets are open than ``before`` (the client's keep-alive has
    closed every idle pooled connection), ``limit`` seconds at most; return the wait and
    the sessions' sockets left."""
    started = time.perf_counter()
    while (left := _open_sockets() - before) > 0 and time.perf_counter() - started < limit:  # noqa: ASYNC110 (polling /proc: no event to wait on)
        await asyncio.sleep(0.5)
    return time.perf_counter() - started, left


def idle_cell(client: str, url: str, sessions: int, settle: bool = False) -> dict[str, float]:
    """Python heap per idle connected session (tracemalloc), time to open one, and the
    process's RSS with them all open.

    ``settle``: measured once every session is idle past the client's keep-alive (no
    pooled connection left), not right after opening the last one. Opening 10,000 takes
    longer than aiohttp's 15 s keep-alive, so a figure taken at once counts some sessions
    with their connection and some without, in a share that depends on the machine's
    speed."""
    import gc
    import tracemalloc
    from contextlib import AsyncExitStack

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # one socket a session
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
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
        before = _open_sockets()  # the loop's own (its self-pipe)
        async with AsyncExitStack() as held:
            started = time.perf_counter()
            for _ in range(sessions):
                await held.enter_async_context(make())
            open_all = time.perf_counter() - started
            await asyncio.sleep(0.3)
            settled, sockets = await _until_pool_closed(before, 90) if settle else (0.0, -1)
            gc.collect()
            used = tracemalloc.get_traced_memory()[0] - base
            tracemalloc.stop()
            rss = _rss_mib()
        return {
            "kib_per_session": used / sessions / 1024,
            "open_ms": statistics.median(times) * 1e3,
            "open_all_s": open_all,
            "rss_mib": rss,
            "settle_s": settled,
            "sockets_left": sockets,
        }

    return asyncio.run(main())


def _first_error(errors: Sequence[BaseException]) -> None:
    if errors:
        print(f"{len(errors)} failed; the first: {errors[0]!r}", file=sys.stderr)


def inflight_cell(
    kind: str, url: str, calls: int, hold_ms: int, timeout: float
) -> dict[str, float]:
    """``calls`` calls started at once on one client, each held ``hold_ms`` by the server."""
    probe = http_probe(url)

    async def main() -> dict[str, float]:
        async with open_async(kind, url) as call_tool:
            await call_tool("echo", {"text": "warm"})
            before, cpu, wall = probe(), _cpu(), time.perf_counter()
            tasks = [
                asyncio.ensure_future(call_tool("echo", {"text": str(i), "hold_ms": hold_ms}))
                for i in range(calls)
            ]
            done, pending = await asyncio.wait(tasks, timeout=timeout)
            cpu, wall = _cpu() - cpu, time.perf_counter() - wall
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
            errors = [exc for task in done if (exc := task.exception()) is not None]
            _first_error(errors)
            after = probe()
        return {
            "wall_s": wall,
            "cpu_s": cpu,
            "cpu_us_per_call": cpu / calls * 1e6,
            "peak_rss_mib": _peak_rss_mib(),
            "connections": after["connections"] - before["connections"],
            "errors": len(errors) + len(pending),
        }

    return asyncio.run(main())


def fanout_cell(kind: str, urls: list[str], calls_each: int, timeout: float) -> dict[str, float]:
    """One client per URL, all at once: each connects and makes ``calls_each`` calls."""
    probe = http_probe(urls[0])  # one Node process serves every port: stats are shared
    _preimport(kind)
    base_rss = _rss_mib()
    before, cpu, wall = probe(), _cpu(), time.perf_counter()
    if kind == "duomcp-sync":

        def one_sync(url: str) -> None:
            with open_sync(url) as call_sync:
                for i in range(calls_each):
                    call_sync("echo", {"text": str(i)})

        pool = ThreadPoolExecutor(len(urls))
        futures = [pool.submit(one_sync, url) for url in urls]
        done, pending = wait_futures(futures, timeout=timeout)
        pool.shutdown(wait=not pending, cancel_futures=True)
        failed = [exc for future in done if (exc := future.exception()) is not None]
        stuck = len(pending)
    else:

        async def one(url: str) -> None:
            async with open_async(kind, url) as call_tool:
                for i in range(calls_each):
                    await call_tool("echo", {"text": str(i)})

        async def main() -> tuple[list[BaseException], int]:
            tasks = [asyncio.ensure_future(one(url)) for url in urls]
            done, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
            return [exc for task in done if (exc := task.exception()) is not None], len(pending)

        failed, stuck = asyncio.run(main())
    cpu, wall = _cpu() - cpu, time.perf_counter() - wall
    _first_error(failed)
    after = probe()
    result = {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mib": _peak_rss_mib(),
        "rss_growth_mib": _peak_rss_mib() - base_rss,
        "server_cpu_s": after["server_cpu_s"] - before["server_cpu_s"],
        "failed_clients": len(failed) + stuck,
    }
    if stuck:  # a stuck client thread cannot be joined: report and leave now
        print(json.dumps(result), flush=True)
        os._exit(0)
    return result


def _preimport(kind: str) -> None:
    """What a client of ``kind`` imports, so RSS growth counts the connections only."""
    if kind == "official":
        import mcp.client.streamable_http  # noqa: F401
    else:
        import aiohttp  # noqa: F401

        if kind != "floor":
            import duomcp  # noqa: F401


def child(args: argparse.Namespace) -> None:
    if not args.speedups:
        hide_msgspec()
    elif importlib.util.find_spec("msgspec") is None:
        raise SystemExit("--speedups: msgspec is not installed")
    result: dict[str, float] | list[dict[str, float]]
    if args.cell == "idle":
        result = idle_cell(args.child, args.target, args.sessions, args.settle)
    elif args.cell == "inflight":
        result = inflight_cell(args.child, args.target, args.calls, args.hold_ms, args.timeout)
    elif args.cell == "fanout":
        result = fanout_cell(args.child, args.target.split(","), args.calls, args.timeout)
    else:
        result = calls_cell(args.child, args.target, json.loads(args.plan))
    print(json.dumps(result))


def hide_msgspec() -> None:
    """This process runs as duomcp's default install does, even where the test dependencies
    installed msgspec (the speedups extra): ``import msgspec`` fails in it."""
    sys.modules["msgspec"] = None  # type: ignore[assignment]


# -- the parent: servers, alternation, report ---------------------------------------------


@contextmanager
def node_server(sse: bool = False, ports: int = 1) -> Iterator[list[str]]:
    """benchmarks/server.mjs listening on ``ports`` ports; yields their MCP URLs."""
    if not NODE.exists():
        raise SystemExit(f"Node 22 not found at {NODE}: run bash .ci/install-node.sh")
    cmd = [str(NODE), str(HERE / "server.mjs"), "--ports", str(ports)]
    proc = subprocess.Popen([*cmd, *(["--sse"] if sse else [])], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else ""
        if not line.startswith("listening "):
            raise SystemExit(f"the benchmark server did not start: {line!r}")
        yield [f"http://127.0.0.1:{int(port)}/mcp" for port in line.split()[1:]]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def run_child(*args: str, timeout: float = 600, env: dict[str, str] | None = None) -> Any:
    """Run this script as a child with ``args`` (and ``env`` added to the environment);
    return the JSON it prints last."""
    out = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})},
    )
    if out.returncode != 0:
        raise SystemExit(f"benchmark child {args} failed:\n{out.stderr[-3000:]}")
    if out.stderr.strip():
        print(out.stderr.strip()[-1000:], file=sys.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rotated(round_no: int) -> tuple[str, ...]:
    return CLIENTS[round_no % 4 :] + CLIENTS[: round_no % 4]


def measure_calls(args: argparse.Namespace) -> tuple[Medians, Rounds]:
    """Every cell of CELLS at each concurrency, by each client: medians over the rounds,
    and each round's CPU per call.

    Each measurement runs in a fresh process, or (``--batch``, which ``--quick`` sets) all
    of a client's measurements of a round against one server run in one process."""
    runs: dict[tuple[str, int, str], list[dict[str, float]]] = {}
    for transport in ("json", "sse", "stdio"):
        cells = [cell for cell in CELLS if cell.transport == transport]
        server = nullcontext([STDIO]) if transport == "stdio" else node_server(transport == "sse")
        with server as (target,):
            for round_no in range(args.rounds):
                jobs = [
                    (cell, concurrency, client)
                    for concurrency in CONCURRENCY
                    for cell in cells
                    for client in _rotated(round_no)
                ]
                if args.batch:
                    batches = [[job for job in jobs if job[2] == c] for c in _rotated(round_no)]
                else:
                    batches = [[job] for job in jobs]
                for batch in batches:
                    client = batch[0][2]
                    plan = [_job(args, cell, concurrency) for cell, concurrency, _ in batch]
                    results = run_child(
                        *("--child", client, "--cell", "calls", "--target", target),
                        *("--plan", json.dumps(plan)),
                    )
                    for (cell, concurrency, _), result in zip(batch, results, strict=True):
                        runs.setdefault((cell.name, concurrency, client), []).append(result)
                        print(
                            f"{cell.name} c={concurrency} {client}: {result['cpu_us']:.0f} us/call",
                            file=sys.stderr,
                        )
    medians = {
        key: {field: statistics.median(r[field] for r in results) for field in results[0]}
        for key, results in runs.items()
    }
    return medians, {key: [r["cpu_us"] for r in results] for key, results in runs.items()}


def _job(args: argparse.Namespace, cell: Cell, concurrency: int) -> dict[str, Any]:
    """What a child measures for ``cell`` at ``concurrency``: twice the calls at 16."""
    calls, warmup = args.calls, args.warmup
    if cell.tool == "big":
        calls, warmup = args.big_calls, max(1, args.warmup // 10)
    elif cell.transport == "stdio":
        calls = args.stdio_calls
    calls *= 2 if concurrency > 1 else 1
    return {"tool": cell.tool, "calls": calls, "concurrency": concurrency, "warmup": warmup}


def measure_scale(args: argparse.Namespace) -> dict[str, Any]:
    """Idle sessions (both SDKs, and duomcp at scale), calls in flight, clients to servers."""
    scale: dict[str, Any] = {"idle": {}, "inflight": {}, "fanout": {}}
    with node_server() as (url,):
        for client in ("duomcp-async", "official"):
            scale["idle"][client] = run_child(
                *("--child", client, "--cell", "idle", "--target", url),
                *("--sessions", str(args.sessions)),
            )
            print(f"idle {client}: {scale['idle'][client]}", file=sys.stderr)
        scale["idle_at_scale"] = run_child(
            *("--child", "duomcp-async", "--cell", "idle", "--target", url),
            *("--sessions", str(args.scale_sessions), "--settle"),
            timeout=1800,
        )
        print(f"idle at scale: {scale['idle_at_scale']}", file=sys.stderr)
    with node_server() as (url,):
        for client in ("floor", "duomcp-async", "official"):
            scale["inflight"][client] = run_child(
                *("--child", client, "--cell", "inflight", "--target", url),
                *("--calls", str(args.inflight), "--hold-ms", str(args.hold_ms)),
                *("--timeout", "300"),
            )
            print(f"in flight {client}: {scale['inflight'][client]}", file=sys.stderr)
    with node_server(ports=args.fanout) as urls:
        for client in CLIENTS:
            scale["fanout"][client] = run_child(
                *("--child", client, "--cell", "fanout", "--target", ",".join(urls)),
                *("--calls", str(args.fanout_calls), "--timeout", "300"),
            )
            print(f"fan-out {client}: {scale['fanout'][client]}", file=sys.stderr)
    return scale


# A fresh interpreter: import, connect, first tools/call; prints seconds since its start.
# msgspec, where installed, is hidden (as hide_msgspec() does): the default install.
_COLD_HEAD = (
    "import time\nstarted = time.perf_counter()\nimport asyncio\nimport sys\n"
    "sys.modules['msgspec'] = None\n"
)
COLD_START = {
    "floor": """
        import json
        import aiohttp

        async def main() -> None:
            url = sys.argv[1]
            headers = {"Accept": "application/json, text/event-stream"}
            headers["Content-Type"] = "application/json"
            init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "floor", "version": "1"}}}
            async with aiohttp.ClientSession(trust_env=False) as http:
                async with http.post(url, data=json.dumps(init), headers=headers) as resp:
                    headers["Mcp-Session-Id"] = resp.headers["Mcp-Session-Id"]
                    await resp.read()
                headers["MCP-Protocol-Version"] = "2025-11-25"
                note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
                async with http.post(url, data=json.dumps(note), headers=headers) as resp:
                    await resp.read()
                call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                        "params": {"name": "echo", "arguments": {"text": "cold"}}}
                async with http.post(url, data=json.dumps(call), headers=headers) as resp:
                    json.loads(await resp.read())["result"]
                print(time.perf_counter() - started, flush=True)

        asyncio.run(main())
    """,
    "duomcp-async": """
        from duomcp import AsyncClient

        async def main() -> None:
            async with AsyncClient(sys.argv[1]) as client:
                await client.call_tool("echo", {"text": "cold"})
                print(time.perf_counter() - started, flush=True)

        asyncio.run(main())
    """,
    "duomcp-sync": """
        from duomcp import Client

        with Client(sys.argv[1]) as client:
            client.call_tool("echo", {"text": "cold"})
            print(time.perf_counter() - started, flush=True)
    """,
    "official": """
        from mcp import Client

        async def main() -> None:
            async with Client(sys.argv[1], mode="legacy") as client:
                await client.call_tool("echo", {"text": "cold"})
                print(time.perf_counter() - started, flush=True)

        asyncio.run(main())
    """,
}


def measure_cold(repeats: int) -> dict[str, dict[str, float]]:
    """Median over ``repeats`` fresh processes per client, alternated and rotated: the time
    to the first result (from the interpreter's first line) and the whole process's."""
    first: dict[str, list[float]] = {client: [] for client in CLIENTS}
    whole: dict[str, list[float]] = {client: [] for client in CLIENTS}
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    with node_server() as (url,):
        for round_no in range(repeats):
            for client in _rotated(round_no):
                code = _COLD_HEAD + textwrap.dedent(COLD_START[client])
                started = time.perf_counter()
                out = subprocess.run(
                    [sys.executable, "-c", code, url],
                    capture_output=True,
                    text=True,
                    timeout=120,
                    env=env,
                )
                whole[client].append(time.perf_counter() - started)
                if out.returncode != 0:
                    raise SystemExit(f"cold start of {client} failed:\n{out.stderr[-3000:]}")
                first[client].append(float(out.stdout.split()[-1]))
    return {
        client: {
            "first_ms": statistics.median(first[client]) * 1e3,
            "process_ms": statistics.median(whole[client]) * 1e3,
        }
        for client in CLIENTS
    }


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
    subprocess.run([sys.executable, "-m", "compileall", "-q", folder], check=True, timeout=300)


def _median_printed(code: str, *argv: str, repeats: int) -> float:
    """The median of the number ``code`` prints, over ``repeats`` fresh interpreters."""
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code, *argv],
                capture_output=True,
                text=True,
                check=True,
                timeout=300,
            ).stdout
        )
        for _ in range(repeats)
    ]
    return statistics.median(runs)


def import_ms(statements: str, repeats: int) -> float:
    code = f"import time; t = time.perf_counter(); {statements}; print(time.perf_counter() - t)"
    return _median_printed(code, repeats=repeats) * 1e3


# The least a blocking call from 16 threads into one event-loop thread can cost, with no
# I/O and no SDK: each thread hands a no-op to the loop (call_soon_threadsafe) and waits
# on a lock the loop releases. Prints CPU microseconds per handoff.
HANDOFF = """
import asyncio, resource, sys, threading
calls, threads = int(sys.argv[1]), 16
loop = asyncio.new_event_loop()
threading.Thread(target=loop.run_forever, daemon=True).start()
numbers, take = iter(range(calls)), threading.Lock()

def worker():
    while True:
        with take:
            if next(numbers, None) is None:
                return
        done = threading.Lock()
        done.acquire()
        loop.call_soon_threadsafe(done.release)
        done.acquire()

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

workers = [threading.Thread(target=worker) for _ in range(threads)]
started = cpu()
for w in workers:
    w.start()
for w in workers:
    w.join()
print((cpu() - started) / calls * 1e6)
"""


def measure_handoff(calls: int, repeats: int) -> float:
    """Median CPU µs per bare thread-to-loop handoff (HANDOFF) over fresh processes."""
    return _median_printed(HANDOFF, str(calls), repeats=repeats)


SPEEDUP_CELLS = ("JSON 256 KiB", "SSE 256 KiB", "JSON")
"""Cells measured with and without the speedups extra (msgspec parses the messages)."""


def _served(names: Sequence[str]) -> Iterator[tuple[str, list[Cell]]]:
    """The HTTP cells named, by transport, each group with its Node server running."""
    for transport in ("json", "sse"):
        cells = [c for c in CELLS if c.name in names and c.transport == transport]
        with node_server(transport == "sse") as (target,):
            yield target, cells


def _one_cell(
    client: str, target: str, plan: str, *extra: str, env: dict[str, str] | None = None
) -> dict[str, float]:
    """One cell's figures, measured in a fresh child process."""
    [result] = run_child(
        *("--child", client, "--cell", "calls", "--target", target, "--plan", plan, *extra),
        env=env,
    )
    return result  # type: ignore[no-any-return]


def measure_speedups(args: argparse.Namespace) -> dict[str, list[tuple[float, float]]]:
    """duomcp's clients without and with the speedups extra, alternated in fresh processes
    over the rounds: per (cell, concurrency, client), each round's (without, with) CPU µs
    a call. Empty where msgspec is not installed."""
    if importlib.util.find_spec("msgspec") is None:
        return {}
    runs: dict[str, list[tuple[float, float]]] = {}
    for target, cells in _served(SPEEDUP_CELLS):
        jobs = itertools.product(range(args.rounds), cells, CONCURRENCY, DUOMCP_CLIENTS)
        for round_no, cell, concurrency, client in jobs:
            plan = json.dumps([_job(args, cell, concurrency)])
            cpu = {}
            for speedups in (False, True) if round_no % 2 == 0 else (True, False):
                extra = ["--speedups"] if speedups else []
                cpu[speedups] = _one_cell(client, target, plan, *extra)["cpu_us"]
            key = f"{cell.name}|{concurrency}|{client}"
            runs.setdefault(key, []).append((cpu[False], cpu[True]))
            print(
                f"{key}: {cpu[False]:.0f} -> {cpu[True]:.0f} us/call with speedups",
                file=sys.stderr,
            )
    return runs


ALLOCATOR_CELLS = ("JSON 256 KiB", "SSE 256 KiB")
"""Cells measured again with glibc's allocator told to keep what it frees (KEEP_MEMORY)."""
KEEP_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(4 << 20), "MALLOC_TRIM_THRESHOLD_": str(64 << 20)}
"""glibc: blocks up to 4 MiB come from the heap, not fresh mappings, and up to 64 MiB freed
at the heap's top is kept, not handed back: a 256 KiB result then reuses warm memory."""


def measure_allocator(args: argparse.Namespace) -> dict[str, list[dict[str, float]]]:
    """duomcp's clients on the 256 KiB cells at 16 calls, by default and with KEEP_MEMORY,
    alternated in fresh processes over the rounds: per (cell, client, setting), each round's
    CPU µs and page faults a call. Empty where the C library is not glibc."""
    if platform.libc_ver()[0] != "glibc":
        return {}
    runs: dict[str, list[dict[str, float]]] = {}
    for target, cells in _served(ALLOCATOR_CELLS):
        for round_no, cell in itertools.product(range(args.rounds), cells):
            plan = json.dumps([_job(args, cell, CONCURRENCY[-1])])
            settings, order = ("default", "kept"), DUOMCP_CLIENTS
            if round_no % 2:
                settings, order = settings[::-1], order[::-1]
            for setting, client in itertools.product(settings, order):
                env = KEEP_MEMORY if setting == "kept" else None
                result = _one_cell(client, target, plan, env=env)
                key = f"{cell.name}|{client}|{setting}"
                runs.setdefault(key, []).append(result)
                print(
                    f"{key}: {result['cpu_us']:.0f} us/call, "
                    f"{result['faults_per_call']:.0f} faults/call",
                    file=sys.stderr,
                )
    return runs


def measure(args: argparse.Namespace) -> dict[str, Any]:
    medians, rounds = measure_calls(args)
    speedups = measure_speedups(args)
    allocator = measure_allocator(args)
    handoff = measure_handoff(args.handoff_calls, args.handoff_repeats)
    scale = measure_scale(args)
    compile_duomcp()
    cold = measure_cold(args.cold_repeats)
    imports = {name: import_ms(code, args.import_repeats) for name, code in STARTUP.items()}
    return {
        "medians": medians,
        "rounds": rounds,
        "scale": scale,
        "cold": cold,
        "imports": imports,
        "handoff_us": handoff,
        "speedups": speedups,
        "allocator": allocator,
        "args": vars(args),
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
    node = subprocess.run([str(NODE), "--version"], capture_output=True, text=True, timeout=30)
    return [
        f"- Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; duomcp {metadata.version('duomcp')}, "
        f"aiohttp {metadata.version('aiohttp')}, mcp {metadata.version('mcp')}; "
        f"Node {node.stdout.strip()} (servers)",
    ]


def _label(client: str, stdio: bool = False) -> str:
    """The client's name in tables: the floor's says what it is built on."""
    if client == "floor":
        return FLOOR_LABELS["stdio" if stdio else "http"]
    return LABELS[client]


def calls_table(med: Medians, cells: Sequence[Cell]) -> list[str]:
    tcp = cells[0].transport != "stdio"
    lines = [
        "| reply | concurrency | client | CPU µs/call | x floor | x official | calls/s | "
        f"p50 ms | p99 ms | {'new TCP conns/call | ' if tcp else ''}page faults/call | "
        "server CPU |",
        "|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if tcp else "---|"),
    ]
    for cell in cells:
        for concurrency in CONCURRENCY:
            floor = med[(cell.name, concurrency, "floor")]["cpu_us"]
            official = med[(cell.name, concurrency, "official")]["cpu_us"]
            for client in CLIENTS:
                m = med[(cell.name, concurrency, client)]
                conns = f"{m['new_connections_per_call']:.3f} | " if tcp else ""
                name = _label(client, stdio=not tcp)
                lines.append(
                    f"| {cell.name} | {concurrency} | {name} | {m['cpu_us']:.0f} | "
                    f"{m['cpu_us'] / floor:.2f} | {m['cpu_us'] / official:.2f} | "
                    f"{m['calls_per_s']:.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | "
                    f"{conns}{m['faults_per_call']:.1f} | {m['server_cpu_share']:.0%} |"
                )
    return lines


def speedups_section(runs: dict[str, list[tuple[float, float]]]) -> list[str]:
    """The speedups extra, without and with: medians, and the median of per-round ratios."""
    if not runs:
        return []
    try:
        version = metadata.version("msgspec")
    except metadata.PackageNotFoundError:
        version = "?"
    lines = [
        "### With the `speedups` extra",
        "",
        f"`pip install duomcp[speedups]` installs msgspec ({version} here), which then parses "
        "every message (into the same values as the json module; what it refuses, the json "
        "module decides). The same cells, each client without and with it, in fresh "
        "processes, the order alternated over the rounds; every other figure on this page is "
        "without it.",
        "",
        "| reply | concurrency | client | CPU µs/call without | with | with / without |",
        "|---|---|---|---|---|---|",
    ]
    for key, pairs in runs.items():
        cell, concurrency, client = key.split("|")
        without = statistics.median(a for a, _ in pairs)
        with_ = statistics.median(b for _, b in pairs)
        ratio = statistics.median(b / a for a, b in pairs)
        lines.append(
            f"| {cell} | {concurrency} | {LABELS[client]} | {without:.0f} | {with_:.0f} "
            f"| {ratio:.2f} |"
        )
    return [*lines, ""]


Runs = dict[str, list[dict[str, float]]]


def allocator_ratios(runs: Runs, cell: str, setting: str) -> list[float]:
    """Client / AsyncClient CPU a call in ``cell`` at 16, round by round, in ``setting``."""
    mine = runs.get(f"{cell}|duomcp-sync|{setting}", [])
    others = runs.get(f"{cell}|duomcp-async|{setting}", [])
    return [a["cpu_us"] / b["cpu_us"] for a, b in zip(mine, others, strict=True) if b["cpu_us"]]


def allocator_section(runs: Runs) -> list[str]:
    """The 256 KiB cells at 16, by default and with glibc keeping what it frees."""
    if not runs:
        return []
    env = " ".join(f"{k}={v}" for k, v in KEEP_MEMORY.items())
    lines = [
        "### glibc's allocator, 16 threads and big results",
        "",
        "A 256 KiB result is read and parsed into blocks of about that size. glibc maps "
        "fresh memory for such blocks, or hands the top of its heap back to the system, and "
        "the next call faults those pages in again; in a process with threads each unmapping "
        "also interrupts the other CPUs to flush their TLBs. The blocking `Client`, whose 16 "
        "callers are threads, pays more for it than `AsyncClient` (see the page faults "
        "above). The same cells at 16 with glibc told to keep what it frees "
        f"(`{env}` in the environment), each client by default and so, alternated in fresh "
        "processes; the ratio is the median of the per-round ratios:",
        "",
        "| reply | client | CPU µs/call default | kept | page faults/call default | kept |",
        "|---|---|---|---|---|---|",
    ]
    for cell in ALLOCATOR_CELLS:
        for client in DUOMCP_CLIENTS:
            by = {
                setting: runs.get(f"{cell}|{client}|{setting}", [])
                for setting in ("default", "kept")
            }
            if not all(by.values()):
                continue
            cpu = {k: statistics.median(r["cpu_us"] for r in v) for k, v in by.items()}
            faults = {k: statistics.median(r["faults_per_call"] for r in v) for k, v in by.items()}
            lines.append(
                f"| {cell} | {LABELS[client]} | {cpu['default']:.0f} | {cpu['kept']:.0f} | "
                f"{faults['default']:.1f} | {faults['kept']:.1f} |"
            )
    lines.append("")
    for cell in ALLOCATOR_CELLS:
        default = allocator_ratios(runs, cell, "default")
        kept = allocator_ratios(runs, cell, "kept")
        if default and kept:
            lines.append(
                f"- {cell}: `Client` / `AsyncClient` {statistics.median(default):.2f}x by "
                f"default, {statistics.median(kept):.2f}x with glibc keeping freed memory."
            )
    return [*lines, ""]


def report(data: dict[str, Any], path: Path, plot: Path | None) -> list[Target]:
    med, args = data["medians"], data["args"]
    scale, cold, imports = data["scale"], data["cold"], data["imports"]
    idle = scale["idle"]
    lines = [
        "# Benchmarks",
        "",
        "One command, one run: `python benchmarks/run.py` (`--quick` for the CI smoke run);",
        f"this one: `{shlex.join(['python', 'benchmarks/run.py', *sys.argv[1:]])}`.",
        "duomcp's clients, the official SDK's client and a bare floor (the same requests, no",
        "SDK: aiohttp over HTTP, an asyncio subprocess over stdio, the standard `json` module)",
        "each run in a fresh process"
        + (" (one per client and server: `--batch`)" if args["batch"] else "")
        + " against a Node server, alternated and rotated over",
        f"{args['rounds']} round(s); figures are medians. Both servers are of the legacy era",
        "(`initialize`): duomcp, left at `era='auto'`, first sends the modern `server/discover`,",
        "which they refuse, then `initialize`; the official SDK runs `mode='legacy'`.",
        "Concurrency 1 is a program calling in a row: async clients in one task, duomcp's",
        "blocking `Client` from the main thread (as a script, so each call puts in and takes",
        "out its Ctrl-C handler). Concurrency 16 is 16 tasks, or 16 threads sharing one `Client`.",
        "",
        *environment(),
        "",
        "## CPU per `tools/call` over Streamable HTTP (client process, getrusage)",
        "",
        "`benchmarks/server.mjs`, tool `echo` (a few bytes each way), "
        f"{args['calls']} calls at concurrency 1, {args['calls'] * 2} at 16.",
        "",
        *calls_table(med, CELLS[:2]),
        "",
        '"server CPU" is the Node server\'s CPU time over the wall time of the timed calls: '
        "well under 100% means the server was not the bottleneck.",
        "",
        "## A 256 KiB result",
        "",
        "The same server's tool `big`: a 256 KiB text (about 270 KiB as JSON), "
        f"{args['big_calls']} calls at concurrency 1, {args['big_calls'] * 2} at 16.",
        "",
        *calls_table(med, CELLS[2:4]),
        "",
        *speedups_section(data.get("speedups") or {}),
        *allocator_section(data.get("allocator") or {}),
        "## stdio",
        "",
        "`benchmarks/stdio_server.mjs` (one JSON message a line), started by each client; "
        f"tool `echo`, {args['stdio_calls']} calls at concurrency 1, "
        f"{args['stdio_calls'] * 2} at 16. Client CPU is the client process's alone "
        "(RUSAGE_SELF); server CPU is the Node child's, read from /proc.",
        "",
        *calls_table(med, CELLS[4:]),
        "",
        "## Cold start",
        "",
        "A fresh Python process imports the client, connects to `benchmarks/server.mjs` (legacy",
        "era, JSON replies) and makes one `tools/call`; median of "
        f"{args['cold_repeats']} processes per client, alternated, bytecode compiled beforehand.",
        "The first column is timed inside the process, from its first line to the result; the",
        "second is the whole process as the parent saw it (interpreter start-up and exit too).",
        "",
        "| client | import + connect + first call, ms | x aiohttp | whole process, ms |",
        "|---|---|---|---|",
    ]
    for client in CLIENTS:
        c = cold[client]
        lines.append(
            f"| {_label(client)} | "
            f"{c['first_ms']:.0f} | {c['first_ms'] / cold['floor']['first_ms']:.2f} | "
            f"{c['process_ms']:.0f} |"
        )
    lines += [
        "",
        "## Sessions and start-up",
        "",
        "| | duomcp AsyncClient | official mcp SDK | duomcp / official |",
        "|---|---|---|---|",
        f"| Python heap per idle session (tracemalloc, {args['sessions']} open) | "
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
        *scale_section(scale, args),
        "",
        "## Blocking calls from 16 threads",
        "",
        "Sixteen threads sharing one `Client` hand each call to the thread that runs the",
        "event loop and sleep until it is done: a wake-up and a hand-over of the GIL per call,",
        "whatever the client. The same hand-over with no I/O and no SDK (16 threads, each",
        "giving one no-op to an asyncio loop thread with `call_soon_threadsafe` and waiting on",
        f"a lock; median of {args['handoff_repeats']} processes of {args['handoff_calls']:,}",
        f"calls) costs **{data['handoff_us']:.0f} µs** of CPU per call on this machine. Each",
        "16-thread target below also shows that bare hand-over added to the figure it is",
        "compared with: a floor no single-loop design goes under with the GIL.",
        "",
        "## Targets",
        "",
        "A CPU ratio is taken within each round, where the clients of a cell run one after",
        "another, and the median over the rounds decides; the range over the rounds follows",
        "it. (The tables above show each client's median: their ratios may differ a little.)",
        "",
        "| target | figure | met/missed |",
        "|---|---|---|",
    ]
    rows = targets(data)
    lines += [f"| {t.name} | {t.figure} | {'met' if t.met else '**missed**'} |" for t in rows]
    if plot is not None:
        lines += ["", f"![CPU per call]({plot.name})"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if plot is not None:
        draw(med, plot)
    return rows


def scale_section(scale: dict[str, Any], args: dict[str, Any]) -> list[str]:
    at_scale = scale["idle_at_scale"]
    lines = [
        "",
        "## Scale",
        "",
        f"**{args['scale_sessions']:,} idle sessions** (a duomcp AsyncClient each) in one "
        f"process, to one server: {at_scale['kib_per_session']:.1f} KiB of Python heap per "
        f"session (tracemalloc), opened one after another in {at_scale['open_all_s']:.1f} s, "
        "measured once all were idle past the client's keep-alive (aiohttp's 15 s: the pool "
        f"closed their connections; {at_scale.get('settle_s', 0):.0f} s after the last one "
        f"opened, {at_scale.get('sockets_left', -1)} sockets left). With its connection open "
        "a session holds more: the 100-session row above. The process's RSS with them open: "
        f"{at_scale['rss_mib']:.0f} MiB (tracemalloc's own bookkeeping included).",
        "",
        f"**{args['inflight']:,} calls in flight on one client**: started at once, each held "
        f"{args['hold_ms']} ms by the server (`echo` with `hold_ms`), JSON replies. duomcp "
        "keeps at most 100 connections to a server (`HTTPOptions.max_connections`); calls "
        "beyond wait for one.",
        "",
        "| client | wall s | CPU s | CPU µs/call | peak RSS MiB | TCP conns opened | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for client, r in scale["inflight"].items():
        lines.append(
            f"| {_label(client)} | "
            f"{r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['cpu_us_per_call']:.0f} | "
            f"{r['peak_rss_mib']:.0f} | {r['connections']:.0f} | {r['errors']:.0f} |"
        )
    lines += [
        "",
        f"**{args['fanout']} clients to {args['fanout']} servers at once**: one Node process "
        f"listening on {args['fanout']} ports stands for the servers (`server.mjs --ports N`); "
        f"each client connects to its own port and makes {args['fanout_calls']} calls, "
        "all clients at once (tasks in one event loop; threads for the sync Client).",
        "",
        "| client | wall s | CPU s | peak RSS MiB | RSS growth MiB | server CPU s | "
        "failed clients |",
        "|---|---|---|---|---|---|---|",
    ]
    for client, r in scale["fanout"].items():
        lines.append(
            f"| {_label(client)} | "
            f"{r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['peak_rss_mib']:.0f} | "
            f"{r['rss_growth_mib']:.0f} | {r['server_cpu_s']:.2f} | {r['failed_clients']:.0f} |"
        )
    return lines


@dataclass(frozen=True)
class Target:
    name: str
    figure: str
    met: bool


def targets(data: dict[str, Any]) -> list[Target]:
    """Each target of the issue, met or missed, with the figure that decides it."""
    med, scale, cold, args = data["medians"], data["scale"], data["cold"], data["args"]
    rounds: Rounds = data["rounds"]
    handoff = data["handoff_us"]
    rows: list[Target] = []

    def ratio(where: str, client: str, over: str, key: tuple[str, int], limit: float) -> None:
        # Within a round the clients of a cell run one after another: their ratio there is
        # spared the machine's drift between rounds. The median over the rounds decides.
        name = "AsyncClient" if client == "duomcp-async" else "Client"
        cell, c = key
        mine, others = rounds[(cell, c, client)], rounds[(cell, c, over)]
        paired = [ours / theirs for ours, theirs in zip(mine, others, strict=True) if theirs > 0]
        value = statistics.median(paired) if paired else math.nan
        figure = f"{value:.2f}x" if math.isfinite(value) else "n/a"
        if len(paired) > 1:
            figure += f" ({min(paired):.2f}-{max(paired):.2f})"
        over_name = "floor" if over == "floor" else "AsyncClient"
        if client == "duomcp-sync" and c > 1 and math.isfinite(value):
            # Threads: what handing each call to the loop's thread costs by itself
            base = med[(cell, c, over)]["cpu_us"]
            figure += f"; the bare handoff alone: {(base + handoff) / base:.2f}x"
            kept = allocator_ratios(data.get("allocator") or {}, cell, "kept")
            if kept:
                figure += f"; with glibc keeping freed memory: {statistics.median(kept):.2f}x"
        rows.append(Target(f"{where}: {name} <= {limit:.2f}x {over_name}", figure, value <= limit))

    for cell in CELLS:
        for c in CONCURRENCY:
            where = f"{cell.name} c={c}, CPU/call"
            ratio(where, "duomcp-async", "floor", (cell.name, c), cell.floor_limit)
            ratio(where, "duomcp-sync", cell.sync_over, (cell.name, c), cell.sync_limit)
    conns = max(
        med[(cell.name, c, client)]["new_connections_per_call"]
        for cell in CELLS
        if cell.transport != "stdio"
        for c in CONCURRENCY
        for client in DUOMCP_CLIENTS
    )
    rows.append(
        Target("HTTP: new TCP connections per call = 0 (worst)", f"{conns:.3f}", conns == 0)
    )
    aio = cold["floor"]["first_ms"]
    for client, name in (("duomcp-async", "AsyncClient"), ("duomcp-sync", "Client")):
        ms = cold[client]["first_ms"]
        rows.append(
            Target(
                f"cold start: {name} <= 1.20x bare aiohttp",
                f"{ms / aio:.2f}x ({ms:.0f} vs {aio:.0f} ms)",
                ms / aio <= 1.2,
            )
        )
    imported = data["imports"]["duomcp"]
    rows.append(Target("import duomcp <= 250 ms", f"{imported:.0f} ms", imported <= 250))
    kib = scale["idle"]["duomcp-async"]["kib_per_session"]
    rows.append(
        Target(f"idle session, {args['sessions']} open: <= 64 KiB", f"{kib:.1f} KiB", kib <= 64)
    )
    kib = scale["idle_at_scale"]["kib_per_session"]
    rows.append(
        Target(
            f"idle session, {args['scale_sessions']:,} open, past keep-alive: <= 20 KiB",
            f"{kib:.1f} KiB",
            kib <= 20,
        )
    )
    r = scale["inflight"]["duomcp-async"]
    rows.append(
        Target(
            f"{args['inflight']:,} calls in flight on one AsyncClient: errors = 0",
            f"{r['errors']:.0f} errors ({r['wall_s']:.2f} s wall, {r['cpu_s']:.2f} s CPU, "
            f"{r['peak_rss_mib']:.0f} MiB peak RSS)",
            r["errors"] == 0,
        )
    )
    for client, name in (("duomcp-async", "AsyncClients"), ("duomcp-sync", "Clients")):
        r = scale["fanout"][client]
        rows.append(
            Target(
                f"{args['fanout']} {name} to {args['fanout']} servers: all calls succeed",
                f"{r['failed_clients']:.0f} failed clients ({r['wall_s']:.2f} s wall, "
                f"{r['cpu_s']:.2f} s CPU, {r['peak_rss_mib']:.0f} MiB peak RSS)",
                r["failed_clients"] == 0,
            )
        )
    return rows


def draw(med: Medians, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        ("Streamable HTTP, echo", CELLS[:2]),
        ("Streamable HTTP, 256 KiB result", CELLS[2:4]),
        ("stdio, echo", CELLS[4:]),
    )
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), gridspec_kw={"width_ratios": [4, 4, 2]})
    width = 0.2
    for ax, (title, cells) in zip(axes, panels, strict=True):
        groups = [(cell, c) for cell in cells for c in CONCURRENCY]
        for n, client in enumerate(CLIENTS):
            xs = [g + (n - 1.5) * width for g in range(len(groups))]
            heights = [med[(cell.name, c, client)]["cpu_us"] for cell, c in groups]
            ax.bar(xs, heights, width, label=LABELS[client])
        names = [f"{cell.name.split()[0]}, c={c}" for cell, c in groups]
        ax.set_xticks(range(len(groups)), names)
        ax.set_title(title)
        ax.set_ylabel("client CPU µs per tools/call")
    axes[0].legend(fontsize="small")
    fig.suptitle("Client CPU per call (lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny numbers, no plot (CI)")
    parser.add_argument("--calls", type=int, default=2000, help="echo calls over HTTP (c=1)")
    parser.add_argument("--big-calls", type=int, default=200, help="256 KiB calls (c=1)")
    parser.add_argument("--stdio-calls", type=int, default=2000, help="stdio calls (c=1)")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up calls per caller")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sessions", type=int, default=100, help="idle sessions, both SDKs")
    parser.add_argument("--scale-sessions", type=int, default=10_000, help="idle, duomcp")
    parser.add_argument("--inflight", type=int, default=1000, help="calls in flight at once")
    parser.add_argument("--hold-ms", type=int, default=100, help="server hold of those calls")
    parser.add_argument("--fanout", type=int, default=100, help="clients to as many servers")
    parser.add_argument("--fanout-calls", type=int, default=20, help="calls of each of those")
    parser.add_argument("--cold-repeats", type=int, default=10)
    parser.add_argument("--import-repeats", type=int, default=5)
    parser.add_argument("--handoff-calls", type=int, default=20_000, help="bare handoffs")
    parser.add_argument("--handoff-repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "README.md")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument(
        "--batch",
        action="store_true",
        help="measure all cells of a client in one process, not each in a fresh one (quicker)",
    )
    parser.add_argument("--child", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--cell", default="calls", help=argparse.SUPPRESS)
    parser.add_argument("--settle", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=300, help=argparse.SUPPRESS)
    parser.add_argument("--speedups", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.quick:
        args.calls, args.big_calls, args.stdio_calls, args.warmup = 32, 8, 32, 2
        args.rounds, args.sessions, args.scale_sessions = 1, 3, 100
        args.inflight, args.hold_ms, args.fanout, args.fanout_calls = 50, 20, 5, 3
        args.cold_repeats, args.import_repeats = 2, 1
        args.handoff_calls, args.handoff_repeats = 2000, 1
        args.no_plot = args.batch = True
    data = measure(args)
    plot = None if args.no_plot else args.out.with_name("cpu_per_call.png")
    rows = report(data, args.out, plot)
    print(f"wrote {args.out}", file=sys.stderr)
    for row in rows:
        print(f"{'met   ' if row.met else 'MISSED'} | {row.name} | {row.figure}")


if __name__ == "__main__":
    main()
