"""AnyLoopLock, the lock of a credential shared by clients on several event loops, and the
credential's HTTP sessions, one per loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import threading
import time
import warnings
from collections.abc import Coroutine
from typing import Any

import pytest

from duomcp._portal import portal
from duomcp.auth._lock import AnyLoopLock
from duomcp.auth._session import AuthHTTP
from duomcp.errors import CredentialInUseError


def test_one_holder_at_a_time_across_loops_in_threads() -> None:
    lock = AnyLoopLock()
    inside = 0
    most = 0
    entries = 0

    async def work() -> None:
        nonlocal inside, most, entries

        async def one() -> None:
            nonlocal inside, most, entries
            async with lock.hold():
                inside += 1
                entries += 1
                most = max(most, inside)
                await asyncio.sleep(0.002)  # other loops' threads run meanwhile
                inside -= 1

        await asyncio.gather(*(one() for _ in range(10)))

    threads = [threading.Thread(target=asyncio.run, args=(work(),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    asyncio.run(work())  # and this thread's loop
    for thread in threads:
        thread.join(30)
    assert entries == 50
    assert most == 1
    assert not lock.locked()


def test_a_holder_whose_loop_was_closed_loses_the_lock() -> None:
    lock = AnyLoopLock()
    abandoned = asyncio.new_event_loop()
    abandoned.run_until_complete(lock.hold().__aenter__())  # its `async with` never ends
    abandoned.close()
    assert lock.locked()

    async def take() -> bool:
        async with lock.hold():
            return lock.locked()

    started = time.monotonic()
    assert asyncio.run(asyncio.wait_for(take(), 5))
    assert time.monotonic() - started < 1
    assert not lock.locked()


def test_a_waiter_cancelled_while_another_loop_holds_it_leaves_nothing_held() -> None:
    lock = AnyLoopLock()
    held = threading.Event()
    release = threading.Event()

    async def hold() -> None:
        async with lock.hold():
            held.set()
            while not release.is_set():  # noqa: ASYNC110 (a thread's event: polled)
                await asyncio.sleep(0.01)

    holder = threading.Thread(target=asyncio.run, args=(hold(),))
    holder.start()
    assert held.wait(5)

    async def wait_briefly() -> None:
        try:
            await asyncio.wait_for(lock.hold().__aenter__(), 0.1)
        except asyncio.TimeoutError:
            pass

        async def again() -> None:  # this loop's queue is free again
            async with lock.hold():
                pass

        release.set()
        await asyncio.wait_for(again(), 5)

    asyncio.run(wait_briefly())
    holder.join(5)
    assert not lock.locked()


def test_an_abandoned_holdings_late_exit_frees_nothing_of_the_next_holder() -> None:
    """A holding whose loop was closed under it loses the lock; when the garbage collector
    closes its coroutine later, inside the next holder's task, its exit frees nothing."""
    lock = AnyLoopLock()

    left: list[str] = []

    async def holder() -> None:
        try:
            async with lock.hold():
                await asyncio.Event().wait()  # never ends
        finally:
            left.append("holder")

    abandoned = asyncio.new_event_loop()
    task = abandoned.create_task(holder())
    abandoned.run_until_complete(asyncio.sleep(0.01))
    abandoned.close()
    assert lock.locked()
    entered: list[str] = []

    async def live() -> None:
        nonlocal task
        async with lock.hold():  # takes the abandoned lock over
            del task
            gc.collect()  # closes holder(): its `async with` exits here, in this task
            assert left == ["holder"]
            assert lock.locked()

            async def other() -> None:
                async with lock.hold():
                    entered.append("other")

            beside = threading.Thread(target=asyncio.run, args=(other(),))
            beside.start()
            await asyncio.sleep(0.2)
            assert entered == []  # still ours
        beside.join(5)
        assert entered == ["other"]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        asyncio.run(live())
    assert not lock.locked()


def test_closed_loops_are_let_go() -> None:
    lock = AnyLoopLock()

    async def contended() -> None:
        async def one() -> None:
            async with lock.hold():
                await asyncio.sleep(0)

        await asyncio.gather(one(), one())  # its loop's lock now refers to the loop

    for _ in range(5):
        asyncio.run(contended())
    gc.collect()
    assert len(lock._by_loop) <= 1  # the last one, until another loop comes


def test_each_loop_closes_its_own_session_whatever_another_loop_does() -> None:
    """A client on loop A closes (aclose) while a flow on loop B uses the credential's
    session there: A's session closes at once; B's stays until B's own aclose."""
    http = AuthHTTP(keep_open=True)
    in_use, done = threading.Event(), threading.Event()
    sessions: dict[str, object] = {}

    async def flow_on_b() -> None:
        async with http.use():
            sessions["b"] = http.session()
            in_use.set()
            while not done.is_set():  # noqa: ASYNC110 (a thread's event: polled)
                await asyncio.sleep(0.01)
        assert not http.session().closed  # keep_open: B's own aclose() closes it
        await http.aclose()

    b = threading.Thread(target=asyncio.run, args=(flow_on_b(),))
    b.start()
    assert in_use.wait(5)

    async def client_on_a_closes() -> None:
        sessions["a"] = session = http.session()
        await http.aclose()
        assert session.closed

    asyncio.run(client_on_a_closes())
    done.set()
    b.join(5)
    assert sessions["a"] is not sessions["b"]
    assert getattr(sessions["b"], "closed", False)


@pytest.mark.timeout(30)
def test_a_blocking_call_from_the_loop_whose_task_holds_the_lock_fails_at_once() -> None:
    # A notebook cell (code in a running loop's thread) makes a blocking Client call that
    # needs the credential, while a task of that same loop (an AsyncClient's renewal)
    # holds it: the task cannot go on until the call returns. Waiting is waiting for ever.
    lock = AnyLoopLock()

    async def needs_the_lock() -> str:
        async with lock.hold():
            return "taken"

    async def background() -> str:  # started by a blocking call: it waits as usual
        async with lock.hold():
            return "taken later"

    async def cell() -> None:
        held, release = asyncio.Event(), asyncio.Event()

        async def renewal() -> None:
            async with lock.hold():
                held.set()
                await release.wait()

        task = asyncio.create_task(renewal())
        await held.wait()
        started = time.monotonic()
        with pytest.raises(CredentialInUseError, match="a task of the event loop this thread"):
            portal.call(needs_the_lock)  # blocks this loop, as a cell's Client call does
        assert time.monotonic() - started < 2
        # Work a blocking call starts waits as usual, during the call and after it.
        later = portal.call(_start, background())
        assert not later.done()
        release.set()
        await task
        assert await asyncio.wrap_future(later) == "taken later"
        assert portal.call(needs_the_lock) == "taken"  # once free, the same call works

    asyncio.run(cell())


async def _start(coro: Coroutine[Any, Any, str]) -> concurrent.futures.Future[str]:
    """Run ``coro`` as a task of the portal's loop; its outcome as a thread-safe future."""
    outcome: concurrent.futures.Future[str] = concurrent.futures.Future()
    task = asyncio.ensure_future(coro)
    task.add_done_callback(lambda t: outcome.set_result(t.result()))
    await asyncio.sleep(0.2)  # the task waits for the lock while this call still runs
    return outcome
