"""duomcp's own thread pools: bounded for live work, never held up by work given up on."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import gc
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from pathlib import Path

import pytest

from duomcp import _executors
from duomcp._executors import Pool

ROOT = Path(__file__).resolve().parent.parent


def _names(pool: Pool) -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith(pool.name + "_")}


async def _until(check: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def _occupy(pool: Pool, release: threading.Event) -> asyncio.Future[str]:
    """A call that holds one of ``pool``'s threads until ``release``, once it runs."""
    started = threading.Event()

    def busy() -> str:
        started.set()
        release.wait(10)
        return "finished"

    call = asyncio.ensure_future(pool.run(busy))
    await _until(started.is_set)
    return call


async def test_work_given_up_on_while_it_runs_stops_counting() -> None:
    pool = Pool("t-abandon", 1)
    release = threading.Event()
    try:
        first = await _occupy(pool, release)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        # The bound is one thread, held by the given-up call: the next gets a thread of its own.
        assert await asyncio.wait_for(pool.run(lambda: 42), 2) == 42
        assert pool.threads == 2
    finally:
        release.set()
    # Once the given-up call returns its thread is one too many, and ends.
    await _until(lambda: pool.threads == 1)
    await _until(lambda: len(_names(pool)) == 1)
    pool.shutdown()


async def test_queued_work_gets_a_thread_when_the_one_it_waits_for_is_given_up() -> None:
    pool = Pool("t-queue", 1)
    release = threading.Event()
    try:
        first = await _occupy(pool, release)
        queued = asyncio.ensure_future(pool.run(lambda: "ran"))
        await asyncio.sleep(0.05)
        assert not queued.done()  # the bound holds for live work
        first.cancel()
        assert await asyncio.wait_for(queued, 2) == "ran"
    finally:
        release.set()
    pool.shutdown()


async def test_work_given_up_on_before_it_starts_never_runs() -> None:
    pool = Pool("t-never", 1)
    release = threading.Event()
    ran: list[str] = []
    first = await _occupy(pool, release)
    second = asyncio.ensure_future(pool.run(ran.append, "second"))
    await asyncio.sleep(0.01)
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    release.set()
    await first
    assert await pool.run(lambda: "after") == "after"
    assert ran == []
    assert pool.threads == 1  # the first call's thread did all of it
    pool.shutdown()


async def test_threads_given_up_on_are_capped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_executors, "MAX_ABANDONED", 2)
    pool = Pool("t-cap", 1)
    release = threading.Event()
    running: list[int] = []

    def stuck(n: int) -> None:
        running.append(n)
        release.wait(10)

    try:
        with caplog.at_level(logging.WARNING, logger="duomcp"):
            for n in range(3):
                job = asyncio.ensure_future(pool.run(stuck, n))
                await _until(lambda n=n: n in running)
                job.cancel()
                await asyncio.gather(job, return_exceptions=True)
                assert pool.threads == n + 1  # the first two stopped counting
        # The third given up on counts again: the bound is reached, new work waits.
        waiting = asyncio.ensure_future(pool.run(lambda: "ran"))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        assert [r.getMessage() for r in caplog.records].count(
            "2 calls given up on are still running in t-cap threads; more given up on will "
            "keep counting against its 1 threads"
        ) == 1
    finally:
        release.set()
    assert await asyncio.wait_for(waiting, 5) == "ran"
    pool.shutdown()


async def test_idle_threads_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_executors, "IDLE_SECONDS", 0.05)
    pool = Pool("t-idle", 4)
    barrier = threading.Barrier(3, timeout=5)
    await asyncio.gather(*(pool.run(barrier.wait) for _ in range(3)))
    assert pool.threads == 3
    await _until(lambda: pool.threads == 0 and not _names(pool))
    assert await pool.run(lambda: "again") == "again"  # a new thread for new work
    pool.shutdown()


async def test_errors_and_context_reach_the_caller() -> None:
    pool = Pool("t-plain", 2)
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var")
    var.set("caller's")
    assert await pool.run(var.get) == "caller's"

    def fail() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        await pool.run(fail)
    assert threading.current_thread().name not in _names(pool)
    pool.shutdown()


async def test_shutdown_drops_work_not_started_and_ends_idle_threads() -> None:
    pool = Pool("t-shutdown", 1)
    release = threading.Event()
    first = await _occupy(pool, release)
    queued = asyncio.ensure_future(pool.run(lambda: "never"))
    await asyncio.sleep(0.01)
    pool.shutdown()
    with pytest.raises(asyncio.CancelledError):
        await queued
    release.set()
    assert await first == "finished"  # work already running finishes
    await _until(lambda: not _names(pool))
    assert await pool.run(lambda: "new") == "new"  # and the pool takes work again
    pool.shutdown()
    await _until(lambda: not _names(pool))


