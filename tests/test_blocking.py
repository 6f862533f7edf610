"""What only the blocking Client must do: threads, running loops, fork, Ctrl-C, and
handlers that block."""

from __future__ import annotations

import asyncio
import contextvars
import importlib.util
import linecache
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from duomcp import Client, _portal
from duomcp._portal import Portal, portal
from duomcp.testing import ReferenceServer, ServerFaults, _session
from duomcp.types import CreateMessageRequestParams, CreateMessageResult, TextContent

from .conftest import ServerThread

ROOT = Path(__file__).resolve().parent.parent


def text_of(result: object) -> str:
    block = result.content[0]  # type: ignore[attr-defined]
    assert isinstance(block, TextContent)
    return block.text


def test_many_threads_share_one_client(server: ReferenceServer) -> None:
    with Client(server.url, timeout=30) as client:

        def worker(n: int) -> list[str]:
            return [text_of(client.call_tool("echo", {"text": f"{n}-{i}"})) for i in range(200)]

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(worker, range(8)))
    for n, texts in enumerate(results):
        assert texts == [f"{n}-{i}" for i in range(200)]
    assert server.tool_runs["echo"] == 1600


def test_call_from_inside_a_running_loop(server: ReferenceServer) -> None:
    async def notebook_cell() -> str:
        with Client(server.url, timeout=10) as client:
            return text_of(client.call_tool("echo", {"text": "in a loop"}))

    assert asyncio.run(notebook_cell()) == "in a loop"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
@pytest.mark.parametrize("parent_open", [False, True], ids=["parent-closed", "parent-open"])
def test_client_works_in_a_forked_child(server: ReferenceServer, parent_open: bool) -> None:
    with Client(server.url, timeout=10) as client:
        assert text_of(client.call_tool("echo", {"text": "parent"})) == "parent"
        if parent_open:  # the loop thread is reading the GET stream while we fork
            wait_for(lambda: any(r.method == "GET" for r in server.requests))
            pid = _fork_and_call(server)
    if not parent_open:
        pid = _fork_and_call(server)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _fork_and_call(server: ReferenceServer) -> int:
    """Fork; the child makes a fresh client on a fresh loop and exits 0 if its call worked."""
    with warnings.catch_warnings():  # the fork-with-threads DeprecationWarning (3.12+)
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            with Client(server.url, timeout=10) as child:
                if text_of(child.call_tool("echo", {"text": "child"})) == "child":
                    code = 0
        finally:
            os._exit(code)
    return pid


def wait_for(predicate: object, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)
    assert predicate(), "condition not met in time"  # type: ignore[operator]


pytestmark = pytest.mark.usefixtures("ctrl_c_raises")

# In asyncio's debug mode (-X dev, PYTHONASYNCIODEBUG) the portal runs the loop the plain
# way, timing each callback: the steps it saves are not saved there.
_NOT_IN_DEBUG_MODE = pytest.mark.skipif(
    sys.flags.dev_mode or bool(os.environ.get("PYTHONASYNCIODEBUG")),
    reason="asyncio's debug mode runs the loop the plain way",
)


# -- who runs the loop ------------------------------------------------------------------


def test_a_lone_caller_runs_the_loop_in_its_own_thread(
    server: ReferenceServer, faults: ServerFaults
) -> None:
    faults.get_stream = False  # nothing for the loop to do between calls
    with Client(server.url, timeout=10) as client:
        client.call_tool("echo", {"text": "warm"})  # the refused GET may still be ending
        driven, handed = portal.driven, portal.handed
        texts = [text_of(client.call_tool("echo", {"text": str(i)})) for i in range(20)]
        assert texts == [str(i) for i in range(20)]
        assert portal.driven - driven == 20
        assert portal.handed == handed


def test_a_call_from_another_thread_wakes_the_sleeping_loop(
    server: ReferenceServer, faults: ServerFaults
) -> None:
    faults.get_stream = False
    with Client(server.url, timeout=10) as client, ThreadPoolExecutor(1) as pool:
        client.call_tool("echo", {"text": "warm"})
        driven = portal.driven
        # This thread runs the loop, which sleeps in select() until the slow reply comes.
        slow = pool.submit(client.call_tool, "slow", {"seconds": 3})
        wait_for(lambda: portal.driven > driven)
        time.sleep(0.2)
        started = time.monotonic()
        assert text_of(client.call_tool("echo", {"text": "meanwhile"})) == "meanwhile"
        assert time.monotonic() - started < 1, "the handed call waited for the slow one"
        assert not slow.done()
        slow.result(10)


