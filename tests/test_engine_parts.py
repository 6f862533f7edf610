"""The engine's parts, each on its own: era memory, the tool registry's resend rule, the
paginator, the responder's cap and its silence about handler errors, inbound routing of
repeated request ids, the correlator's clock during a sign-in, and the version string."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import logging
import sys
import threading
import time
from typing import Any

import attrs
import pytest

import duomcp
from duomcp import AsyncClient, EraMemory, ProtocolError
from duomcp._timeouts import wait_for
from duomcp.connection import ConnectionState
from duomcp.engine import Handlers
from duomcp.engine._correlation import Correlator
from duomcp.engine._inbound import Inbound
from duomcp.engine._negotiation import Negotiated
from duomcp.engine._responder import Responder
from duomcp.engine._tools import ToolRegistry
from duomcp.errors import JSONRPCError, RequestTimeoutError
from duomcp.testing import ReferenceServer
from duomcp.transports._http import HTTPOptions
from duomcp.types import CreateMessageRequestParams, CreateMessageResult


class Recorder:
    """A transport that records what is posted and never answers (a silent server)."""

    def __init__(self, state: ConnectionState) -> None:
        self.state = state
        self.options = HTTPOptions()
        self.probe_timeout = None
        self.remembers_era = True
        self.generation = 0
        self.posted: list[dict[str, Any]] = []

    def cancels_requests(self, era: str | None) -> bool:
        return True

    async def post(
        self,
        message: dict[str, Any],
        *,
        request_id: Any = None,
        initialize: bool = False,
        response: Any = None,
    ) -> None:
        self.posted.append(message)
        if request_id is not None:
            await asyncio.Event().wait()

    async def listen(self, opened: Any = None) -> None:
        return None

    async def delete_session(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def revive(self, generation: int) -> bool:
        return False

    def fallback(self) -> None:
        return None


def parts(**options: Any) -> tuple[ConnectionState, Recorder, Correlator]:
    state = ConnectionState(endpoint="http://127.0.0.1:1/mcp")
    state.era = "legacy"
    transport = Recorder(state)
    correlator = Correlator(
        state, transport, timeout=5.0, max_timeout=None, progress_resets_timeout=True, **options
    )
    return state, transport, correlator


# -- versions and era memory ------------------------------------------------------------


def test_one_version_string() -> None:
    assert duomcp.__version__ == importlib.metadata.version("duomcp")


async def test_client_info_carries_the_package_version(server: ReferenceServer) -> None:
    async with AsyncClient(server.url, timeout=10) as client:
        await client.ping()
    init = next(r.body for r in server.requests if r.body and r.body.get("method") == "initialize")
    assert init["params"]["clientInfo"] == {"name": "duomcp", "version": duomcp.__version__}


async def test_era_memory_is_injectable(server: ReferenceServer) -> None:
    def probes() -> int:
        return sum(
            1 for r in server.requests if r.body and r.body.get("method") == "server/discover"
        )

    mine = EraMemory()
    for _ in range(2):  # the second client shares the first one's memory: no probe
        async with AsyncClient(server.url, timeout=10, era_memory=mine) as client:
            await client.ping()
    assert probes() == 1 and mine.era_of(server.url) == "legacy"
    async with AsyncClient(server.url, timeout=10, era_memory=EraMemory()) as client:
        await client.ping()  # a memory of its own knows nothing: it probes
    assert probes() == 2


def test_negotiated_is_immutable() -> None:
    negotiated = Negotiated("legacy", "2025-11-25")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        negotiated.era = "modern"  # type: ignore[misc]


# -- tools and pages --------------------------------------------------------------------


def test_only_reads_and_idempotent_tools_may_be_sent_again() -> None:
    state = ConnectionState(endpoint="http://127.0.0.1:1/mcp")
    tools = ToolRegistry(state)
    tools.accept(
        [
            {"name": "add", "annotations": {"idempotentHint": True}},
            {"name": "delete", "annotations": {"idempotentHint": False}},
            {"name": "echo"},
        ]
    )
    assert tools.may_resend("tools/list", None)
    assert tools.may_resend("resources/read", {"uri": "mem://x"})
    assert tools.may_resend("tools/call", {"name": "add"})
    assert not tools.may_resend("tools/call", {"name": "delete"})
    assert not tools.may_resend("tools/call", {"name": "echo"})
    assert not tools.may_resend("tools/call", {"name": "unknown"})
    assert not tools.may_resend("vendor/launch", None)  # not known to be a read
    tools.forget_schemas()  # the list changed: idempotence is learnt again
    assert not tools.may_resend("tools/call", {"name": "add"})


async def test_one_paginator_honours_max_pages(server: ReferenceServer) -> None:
    async with AsyncClient(server.url, timeout=10, max_pages=1) as client:
        with pytest.raises(ProtocolError, match="more than 1 pages"):
            await client.list_tools()  # the reference server lists 3 tools a page
        pages = []
        async for page in client._engine.pages("prompts/list"):
            pages.append(page)
        assert len(pages) == 1


# -- the responder ----------------------------------------------------------------------


async def test_a_handler_error_reaches_the_server_without_its_text(
    server: ReferenceServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
        raise RuntimeError("model down; api_key=sk-live-123")

    caplog.set_level(logging.ERROR, logger="duomcp")
    async with AsyncClient(server.url, timeout=10, sampling_handler=sample) as client:
        assert (await client.call_tool("sample", {"prompt": "x"})).is_error
    sent = json.dumps([r.body for r in server.requests])
    assert "sk-live-123" not in sent
    assert "the client's handler failed" in sent
    assert "sk-live-123" in caplog.text  # the user's log has it


async def test_the_responder_runs_at_most_its_cap() -> None:
    running = peak = 0

    async def roots() -> list[Any]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001)
        running -= 1
        return []

    responder = Responder(Handlers(roots=roots), max_concurrent=3)
    answers = await asyncio.gather(*(responder.serve("roots/list", {}) for _ in range(100)))
    assert answers == [{"roots": []}] * 100 and peak == 3
    with pytest.raises(ValueError):
        Responder(Handlers(), max_concurrent=0)
    with pytest.raises(JSONRPCError) as refused:
        await responder.serve("sampling/createMessage", {})
    assert refused.value.code == -32601


# -- inbound routing --------------------------------------------------------------------


async def test_a_repeated_server_request_id_is_refused_not_replaced() -> None:
    release = asyncio.Event()

    async def roots() -> list[Any]:
        await release.wait()
        return []

    state, transport, correlator = parts()
    inbound = Inbound(state, correlator, Responder(Handlers(roots=roots)), invalidate=print)
    request = {"jsonrpc": "2.0", "id": 7, "method": "roots/list"}
    inbound.dispatch(dict(request))
    inbound.dispatch(dict(request))  # same id while the first is in progress
    await asyncio.sleep(0.05)
    assert transport.posted == [
        {
            "jsonrpc": "2.0",
            "id": 7,
            "error": {"code": -32600, "message": "a request with this id is already in progress"},
        }
    ]
    release.set()
    await asyncio.sleep(0.05)
    assert transport.posted[1] == {"jsonrpc": "2.0", "id": 7, "result": {"roots": []}}
    await correlator.close()


# -- the correlator ---------------------------------------------------------------------


async def test_sign_in_time_does_not_count_against_a_call() -> None:
    state, _, correlator = parts()
    loop = asyncio.get_running_loop()
    started = loop.time()
    call = asyncio.ensure_future(correlator.roundtrip("tools/call", {}, 0.2, None))
    with state.signing_in():  # a person signs in for 0.5 s, longer than the timeout
        await asyncio.sleep(0.5)
    assert not call.done()
    with pytest.raises(RequestTimeoutError):
        await call
    elapsed = loop.time() - started
    assert 0.65 <= elapsed < 1.5  # 0.2 s of the call's own time, plus the sign-in
    await correlator.close()


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_concurrent_first_calls_list_the_tools_once(era: str) -> None:
    from duomcp.testing import ServerFaults

    from .conftest import ServerThread

    def listed(server: ReferenceServer) -> int:
        return sum(1 for r in server.requests if r.body and r.body.get("method") == "tools/list")

    with ServerThread.running(ServerFaults(), era=era) as st:
        async with AsyncClient(st.server.url, timeout=10, cache=False) as client:
            results = await asyncio.gather(
                *(client.call_tool("add", {"a": i, "b": 1}) for i in range(20))
            )
            assert [r.structured_content for r in results] == [{"result": i + 1} for i in range(20)]
            first = listed(st.server)
            await client.list_tools()
            assert listed(st.server) == 2 * first  # twenty calls cost one walk of the pages


@pytest.mark.parametrize("order", ["caller-first", "timeout-first"])
async def test_a_callers_cancel_in_the_turn_of_a_timeout_is_not_lost(order: str) -> None:
    """The caller's task posts its request itself, and a timeout cancels it there: a
    cancellation of the caller's own in the same loop turn must still be raised (and the
    task left cancelled, on Python 3.11+ where cancellations are counted)."""
    _, _, correlator = parts()
    call = asyncio.ensure_future(correlator.roundtrip("tools/call", {}, 30.0, None))
    await asyncio.sleep(0.01)  # posted; the recorder never answers

    def both() -> None:
        for pending in correlator._pending.values():
            pending.last_activity -= 100  # past its deadline
        if order == "caller-first":
            call.cancel()
            correlator._check_timeouts()
        else:
            correlator._check_timeouts()
            call.cancel()

    asyncio.get_running_loop().call_soon(both)
    if sys.version_info >= (3, 11):
        with pytest.raises(asyncio.CancelledError):
            await call
        assert call.cancelled()
    else:  # no count of cancellations: one in the same turn is taken for the timeout's
        with pytest.raises((asyncio.CancelledError, RequestTimeoutError)):
            await call


async def test_a_timeout_alone_raises_and_leaves_the_task_uncancelled() -> None:
    _, _, correlator = parts()

    async def caller() -> int:
        with pytest.raises(RequestTimeoutError):
            await correlator.roundtrip("tools/call", {}, 0.05, None)
        await asyncio.sleep(0.01)  # not cancelled: the timeout's cancellation was taken back
        task = asyncio.current_task()
        return task.cancelling() if sys.version_info >= (3, 11) and task else 0

    assert await asyncio.ensure_future(caller()) == 0


def test_calls_take_the_loop_they_run_in() -> None:
    # The correlator keeps the loop of its last call (no get_running_loop() per call); a
    # call from another loop (a second asyncio.run) must time out on that loop, not on
    # the first one, which is closed by then.
    _, transport, correlator = parts()

    async def call() -> asyncio.AbstractEventLoop:
        with pytest.raises(RequestTimeoutError):
            await correlator.roundtrip("tools/call", {}, 0.05, None)
        return asyncio.get_running_loop()

    first = asyncio.run(call())
    second = asyncio.run(call())
    assert first is not second and first.is_closed()
    assert len(transport.posted) == 2


def test_a_timer_left_on_a_closed_loop_does_not_stand_in_for_the_next_ones() -> None:
    # The first loop's call is cancelled before its deadline: its timer stays scheduled on
    # that loop, which then closes. A call in the next loop, due later, needs a timer of
    # its own there, or it never times out.
    _, _, correlator = parts()

    async def cancelled() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(correlator.roundtrip("tools/call", {}, 0.5, None), 0.05)

    async def timed_out() -> float:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError):
            await asyncio.wait_for(correlator.roundtrip("tools/call", {}, 0.6, None), 3)
        return time.monotonic() - started

    asyncio.run(cancelled())
    assert asyncio.run(timed_out()) < 2


def test_a_loop_in_another_thread_is_not_taken_for_the_callers() -> None:
    # A call from a loop in another thread, while the loop of the last call is inside a
    # step of a task: its timer goes on the caller's own loop.
    _, _, correlator = parts()
    inside, leave = threading.Event(), threading.Event()

    async def first_loop() -> None:
        with pytest.raises(RequestTimeoutError):
            await correlator.roundtrip("tools/call", {}, 0.05, None)
        inside.set()
        leave.wait(10)  # blocks this loop, in a step of its task

    async def second_loop() -> asyncio.AbstractEventLoop:
        with pytest.raises(RequestTimeoutError):
            await asyncio.wait_for(correlator.roundtrip("tools/call", {}, 0.05, None), 3)
        assert correlator._watch is None or correlator._loop is asyncio.get_running_loop()
        return asyncio.get_running_loop()

    thread = threading.Thread(target=asyncio.run, args=(first_loop(),))
    thread.start()
    try:
        assert inside.wait(10)
        asyncio.run(second_loop())
    finally:
        leave.set()
        thread.join(10)


def test_a_call_left_behind_by_a_closed_loop_does_not_stop_the_next_loops_timeouts() -> None:
    _, _, correlator = parts()
    first = asyncio.new_event_loop()
    left = first.create_task(correlator.roundtrip("tools/call", {}, 0.2, None))
    first.run_until_complete(asyncio.sleep(0.05))
    first.close()  # with the call in flight: its future belongs to a closed loop

    async def timed_out() -> float:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError):
            await asyncio.wait_for(correlator.roundtrip("tools/call", {}, 0.3, None), 3)
        return time.monotonic() - started

    assert asyncio.run(timed_out()) < 2
    assert not left.done()
    left.get_coro().close()  # (what the garbage collector would do)


def test_a_client_runs_in_one_loop_at_a_time() -> None:
    # A call from a second loop while the first, running in another thread, has one in
    # flight is refused; the first one's call still times out there.
    _, _, correlator = parts()
    in_flight = threading.Event()
    outcome: list[BaseException] = []

    async def first_loop() -> None:
        call = asyncio.ensure_future(correlator.roundtrip("tools/call", {}, 0.5, None))
        await asyncio.sleep(0.05)
        in_flight.set()
        try:
            await asyncio.wait_for(call, 3)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=asyncio.run, args=(first_loop(),))
    thread.start()
    try:
        assert in_flight.wait(10)

        async def second_loop() -> None:
            with pytest.raises(RuntimeError, match="one loop at a time"):
                await correlator.roundtrip("tools/call", {}, 0.5, None)

        asyncio.run(second_loop())
    finally:
        thread.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], RequestTimeoutError)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="3.10 has no cancel counts to tell by")
async def test_a_cancellation_beside_a_bounded_waits_result_is_not_lost() -> None:
    # Python 3.11's asyncio.wait_for returns the result and drops a cancellation that came
    # in the same loop turn (gh-86296); ours raises it.
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[int] = loop.create_future()
    waiting = asyncio.create_task(wait_for(ready, 10))
    await asyncio.sleep(0)  # it waits for ready
    ready.set_result(1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_a_bounded_wait_runs_out_and_cancels_what_it_waited_for() -> None:
    slow = asyncio.ensure_future(asyncio.sleep(10))
    with pytest.raises(asyncio.TimeoutError):
        await wait_for(slow, 0.05)
    await asyncio.sleep(0)
    assert slow.cancelled()
    assert await wait_for(asyncio.sleep(0.01, "done"), None) == "done"  # None: no limit