def _run(code: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_work_given_up_on_does_not_keep_the_process_from_exiting() -> None:
    # A handler waiting on a person who never answers: the program still ends.
    done = _run(
        """
        import asyncio, threading
        from duomcp._executors import Pool

        async def main():
            pool = Pool("t-exit", 1)
            job = asyncio.ensure_future(pool.run(threading.Event().wait))
            await asyncio.sleep(0.1)
            job.cancel()
            await asyncio.gather(job, return_exceptions=True)
            print("left")

        asyncio.run(main())
        """,
        timeout=10,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "left"


def test_a_storage_write_under_way_at_exit_is_finished(tmp_path: Path) -> None:
    target = tmp_path / "written"
    done = _run(
        f"""
        import asyncio, time
        from pathlib import Path
        from duomcp._executors import STORAGE

        def write():
            time.sleep(0.3)
            Path({str(target)!r}).write_text("kept")

        async def main():
            job = asyncio.ensure_future(STORAGE.run(write))
            await asyncio.sleep(0.05)
            job.cancel()  # its waiter gone, as when a program ends mid-save

        asyncio.run(main())
        """
    )
    assert done.returncode == 0, done.stderr
    assert target.read_text() == "kept"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_a_pool_of_its_own() -> None:
    done = _run(
        """
        import asyncio, os, threading
        from duomcp._executors import Pool

        pool = Pool("t-fork", 1)
        release = threading.Event()

        async def busy():
            job = asyncio.ensure_future(pool.run(release.wait, 10))
            await asyncio.sleep(0.1)  # the pool's one thread is busy at the fork
            return job

        loop = asyncio.new_event_loop()
        job = loop.run_until_complete(busy())
        pid = os.fork()
        if pid == 0:
            result = asyncio.run(asyncio.wait_for(pool.run(lambda: "child"), 5))
            os._exit(0 if result == "child" else 1)
        _, status = os.waitpid(pid, 0)
        release.set()
        loop.run_until_complete(job)
        print(os.waitstatus_to_exitcode(status))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"


def test_an_idle_thread_keeps_nothing_of_its_last_job() -> None:
    pool = Pool("t-keep", 1)

    class Big:
        pass

    argument = Big()
    job = pool.submit(functools.partial(lambda a: Big(), argument))
    result = job.future.result(5)
    gone = [weakref.ref(argument), weakref.ref(result)]
    del argument, result, job
    deadline = time.monotonic() + 5
    while len(pool._crew.idle) != 1:  # its thread waits for work
        assert time.monotonic() < deadline
        time.sleep(0.005)
    gc.collect()
    assert [ref() for ref in gone] == [None, None]
    pool.shutdown()


async def test_a_thread_that_cannot_start_fails_its_work_and_what_waited_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = Pool("t-start", 1)
    release = threading.Event()
    try:
        first = await _occupy(pool, release)
        queued = [asyncio.ensure_future(pool.run(lambda: "never")) for _ in range(2)]
        await asyncio.sleep(0.01)

        def refuse(self: threading.Thread) -> None:
            raise RuntimeError("can't start new thread")

        monkeypatch.setattr(threading.Thread, "start", refuse)
        first.cancel()  # given up on: the queue's first needs a new thread, which fails
        outcomes = await asyncio.wait_for(asyncio.gather(*queued, return_exceptions=True), 2)
        assert [str(o) for o in outcomes] == ["can't start new thread"] * 2
        monkeypatch.undo()
        assert await asyncio.wait_for(pool.run(lambda: "later"), 2) == "later"
        assert pool._crew.counted == 1  # the new thread only: nothing counted twice
    finally:
        release.set()
    pool.shutdown()


def test_a_storage_write_handed_to_a_thread_at_exit_is_finished(tmp_path: Path) -> None:
    # Handed over from the blocking client's loop thread, not yet running, as the main
    # thread ends the program.
    target = tmp_path / "written"
    for _ in range(5):
        target.unlink(missing_ok=True)
        done = _run(
            f"""
            import asyncio, threading, time
            from pathlib import Path
            from duomcp._executors import STORAGE

            def write():
                time.sleep(0.2)
                Path({str(target)!r}).write_text("kept")

            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, daemon=True).start()
            asyncio.run_coroutine_threadsafe(STORAGE.run(write), loop)
            while STORAGE.threads == 0:
                time.sleep(0.0001)
            """
        )
        assert done.returncode == 0, done.stderr
        assert target.read_text() == "kept"