@_NOT_IN_DEBUG_MODE
def test_a_driven_calls_first_step_runs_at_once_as_in_a_running_loop() -> None:
    # The first step runs before any turn of the loop, with what run_forever() sets up:
    # the running loop, its task, its async-generator hooks; and all of it undone after.
    hooks_before = sys.get_asyncgen_hooks()
    seen: dict[str, Any] = {}

    async def first_step_only() -> str:
        loop = asyncio.get_running_loop()
        seen["task"] = asyncio.current_task()
        seen["hooks"] = sys.get_asyncgen_hooks()
        seen["expected"] = (loop._asyncgen_firstiter_hook, loop._asyncgen_finalizer_hook)  # type: ignore[attr-defined]

        async def numbers() -> Any:
            yield 1
            yield 2

        seen["first"] = await numbers().__anext__()  # left open: the loop will close it
        return "done"

    async def at_once() -> str:
        return "at once"

    async def one_yield() -> str:
        await asyncio.sleep(0)
        return "second step"

    loop = portal.loop()
    selects = 0
    real_select = loop._selector.select  # type: ignore[attr-defined]

    def counting_select(timeout: float | None = None) -> Any:
        nonlocal selects
        selects += 1
        return real_select(timeout)

    loop._selector.select = counting_select  # type: ignore[attr-defined]
    try:
        assert portal.call(one_yield) == "second step"
        if _portal._EAGER:
            assert selects == 1  # the second step's turn only
        selects = 0
        assert portal.call(at_once) == "at once"
        assert selects == 1  # still one turn: what the loop reads meanwhile is read
        assert portal.call(first_step_only) == "done"
    finally:
        del loop._selector.select  # type: ignore[attr-defined]
    assert seen["task"] is not None
    assert tuple(seen["hooks"]) == seen["expected"]
    assert seen["first"] == 1
    assert sys.get_asyncgen_hooks() == hooks_before
    assert asyncio._get_running_loop() is None


def test_calls_in_a_row_done_at_once_do_not_hold_up_background_reads() -> None:
    received: list[float] = []
    server = socket.create_server(("127.0.0.1", 0))
    peer: list[socket.socket] = []
    accepted = threading.Thread(target=lambda: peer.append(server.accept()[0]))
    accepted.start()

    async def start_reader() -> asyncio.Task[None]:
        reader, writer = await asyncio.open_connection(*server.getsockname())

        async def read() -> None:
            if await reader.read(100):
                received.append(time.monotonic())
            writer.close()

        return asyncio.get_running_loop().create_task(read())

    async def at_once() -> None:
        return None

    task = portal.call(start_reader)
    accepted.join(5)
    sent = 0.0
    deadline = time.monotonic() + 5
    try:
        while not received and time.monotonic() < deadline:  # a program calling in a row
            portal.call(at_once)
            if not sent and time.monotonic() > deadline - 4.9:
                peer[0].sendall(b"news")
                sent = time.monotonic()
        assert received and received[0] - sent < 0.5
    finally:
        peer[0].close()
        server.close()
        portal.call(asyncio.wait_for, task, 5)


@_NOT_IN_DEBUG_MODE
def test_a_driven_call_woken_by_what_it_read_ends_without_another_select() -> None:
    # A call whose task is woken by the reply it was waiting for runs on at once, not
    # after one more select() (a system call and a pass over the loop: it would run first
    # in that turn anyway). Each call still turns the loop at least once.
    p = Portal()
    selects = 0
    selector = p.loop()._selector  # type: ignore[attr-defined]
    select = selector.select

    def counted(timeout: float | None = None) -> Any:
        nonlocal selects
        selects += 1
        return select(timeout)

    selector.select = counted
    server = socket.create_server(("127.0.0.1", 0))
    streams: list[Any] = []

    def echo() -> None:
        peer = server.accept()[0]
        with peer:
            data = peer.recv(100)
            while data:
                peer.sendall(data)
                data = peer.recv(100)

    echoing = threading.Thread(target=echo, daemon=True)
    echoing.start()

    async def connect() -> None:
        streams.extend(await asyncio.open_connection(*server.getsockname()))

    async def ask(i: int) -> bytes:
        reader, writer = streams
        writer.write(b"%d\n" % i)
        return await reader.readline()  # type: ignore[no-any-return]

    async def close() -> None:
        streams[1].close()
        await streams[1].wait_closed()

    try:
        p.call(connect)
        before = selects
        for i in range(50):
            assert p.call(ask, i) == b"%d\n" % i
        assert 50 <= selects - before <= 60  # one a call (two before)
    finally:
        if streams:
            p.call(close)
        echoing.join(5)
        server.close()
        p.loop().close()


def test_a_driven_call_that_keeps_yielding_lets_timers_and_reads_run() -> None:
    # Running a woken task at once never starves the loop: I/O and timers due are looked
    # at every other step at least, as a call that yields again and again shows.
    p = Portal()
    fired: list[float] = []

    async def spin() -> int:
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, lambda: fired.append(loop.time()))
        started, steps = loop.time(), 0
        while loop.time() - started < 0.2:
            await asyncio.sleep(0)
            steps += 1
        return steps

    try:
        assert p.call(spin) > 100
        assert fired, "a timer due during the call never ran"
    finally:
        p.loop().close()


