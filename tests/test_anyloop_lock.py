"""AnyLoopLock, the lock of a credential shared by clients on several event loops."""

from __future__ import annotations

import asyncio
import threading
import time

from duomcp.auth._lock import AnyLoopLock


def test_one_holder_at_a_time_across_loops_in_threads() -> None:
    lock = AnyLoopLock()
    inside = 0
    most = 0
    entries = 0

    async def work() -> None:
        nonlocal inside, most, entries

        async def one() -> None:
            nonlocal inside, most, entries
            async with lock:
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
    abandoned.run_until_complete(lock.__aenter__())  # its `async with` never ends
    abandoned.close()
    assert lock.locked()

    async def take() -> bool:
        async with lock:
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
        async with lock:
            held.set()
            while not release.is_set():  # noqa: ASYNC110 (a thread's event: polled)
                await asyncio.sleep(0.01)

    holder = threading.Thread(target=asyncio.run, args=(hold(),))
    holder.start()
    assert held.wait(5)

    async def wait_briefly() -> None:
        try:
            await asyncio.wait_for(lock.__aenter__(), 0.1)
        except asyncio.TimeoutError:
            pass

        async def again() -> None:  # this loop's queue is free again
            async with lock:
                pass

        release.set()
        await asyncio.wait_for(again(), 5)

    asyncio.run(wait_briefly())
    holder.join(5)
    assert not lock.locked()