def test_a_timer_due_runs_before_what_the_callbacks_run_at_once_schedule() -> None:
    # Callbacks a turn leaves run at once unless a timer is due: it would run in the next
    # turn before anything those callbacks schedule, as in asyncio.run.
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        order: list[str] = []

        def kick() -> None:
            loop.call_later(0, order.append, "timer")  # due at once
            loop.call_soon(lambda: (order.append("B"), loop.call_soon(order.append, "C")))

        loop.call_soon(kick)
        await asyncio.sleep(0.02)
        return order

    expected = asyncio.run(scenario())
    assert expected == ["B", "timer", "C"]
    p = Portal()
    try:
        assert p.call(scenario) == expected
    finally:
        p.loop().close()


class _ForeignLoop(asyncio.AbstractEventLoop):
    """An event loop that is not asyncio's own (a policy's on Windows: winloop's, say):
    none of BaseEventLoop's private attributes, its methods those of a loop it wraps."""

    def __init__(self) -> None:
        self._wrapped = asyncio.new_event_loop()

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_") and not name.startswith("__") and name != "_wrapped":
            raise AttributeError(name)
        return object.__getattribute__(self, name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._wrapped, name)


def _delegated(name: str) -> Callable[..., Any]:
    return lambda self, *args, **kwargs: getattr(self._wrapped, name)(*args, **kwargs)


for _name in ("run_forever", "stop", "create_task", "call_soon", "call_soon_threadsafe",
              "call_at", "call_later", "time", "get_debug", "is_closed", "is_running",
              "create_future", "close", "get_task_factory"):  # fmt: skip
    setattr(_ForeignLoop, _name, _delegated(_name))


def test_a_loop_that_is_not_asyncios_own_runs_calls_the_plain_way() -> None:
    class Foreign(Portal):
        def _make_loop(self) -> asyncio.AbstractEventLoop:
            self._inbox_ok = False
            return _ForeignLoop()

    p = Foreign()
    p.loop()
    assert not p._direct_ok  # told apart from asyncio's own

    async def hello() -> str:
        await asyncio.sleep(0)
        return "ok"

    async def handed() -> str:  # a loop runs in this thread: the call goes to the daemon's
        return p.call(hello)

    try:
        assert p.call(hello) == "ok"  # driven
        assert asyncio.run(handed()) == "ok"
        assert p.handed == 1
    finally:
        p.loop().close()


def test_a_callback_queued_before_a_driven_call_still_runs_first() -> None:
    order: list[str] = []

    async def call() -> None:
        order.append("call")

    loop = portal.loop()
    loop.call_soon_threadsafe(order.append, "queued")  # no one runs the loop now
    portal.call(call)
    assert order == ["queued", "call"]


def test_a_call_that_fails_to_start_leaves_the_loop_free() -> None:
    async def one(x: int) -> int:
        return x

    with pytest.raises(TypeError):
        portal.call(one)  # the coroutine cannot even be made
    assert portal._runner is None
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(portal.call, one, 7).result(5) == 7


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery differs on Windows")
def test_ctrl_c_reaches_the_main_threads_call_not_anothers() -> None:
    async def main_call() -> str:
        await asyncio.sleep(5)
        return "main finished"

    async def busy_call() -> str:  # Python work on the loop while Ctrl-C comes
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            pass
        return "worker finished"

    with ThreadPoolExecutor(1) as pool:

        def worker() -> str:
            time.sleep(0.2)  # the main thread runs the loop by now
            return portal.call(busy_call)

        other = pool.submit(worker)
        threading.Timer(0.6, os.kill, (os.getpid(), signal.SIGINT)).start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            portal.call(main_call)
        assert time.monotonic() - started < 3
        assert other.result(5) == "worker finished"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery differs on Windows")
@pytest.mark.parametrize("handling", ["own-handler", "ignored"])
def test_a_programs_own_ctrl_c_handling_is_left_alone(
    handling: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A program that handles SIGINT itself, or ignores it, keeps doing so during a call:
    # the portal never swaps that handler out, not even for a moment, and a SIGINT during
    # the call reaches the program's handler (or nobody), not the call.
    p = Portal()
    seen: list[int] = []

    def own_handler(signum: int, frame: object) -> None:
        seen.append(signum)

    own: Any = own_handler if handling == "own-handler" else signal.SIG_IGN
    swaps: list[object] = []
    real_set = _portal._set_handler

    def recording_set(signum: int, handler: object) -> object:
        swaps.append(handler)
        return real_set(signum, handler)

    monkeypatch.setattr(_portal, "_set_handler", recording_set)

    async def signalled_midway() -> str:
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(0.05)  # Python runs signal handlers between bytecodes
        return "finished"

    previous = signal.signal(signal.SIGINT, own)
    try:
        assert p.call(signalled_midway) == "finished"
        assert signal.getsignal(signal.SIGINT) == own
    finally:
        signal.signal(signal.SIGINT, previous)
    assert swaps == []
    assert seen == ([signal.SIGINT] if handling == "own-handler" else [])
    # With Python's own handler in, the call puts its handler in and takes it out again.
    assert p.call(asyncio.sleep, 0) is None
    assert len(swaps) == 2 and swaps[1] is signal.default_int_handler
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    p.loop().close()


_EMBEDDER = r"""
#include <Python.h>
#include <signal.h>
#include <stdio.h>

static volatile sig_atomic_t seen = 0;
static void on_int(int sig) { (void)sig; seen++; }

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    signal(SIGINT, on_int);  /* the host program handles Ctrl-C itself, in C */
    Py_Initialize();
    int rc = PyRun_SimpleString(argv[1]);
    if (Py_FinalizeEx() < 0) rc = 3;
    printf("C handler saw %d\n", (int)seen);
    return rc == 0 ? 0 : 1;
}
"""


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX C embedder")
def test_a_ctrl_c_handler_set_in_c_by_an_embedding_program_is_left_alone(
    tmp_path: Path,
) -> None:
    # A program embedding Python with its own C handler for SIGINT: Python leaves it in
    # and signal.getsignal() says None. Calls work, SIGINT during them reaches the C
    # handler, and the handler is still there after.
    compiler = shutil.which("cc") or shutil.which("gcc")
    libdir = sysconfig.get_config_var("LIBDIR")
    if compiler is None or not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        pytest.skip("needs a C compiler and a shared libpython")
    source = tmp_path / "embed.c"
    source.write_text(_EMBEDDER)
    binary = tmp_path / "embed"
    version = sysconfig.get_config_var("LDVERSION") or sysconfig.get_python_version()
    subprocess.run(
        [
            compiler,
            str(source),
            f"-I{sysconfig.get_paths()['include']}",
            f"-L{libdir}",
            f"-Wl,-rpath,{libdir}",
            f"-lpython{version}",
            "-o",
            str(binary),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    code = """if True:
        import asyncio, os, signal
        from duomcp._portal import portal
        assert signal.getsignal(signal.SIGINT) is None, signal.getsignal(signal.SIGINT)

        async def signalled_midway():
            os.kill(os.getpid(), signal.SIGINT)
            await asyncio.sleep(0.05)
            return "finished"

        print(portal.call(signalled_midway), portal.call(signalled_midway))
        assert signal.getsignal(signal.SIGINT) is None
        """
    paths = [str(ROOT / "src"), *sys.path]
    done = subprocess.run(
        [str(binary), code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == [*"finished finished".split(), "C", "handler", "saw", "2"]


@pytest.mark.skipif(
    sys.version_info >= (3, 13) or importlib.util.find_spec("_xxsubinterpreters") is None,
    reason="_xxsubinterpreters as in Python 3.11 and 3.12",
)
def test_calls_work_in_a_subinterpreters_main_thread(tmp_path: Path) -> None:
    # There, signal.signal raises ValueError: a call runs without a Ctrl-C handler.
    out = tmp_path / "out"
    inner = f"""if True:
        import asyncio, signal, sys, threading
        sys.path.insert(0, {str(ROOT / "src")!r})
        from duomcp._portal import portal

        async def answer():
            await asyncio.sleep(0.01)
            return threading.current_thread() is threading.main_thread()

        with open({str(out)!r}, "w") as f:
            f.write(repr([portal.call(answer), portal.call(answer)]))
        """
    code = f"""if True:
        import _xxsubinterpreters as interpreters
        interp = interpreters.create()
        interpreters.run_string(interp, {inner!r})
        interpreters.destroy(interp)
        """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "[True, True]"  # driven by the subinterpreter's main thread


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT handling differs on Windows")
def test_a_ctrl_c_handler_the_call_itself_sets_stays() -> None:
    # Code a driven call runs in the main thread (the coroutine, an async callback) may
    # set a SIGINT handler of its own: the call's end puts Python's back only in place
    # of the call's own.
    p = Portal()

    def own_handler(signum: int, frame: object) -> None:
        pass

    async def sets_its_own() -> None:
        signal.signal(signal.SIGINT, own_handler)

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    try:
        p.call(sets_its_own)
        assert signal.getsignal(signal.SIGINT) is own_handler
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    p.loop().close()


def test_a_handed_call_runs_with_its_callers_context_variables() -> None:
    # A call handed to the thread running the loop sees the context variables of the
    # thread that made it, as a call running the loop itself does: not those of the
    # thread that happens to run the loop (a user callback's, say).
    p = Portal()
    where: contextvars.ContextVar[str] = contextvars.ContextVar("where", default="unset")
    holding = threading.Event()

    async def hold() -> None:
        holding.set()
        await asyncio.sleep(0.3)

    async def probe() -> str:
        return where.get()

    def run_the_loop() -> None:
        where.set("the thread running the loop")
        p.call(hold)

    def call_from(value: str) -> tuple[str, int]:
        where.set(value)
        handed = p.handed
        return p.call(probe), p.handed - handed

    thread = threading.Thread(target=run_the_loop)
    thread.start()
    assert holding.wait(5)
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(call_from, "the caller").result(5) == ("the caller", 1)
    thread.join(5)
    assert call_from("a driven caller") == ("a driven caller", 0)
    p.loop().close()


def test_calls_from_threads_carry_their_own_trace_context(server: ReferenceServer) -> None:
    # A trace_context hook reads the calling thread's context variables (OpenTelemetry
    # keeps the current span in one), also in a call handed to the thread running the
    # loop, which has context variables of its own.
    def traceparent(n: int) -> str:
        return f"00-{n:032x}-{n:016x}-01"

    outside = traceparent(99)  # the connection's own requests, made outside any thread's
    span: contextvars.ContextVar[str] = contextvars.ContextVar("span", default=outside)
    handed = portal.handed
    with Client(
        server.url, timeout=10, trace_context=lambda: {"traceparent": span.get()}
    ) as client:

        def worker(n: int) -> None:
            span.set(traceparent(n + 1))
            for i in range(10):
                client.call_tool("echo", {"text": f"{n}-{i}"})

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(worker, range(8)))
    assert portal.handed > handed  # calls were handed, not only run in their own thread
    calls = [
        r.body
        for r in server.requests
        if r.method == "POST" and isinstance(r.body, dict) and r.body.get("method") == "tools/call"
    ]
    assert len(calls) == 80
    for body in calls:
        n = int(body["params"]["arguments"]["text"].split("-")[0])
        assert body["params"]["_meta"]["traceparent"] == traceparent(n + 1)


def test_an_open_stream_keeps_running_between_calls(
    server_thread: ServerThread, server: ReferenceServer
) -> None:
    changed = threading.Event()
    with Client(server.url, timeout=10, on_tools_changed=changed.set) as client:
        wait_for(lambda: any(r.method == "GET" for r in server.requests))
        # No call is in flight: the daemon thread must be reading the GET stream.
        wait_for(lambda: portal._runner is portal._thread)
        server_thread.run(server.notify("notifications/tools/list_changed"))
        assert changed.wait(5), "the notification did not arrive between calls"
        handed = portal.handed
        assert text_of(client.call_tool("echo", {"text": "x"})) == "x"
        assert portal.handed > handed, "the daemon thread ran the loop: the call is handed"
        # Calls in a row run the loop in the caller's thread: no thread hop each...
        driven = portal.driven
        for i in range(20):
            assert text_of(client.call_tool("echo", {"text": str(i)})) == str(i)
        assert portal.driven > driven
        # ... and once the caller leaves the loop, the daemon thread takes it back.
        wait_for(lambda: portal._runner is portal._thread)
        changed.clear()
        server_thread.run(server.notify("notifications/tools/list_changed"))
        assert changed.wait(5), "the notification did not arrive after calls in a row"
    # Closed: nothing is left to run, so the daemon thread gives the loop back.
    wait_for(lambda: portal._runner is None)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery differs on Windows")
@pytest.mark.parametrize("get_stream", [True, False], ids=["handed", "driven"])
def test_ctrl_c_cancels_the_call_on_the_server(
    server: ReferenceServer, faults: ServerFaults, get_stream: bool
) -> None:
    faults.get_stream = get_stream
    with Client(server.url, timeout=30) as client:
        client.call_tool("echo", {"text": "warm"})
        if get_stream:  # the daemon thread takes the loop back after the call
            wait_for(lambda: portal._runner is portal._thread)
        driven = portal.driven
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            client.call_tool("slow", {"seconds": 10})
        assert time.monotonic() - started < 5
        deadline = time.monotonic() + 5
        while not server.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(server.cancelled) == 1
        assert text_of(client.call_tool("echo", {"text": "still usable"})) == "still usable"
        assert (portal.driven > driven) is not get_stream


def test_blocking_sampling_handler_does_not_stall_other_calls(server: ReferenceServer) -> None:
    release = threading.Event()

    def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
        release.wait(10)  # a person thinking: blocks its worker thread only
        return CreateMessageResult(role="assistant", content=TextContent(text="done"), model="m")

    with Client(server.url, timeout=30, sampling_handler=sample) as client:
        with ThreadPoolExecutor(1) as pool:
            sampled = pool.submit(client.call_tool, "sample", {"prompt": "slow"})
            time.sleep(0.2)
            started = time.monotonic()
            assert text_of(client.call_tool("echo", {"text": "meanwhile"})) == "meanwhile"
            assert time.monotonic() - started < 2
            assert not sampled.done()
            release.set()
            assert "done" in text_of(sampled.result(10))


def test_a_handler_given_up_on_does_not_hold_up_the_next(
    server: ReferenceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One handler at a time: two threads. The server waits 0.3 s for each sampling answer,
    # then cancels its request; the handler, a plain function, runs on (no thread can be
    # stopped): it must stop counting, or the third request waits behind the first two.
    monkeypatch.setattr(_session, "CLIENT_REPLY_TIMEOUT", 0.3)
    release = threading.Event()
    stuck: list[str] = []

    def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
        if "stuck" in str(params.messages[0].content):
            stuck.append(threading.current_thread().name)
            release.wait(30)
        return CreateMessageResult(role="assistant", content=TextContent(text="done"), model="m")

    try:
        with Client(
            server.url, timeout=30, sampling_handler=sample, max_concurrent_handlers=1
        ) as client:
            for _ in range(3):
                result = client.call_tool("sample", {"prompt": "stuck"})
                assert result.is_error and "did not answer" in text_of(result)
            assert len(stuck) == 3  # each given-up handler was running, on its own thread
            assert len(set(stuck)) == 3
            result = client.call_tool("sample", {"prompt": "quick"})
            assert not result.is_error and "done" in text_of(result)
    finally:
        release.set()


def test_unclosed_client_warns(server: ReferenceServer) -> None:
    client = Client(server.url, timeout=10)
    client.connect()
    engine = client._engine
    with pytest.warns(ResourceWarning, match="unclosed"):
        client.__del__()
    engine.close()


def test_handlers_run_on_the_clients_own_threads_and_async_ones_are_awaited(
    server: ReferenceServer,
) -> None:
    threads: list[str] = []

    def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
        threads.append(threading.current_thread().name)
        return CreateMessageResult(role="assistant", content=TextContent(text="plain"), model="m")

    async def sample_async(params: CreateMessageRequestParams) -> CreateMessageResult:
        await asyncio.sleep(0)
        return CreateMessageResult(role="assistant", content=TextContent(text="awaited"), model="m")

    with Client(server.url, timeout=10, sampling_handler=sample) as client:
        assert "plain" in str(client.call_tool("sample", {"prompt": "x"}).content)
    # Never the loop's default executor (aiohttp's DNS needs it): a pool of the client's.
    assert threads and all(name.startswith("duomcp-handler") for name in threads)
    with Client(server.url, timeout=10, sampling_handler=sample_async) as client:  # type: ignore[arg-type]
        result = client.call_tool("sample", {"prompt": "x"})
    assert not result.is_error and "awaited" in str(result.content)


def test_the_portals_look_for_unfinished_tasks_agrees_with_asyncio() -> None:
    from duomcp._portal import _unfinished

    async def main() -> None:
        loop = asyncio.get_running_loop()
        waiting = [loop.create_task(asyncio.sleep(10)) for _ in range(3)]
        await loop.create_task(asyncio.sleep(0))  # finished: never found
        try:
            for _ in range(3):
                assert _unfinished(loop) in asyncio.all_tasks(loop)  # main() is one
                assert len(asyncio.all_tasks(loop)) == 1 + sum(not t.done() for t in waiting)
                next(t for t in waiting if not t.done()).cancel()
                await asyncio.sleep(0)
        finally:
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)

    asyncio.run(main())
    other = asyncio.new_event_loop()
    try:
        assert _unfinished(other) is None  # the tasks of another loop are not found
    finally:
        other.close()


def test_a_loop_left_with_background_work_is_seen_as_such_after_its_task_ends() -> None:
    # The portal remembers the unfinished task it found last; once that one ends, it
    # looks again: another unfinished task still counts, none left means no background.
    p = Portal()
    stops = [asyncio.Event(), asyncio.Event()]

    async def start() -> list[asyncio.Task[None]]:
        loop = asyncio.get_running_loop()
        return [loop.create_task(stop.wait()) for stop in stops]

    async def end(i: int) -> None:
        stops[i].set()
        await asyncio.sleep(0)

    tasks = p.call(start)
    p.call(asyncio.sleep, 0)
    assert p._background and p._working() in tasks
    p.call(end, tasks.index(p._working()))  # the task remembered ends
    assert p._background and p._working() in tasks and not p._working().done()
    p.call(end, tasks.index(p._working()))  # the other one too
    assert not p._background and p._working() is None


def _background_ticks(p: Portal) -> tuple[list[float], asyncio.Task[None]]:
    """Start a task on ``p``'s loop that notes the time every 5 ms (background work that
    runs Python code, as a stream's reader does); return its notes and the task."""
    ticks: list[float] = []

    async def tick() -> None:
        while True:
            sum(range(100_000))  # some Python work (about 1 ms), where a Ctrl-C may land
            ticks.append(time.monotonic())
            await asyncio.sleep(0.005)

    async def start() -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(tick())

    return ticks, p.call(start)


def _stop(p: Portal, task: asyncio.Task[None]) -> None:
    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    p.call(stop)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery differs on Windows")
# Signals come here at any bytecode, also inside asyncio's own create_task between a
# coroutine's making and its task's: a coroutine never awaited is then reported (a warning;
# nothing else is lost). What must never happen is checked below.
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_ctrl_c_during_calls_in_a_row_leaves_background_work_running() -> None:
    # Calls in a row run the loop in the main thread even when it has background work:
    # a Ctrl-C must cancel the call, never land in the background work.
    p = Portal()
    ticks, task = _background_ticks(p)

    async def short() -> None:
        await asyncio.sleep(0.001)

    try:
        for delay in [0.003 * i for i in range(1, 21)]:
            # From another process: a thread of this one would send it only where the GIL
            # is free, which is seldom while the background work runs Python code.
            kill = subprocess.Popen(["/bin/sh", "-c", f"sleep {delay}; kill -INT {os.getpid()}"])
            try:
                deadline = time.monotonic() + 5
                with pytest.raises(KeyboardInterrupt):
                    while time.monotonic() < deadline:
                        p.call(short)
            finally:
                kill.kill()  # a no-op once it has sent the signal
                kill.wait(5)
            assert not task.done(), f"Ctrl-C after {delay} s ended the background work"
        assert p.driven > p.handed
        seen = len(ticks)
        time.sleep(0.2)  # nobody calls: the daemon thread runs the background work
        assert len(ticks) > seen
    finally:
        _stop(p, task)


class _CountedWaits(threading.Condition):
    """A condition that counts its waits: the daemon thread's looks at the loop."""

    waits = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        return super().wait(timeout)


def test_calls_in_a_row_have_the_daemon_thread_look_less_often_and_still_take_over() -> None:
    # While a caller runs a loop that has background work, the daemon thread looks now and
    # then whether the caller has left it. Each look costs the caller (the two fight over
    # the GIL for up to 5 ms: about one more context switch per call when it looked every
    # 5 ms), so while calls come in a row it looks less often, at most every 0.1 s; once
    # they stop, it still takes the background work over within about that.
    p = Portal()
    p._wake = looks = _CountedWaits(p._lock)
    ticks, task = _background_ticks(p)

    async def at_once() -> None:
        return None

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # the daemon thread gives the loop back soon (see below)
    try:
        time.sleep(0.05)
        before = looks.waits
        started = time.monotonic()
        while time.monotonic() - started < 0.6:
            p.call(at_once)
        stopped, seen, row = time.monotonic(), len(ticks), looks.waits - before
        assert row < 30, f"{row} looks over 0.6 s of calls (every 5 ms would be 120)"
        wait_for(lambda: len(ticks) > seen)
        assert ticks[seen] - stopped < 0.2, "background work held up after the calls"
        assert p.driven > p.handed
        # One call, however long, is no row of calls: the work goes on soon after it.
        for _ in range(50):  # until the long call runs the loop itself
            time.sleep(0.05)  # the daemon thread runs the loop, and the next call with it
            p.call(at_once)  # then gives it back: a call within 5 ms runs it itself
            deadline = time.monotonic() + 0.005
            while p._runner is not None and time.monotonic() < deadline:
                pass
            driven = p.driven
            p.call(asyncio.sleep, 0.3)
            stopped, seen = time.monotonic(), len(ticks)
            if p.driven == driven + 1:
                break
        else:
            raise AssertionError("the long call never ran the loop itself")
        wait_for(lambda: len(ticks) > seen)
        assert ticks[seen] - stopped < 0.03, "background work held up after one long call"
    finally:
        sys.setswitchinterval(interval)
        _stop(p, task)


def test_background_work_outlives_a_daemon_thread_that_died() -> None:
    p = Portal()
    ticks, task = _background_ticks(p)
    died: list[BaseException | None] = []

    async def end_the_thread() -> None:
        await asyncio.sleep(0.05)
        raise SystemExit  # out of run_forever, in the daemon thread

    async def start() -> None:
        asyncio.get_running_loop().create_task(end_the_thread())

    old_hook = threading.excepthook
    threading.excepthook = lambda args: died.append(args.exc_value)
    try:
        p.call(start)
        wait_for(lambda: died)
        assert isinstance(died[0], SystemExit)
        time.sleep(0.1)
        seen = len(ticks)
        time.sleep(0.2)  # a new daemon thread took the loop
        assert len(ticks) > seen + 5
    finally:
        threading.excepthook = old_hook
        _stop(p, task)


def _is_with(filename: str, line: int) -> bool:
    return linecache.getline(filename, line).lstrip().startswith("with ")


def _interrupt_at_line(k: int) -> Callable[[FrameType, str, object], object]:
    """A trace function that raises KeyboardInterrupt at the k-th line the main thread runs
    in ``_MAIN_THREAD_CODE`` while Python's own SIGINT handler is in, as a signal would
    there."""
    lines = 0

    def on_call(frame: FrameType, event: str, arg: object) -> object:
        if frame.f_code not in _MAIN_THREAD_CODE:
            return None
        seen: set[int] = set()

        def at_line(frame: FrameType, event: str, arg: object) -> object:
            nonlocal lines
            if event != "line":
                return at_line
            line = frame.f_lineno
            if line in seen and _is_with(frame.f_code.co_filename, line):
                # A with block's exit: CPython looks for signals only once the lock's
                # __exit__ has run, the trace function is called before it.
                return at_line
            seen.add(line)
            if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
                return at_line  # our handler is in: a Ctrl-C cancels the call, raises nothing
            if lines == k:
                raise KeyboardInterrupt
            lines += 1
            return at_line

        return at_line

    return on_call


_MAIN_THREAD_CODE = {
    f.__code__
    for f in (
        Portal.call,
        Portal._drive,
        Portal._release,
        Portal._left,
        Portal._orphan,
        Portal._hand_over,
        Portal._thread_for_loop,
    )
}


@pytest.mark.parametrize("background", [False, True], ids=["idle", "background"])
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_a_ctrl_c_at_any_line_of_a_call_leaves_the_portal_working(background: bool) -> None:
    # A signal's KeyboardInterrupt is raised between any two lines the main thread runs.
    # Raise one (and only one: an error in a trace function ends tracing) at the k-th line
    # the portal's own code runs for a call, for every k; after each, calls from another
    # thread and from this one still finish, and background work still runs when nobody
    # calls. The loop's own code is left out: a Ctrl-C there cancels the call (tests above).
    p = Portal()
    ticks, task = _background_ticks(p) if background else ([], None)

    async def short() -> None:
        await asyncio.sleep(0.001)

    def call_from_another_thread() -> None:
        done = threading.Event()
        thread = threading.Thread(target=lambda: (p.call(short), done.set()), daemon=True)
        thread.start()
        assert done.wait(5), "a call from another thread hangs"

    def portal_threads() -> int:
        return sum(t.name == "duomcp-portal" for t in threading.enumerate())

    others = portal_threads() - (p._thread is not None)  # those of other portals
    interrupted_at = 0
    try:
        for k in range(1000):
            for _ in range(50):  # until the call drives (the daemon may hold the loop)
                handed = p.handed
                started = time.monotonic()
                sys.settrace(_interrupt_at_line(k))
                try:
                    p.call(short)
                except KeyboardInterrupt:
                    interrupted = True
                else:
                    interrupted = False
                finally:
                    sys.settrace(None)
                assert time.monotonic() - started < 1, f"Ctrl-C at line {k} took long"
                if p.handed == handed:
                    break
            else:
                raise AssertionError("the loop was never free for a call to drive")
            if not interrupted:
                break  # k is past the call's last line
            interrupted_at += 1
            assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
            if task is not None:
                assert not task.done()
                seen = len(ticks)
                time.sleep(0.03)  # nobody calls: the daemon thread runs the background work
                assert len(ticks) > seen, f"background work stopped after line {k}"
            call_from_another_thread()
            p.call(short)
            wait_for(lambda: p._pending == 0)
            assert portal_threads() <= others + 1, f"two daemon threads after line {k}"
        else:
            raise AssertionError("a call runs more than 1,000 lines of the portal")
        assert interrupted_at > 30  # the trace saw the call's lines (34 in both now)
    finally:
        if task is not None:
            _stop(p, task)


def test_a_call_from_code_the_loops_runner_runs_outside_the_loop_is_refused() -> None:
    # A finalizer or a signal handler may run in the thread that holds the loop, between
    # two of its steps outside the loop (here: as _drive makes its task). Its blocking call
    # can neither wait for that thread nor run the loop beside it: it is refused at once.
    p = Portal()
    p.call(asyncio.sleep, 0)
    refused: list[BaseException] = []

    async def outer() -> str:
        await asyncio.sleep(0.05)
        return "outer"

    def nested_call(frame: FrameType, event: str, arg: object) -> object:
        if frame.f_code is not Portal._drive.__code__:
            return None

        def at_line(frame: FrameType, event: str, arg: object) -> object:
            if event == "line" and not refused:
                try:
                    p.call(asyncio.sleep, 0)
                except RuntimeError as exc:
                    refused.append(exc)
            return at_line

        return at_line

    sys.settrace(nested_call)
    try:
        assert p.call(outer) == "outer"
    finally:
        sys.settrace(None)
    assert refused and "finalizer" in str(refused[0])
    done = threading.Event()
    threading.Thread(target=lambda: (p.call(asyncio.sleep, 0), done.set()), daemon=True).start()
    assert done.wait(5)
    assert p._pending == 0
    p.loop().close()  # nobody runs it: no background work
