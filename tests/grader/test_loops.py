"""The event loops checks run on (grader.loops), driven directly in this process.

Each test runs its coroutine in an ``asyncio.Runner`` with the loop class under test, so
the default executor's threads are joined before the next test starts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import queue
import socket
import sys
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from grader import explain
from grader import loops as loop_module
from grader.loops import GRADER_THREAD_PREFIX, LOOPS, GraderLoop, GraderLoopPolicy, VirtualTimeLoop, bytes_in_flight

T = TypeVar("T")


def run_on(loop_class: type[GraderLoop], main: Callable[[], Awaitable[T]]) -> tuple[T, GraderLoop]:
    loop = loop_class()
    with asyncio.Runner(loop_factory=lambda: loop) as runner:
        return runner.run(main()), loop  # type: ignore[arg-type]


def _innermost(thread: threading.Thread) -> Any:
    """The innermost frame of ``thread`` if it is the stand-in pool worker, else None."""
    frame = sys._current_frames().get(thread.ident or -1)
    return frame if frame is not None and frame.f_code.co_name == "_worker" else None


class TestVirtualTime:
    """Idle time is skipped: timers fire at their exact loop time, instantly."""

    def test_three_concurrent_sleeps_finish_at_plus_one(self) -> None:
        """three 10 s sleeps run together end at loop time +10, not +30, in little real time"""

        async def main() -> tuple[float, list[float]]:
            loop = asyncio.get_running_loop()
            start = loop.time()
            ends: list[float] = []

            async def nap() -> None:
                await asyncio.sleep(10)
                ends.append(loop.time())

            await asyncio.gather(nap(), nap(), nap())
            return start, ends

        real = time.monotonic()
        (start, ends), _ = run_on(VirtualTimeLoop, main)
        assert [end - start for end in ends] == [pytest.approx(10, abs=1e-6)] * 3
        assert time.monotonic() - real < 3  # real sleeps would take 10 s

    def test_sequential_sleeps_add_up(self) -> None:
        """sleeps one after another add up exactly: 10 + 20 + 30 = 60"""

        async def main() -> float:
            loop = asyncio.get_running_loop()
            start = loop.time()
            for delay in (10, 20, 30):
                await asyncio.sleep(delay)
            return loop.time() - start

        real = time.monotonic()
        elapsed, _ = run_on(VirtualTimeLoop, main)
        assert elapsed == pytest.approx(60, abs=1e-6)
        assert time.monotonic() - real < 3

    def test_an_hour_of_timeouts_costs_no_real_time(self) -> None:
        """asyncio.timeout on a long wait expires at its loop time, instantly"""

        async def main() -> float:
            loop = asyncio.get_running_loop()
            start = loop.time()
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(3600):
                    await asyncio.Event().wait()
            return loop.time() - start

        real = time.monotonic()
        elapsed, _ = run_on(VirtualTimeLoop, main)
        assert elapsed == pytest.approx(3600, abs=1e-6)
        assert time.monotonic() - real < 3

    def test_time_sleep_shows_as_real_time_not_loop_time(self) -> None:
        """a blocking time.sleep stalls everything, but the virtual clock does not move"""

        async def main() -> float:
            loop = asyncio.get_running_loop()
            start = loop.time()
            time.sleep(0.05)
            return loop.time() - start

        elapsed, _ = run_on(VirtualTimeLoop, main)
        assert elapsed == pytest.approx(0, abs=1e-6)

    def test_clock_never_goes_back(self) -> None:
        """advance ignores negative amounts"""
        loop = VirtualTimeLoop()
        try:
            now = loop.time()
            loop.advance(-5)
            assert loop.time() == now
            loop.advance(2.5)
            assert loop.time() == now + 2.5
        finally:
            loop.close()


class TestOutsideWork:
    """Work outside the loop (threads, peers) is not skipped over."""

    def test_to_thread_advances_loop_time_one_to_one(self) -> None:
        """a 0.2 s blocking call in a thread takes about 0.2 s of loop time"""

        async def main() -> tuple[float, float]:
            loop = asyncio.get_running_loop()
            start, real = loop.time(), time.monotonic()
            await asyncio.to_thread(time.sleep, 0.2)
            return loop.time() - start, time.monotonic() - real

        (elapsed, real), loop = run_on(VirtualTimeLoop, main)
        # About 1:1: loop time moves while the loop waits for the thread (a jumping clock
        # would not move at all); a busy machine may delay the start of that wait a little.
        assert 0.1 <= elapsed <= real + 0.01
        assert isinstance(loop, VirtualTimeLoop) and loop.threads_working == 0

    @pytest.mark.parametrize("idle_default_pool", [False, True], ids=["one pool", "another pool idle"])
    def test_threads_waiting_on_the_loop_do_not_hold_its_clock(self, idle_default_pool: bool) -> None:
        """threads that only wait for coroutines the loop runs let its clock jump, though
        calls wait on their pool's queue (an idle worker of another pool cannot take them)"""

        async def main() -> tuple[list[int], float, float]:
            loop = asyncio.get_running_loop()

            async def nap(n: int) -> int:
                await asyncio.sleep(5)
                return n

            def bridge(n: int) -> int:
                return asyncio.run_coroutine_threadsafe(nap(n), loop).result()

            if idle_default_pool:
                await asyncio.to_thread(int)  # leaves a worker of the default pool, idle
            start, real = loop.time(), time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                done = await asyncio.gather(*(loop.run_in_executor(pool, bridge, n) for n in range(4)))
            return list(done), loop.time() - start, time.monotonic() - real

        (done, elapsed, real), _ = run_on(VirtualTimeLoop, main)
        assert done == [0, 1, 2, 3]
        assert elapsed >= 10  # two rounds of 5 s sleeps on two threads
        assert real < 5  # jumped, not waited out

    def test_timers_do_not_jump_while_a_thread_works(self) -> None:
        """a 5 s timeout around 0.2 s of thread work does not fire"""

        async def main() -> str:
            await asyncio.wait_for(asyncio.to_thread(time.sleep, 0.2), timeout=5)
            return "done"

        assert run_on(VirtualTimeLoop, main)[0] == "done"

    def test_a_reply_from_a_thread_peer_is_not_skipped(self) -> None:
        """a peer thread's answer on a socket arrives before a (virtual) 5 s timeout"""

        def peer(sock: socket.socket) -> None:
            with sock:
                sock.sendall(sock.recv(100).upper())

        async def main() -> bytes:
            ours, theirs = socket.socketpair()
            thread = threading.Thread(target=peer, args=(theirs,))
            thread.start()
            reader, writer = await asyncio.open_connection(sock=ours)
            try:
                writer.write(b"ping")
                await writer.drain()
                return await asyncio.wait_for(reader.read(4), timeout=5)
            finally:
                writer.close()
                await writer.wait_closed()
                await asyncio.to_thread(thread.join)

        for _ in range(20):
            assert run_on(VirtualTimeLoop, main)[0] == b"PING"

    def test_the_executor_is_joined_on_the_real_clock(self) -> None:
        """a thread still working when the loop shuts down is waited for, not skipped past
        (3.12+ joins the executor from a thread of its own, under a 300 s loop timeout)"""

        class SlowToJoin(concurrent.futures.ThreadPoolExecutor):
            def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
                time.sleep(0.3)  # as joining a busy worker thread would, on a loaded machine
                super().shutdown(wait, cancel_futures=cancel_futures)

        async def main() -> None:
            asyncio.get_running_loop().set_default_executor(SlowToJoin())
            await asyncio.to_thread(lambda: None)

        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            started = time.monotonic()
            run_on(VirtualTimeLoop, main)
        assert time.monotonic() - started >= 0.25  # it really waited for the thread

    def test_a_peer_in_the_same_loop_is_served(self) -> None:
        """client and server in the loop itself talk across a virtual timeout"""

        async def main() -> bytes:
            async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                await asyncio.sleep(1)  # virtual: costs no real time
                writer.write(await reader.read(5))
                await writer.drain()
                writer.close()

            server = await asyncio.start_server(echo, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"hello")
            try:
                return await asyncio.wait_for(reader.read(5), timeout=2)
            finally:
                writer.close()
                await writer.wait_closed()
                server.close()
                await server.wait_closed()

        assert run_on(VirtualTimeLoop, main)[0] == b"hello"

    def test_bytes_in_flight_to_a_reading_peer_are_waited_for(self) -> None:
        """queued bytes with a reading peer are in flight; once the peer pauses, they are not"""

        async def main() -> tuple[bool, bool, bool]:
            accepted: asyncio.Future[asyncio.StreamWriter] = asyncio.get_running_loop().create_future()

            async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                accepted.set_result(writer)
                await asyncio.sleep(3600)

            server = await asyncio.start_server(hold, "127.0.0.1", 0, limit=1024)
            port = server.sockets[0].getsockname()[1]
            _, client = await asyncio.open_connection("127.0.0.1", port)
            server_end = await accepted
            idle = bytes_in_flight()
            # The server's reader stops reading at twice its limit; the rest stays queued
            # in the client's socket, with nobody reading: not in flight.
            client.write(b"x" * 4 * 1024 * 1024)
            for _ in range(200):
                await asyncio.sleep(0.01)
                if not server_end.transport.is_reading():  # type: ignore[attr-defined]
                    break
            paused = bytes_in_flight()
            server_end.transport.resume_reading()  # type: ignore[attr-defined]
            moving = bytes_in_flight()
            client.transport.abort()
            server_end.transport.abort()
            server.close()
            return idle, paused, moving

        idle, paused, moving = run_on(GraderLoop, main)[0]
        assert (idle, paused, moving) == (False, False, True)

    def test_live_sockets_and_threads_count_as_outside_io(self) -> None:
        """a registered socket or a foreign thread means a reply may still come"""
        loop = VirtualTimeLoop()
        release = threading.Event()
        try:
            ours, theirs = socket.socketpair()
            with ours, theirs:
                loop.add_reader(ours.fileno(), lambda: None)
                assert loop.outside_io_possible()
                loop.remove_reader(ours.fileno())
            thread = threading.Thread(target=release.wait, name="learner-thread")
            thread.start()
            assert loop.outside_io_possible()
        finally:
            release.set()
            loop.close()
        thread.join()

    def test_grader_threads_do_not_count(self) -> None:
        """the grader's own threads (watchdog) never hold the clock back"""
        release = threading.Event()
        thread = threading.Thread(target=release.wait, name=GRADER_THREAD_PREFIX + "test")
        thread.start()
        loop = VirtualTimeLoop()
        try:
            others = [
                t for t in threading.enumerate()
                if t is not threading.main_thread() and not t.name.startswith(GRADER_THREAD_PREFIX)
            ]  # fmt: skip
            assert loop.outside_io_possible() is bool(others)
        finally:
            release.set()
            thread.join()
            loop.close()

    def test_work_just_taken_off_the_queue_holds_the_clock(self) -> None:
        """a quick call in a thread under a long time limit never times out: between the
        pool's worker taking the call off its queue and starting it, the loop's clock does
        not jump to the limit (it did for most of these calls once)"""

        async def main() -> list[float]:
            loop = asyncio.get_running_loop()
            skipped = []
            for _ in range(300):
                start = loop.time()
                await asyncio.wait_for(asyncio.to_thread(sum, range(100)), 25)
                if loop.time() - start > 1:
                    skipped.append(loop.time() - start)
            return skipped

        skipped, loop = run_on(VirtualTimeLoop, main)
        assert skipped == []
        assert isinstance(loop, VirtualTimeLoop) and loop.executor_work == {}

    def test_work_handed_on_by_the_executor_holds_the_clock(self) -> None:
        """the same through an executor that hands each call to a thread pool of its own:
        which queue the call waits on is not known, so every pool's idle-looking worker
        may be about to run it (found by review: 1320 of 2000 calls timed out on 3.13)"""

        class Handing(concurrent.futures.Executor):
            def __init__(self) -> None:
                self.inner = concurrent.futures.ThreadPoolExecutor(2)

            def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
                return self.inner.submit(fn, *args, **kwargs)

            def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
                self.inner.shutdown(wait, cancel_futures=cancel_futures)

        async def main() -> list[float]:
            loop = asyncio.get_running_loop()
            skipped = []
            with Handing() as pool:
                for _ in range(300):
                    start = loop.time()
                    await asyncio.wait_for(loop.run_in_executor(pool, sum, range(100)), 25)
                    if loop.time() - start > 1:
                        skipped.append(loop.time() - start)
            return skipped

        assert run_on(VirtualTimeLoop, main)[0] == []

    def test_a_call_cancelled_while_it_runs_still_holds_the_clock(self) -> None:
        """a thread call cancelled by a time limit goes on in its thread: until it ends the
        loop's clock moves with real time, as it would without a virtual clock"""

        async def main() -> tuple[float, float, int]:
            loop = asyncio.get_running_loop()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.to_thread(time.sleep, 0.3), 0.05)
            start, real = loop.time(), time.monotonic()
            await asyncio.sleep(1)
            assert isinstance(loop, VirtualTimeLoop)
            return loop.time() - start, time.monotonic() - real, loop.threads_working

        elapsed, real, working = run_on(VirtualTimeLoop, main)[0]
        assert 1.0 <= elapsed < 1.5  # at the timer (or a loaded machine's moment past it)
        assert real >= 0.2  # the rest of the thread's 0.3 s, not jumped over
        assert working == 0

    def test_a_loop_in_a_thread_of_its_own_jumps(self) -> None:
        """a virtual loop run in a thread (asyncio.run inside a learner's thread) jumps its
        clock as on the main thread: its own thread is not outside work"""
        outcome: list[float] = []

        async def main() -> None:
            loop = asyncio.get_running_loop()

            def bridge() -> None:
                asyncio.run_coroutine_threadsafe(asyncio.sleep(5), loop).result()

            real = time.monotonic()
            await asyncio.to_thread(bridge)
            await asyncio.sleep(5)
            outcome.append(time.monotonic() - real)

        thread = threading.Thread(target=lambda: run_on(VirtualTimeLoop, main))
        thread.start()
        thread.join(30)
        assert outcome and outcome[0] < 2  # 10 s of loop time, jumped

    @pytest.mark.parametrize("holding", [False, True], ids=["waiting for work", "holding an item"])
    def test_a_pool_worker_holding_an_item_is_not_idle(self, holding: bool) -> None:
        """a thread pool's worker that took the last item off its queue is about to run it:
        it is not idle, though its innermost frame is still the pool's own"""
        # A stand-in for concurrent.futures.thread._worker, stopped where the real one can
        # be seen by another thread: in a C call, the item taken off the queue (or not).
        source = "def _worker(work_queue, gate, work_item):\n    gate.acquire()\n"
        space: dict[str, Any] = {}
        exec(compile(source, concurrent.futures.thread.__file__, "exec"), space)
        gate = threading.Lock()
        gate.acquire()
        item = object() if holding else None
        thread = threading.Thread(target=space["_worker"], args=(queue.SimpleQueue(), gate, item))
        thread.start()
        loop = VirtualTimeLoop()
        try:
            while _innermost(thread) is None:  # until it is inside the stand-in
                time.sleep(0.001)
            assert loop_module._quiet(loop, _innermost(thread)) is not holding
        finally:
            gate.release()
            thread.join()
            loop.close()


class TestRecording:
    """The grader loop records what the default exception handler would only log."""

    def test_task_exception_never_retrieved(self) -> None:
        """a failed task nobody awaited is recorded with its exception"""

        async def fails() -> None:
            raise ValueError("lost")

        async def main() -> None:
            task = asyncio.get_running_loop().create_task(fails())
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            del task
            gc.collect()

        _, loop = run_on(GraderLoop, main)
        messages = [c["message"] for c in loop.problems]
        assert messages == ["Task exception was never retrieved"]
        line = explain.loop_problem(loop.problems[0])
        assert line.startswith("Task exception was never retrieved: ValueError: lost")
        assert explain.classify(line) == "never_retrieved"

    def test_error_in_callback(self) -> None:
        """an exception escaping a plain callback is recorded"""

        def callback() -> None:
            raise KeyError("k")

        async def main() -> None:
            asyncio.get_running_loop().call_soon(callback)
            await asyncio.sleep(0)
            await asyncio.sleep(0)

        _, loop = run_on(GraderLoop, main)
        assert len(loop.problems) == 1
        assert explain.classify(loop.problems[0]["message"]) == "callback_error"

    def test_a_clean_run_records_nothing(self) -> None:
        """awaited tasks leave no problems"""

        async def main() -> int:
            return await asyncio.get_running_loop().create_task(asyncio.sleep(0, 7))

        result, loop = run_on(GraderLoop, main)
        assert (result, loop.problems) == (7, [])

    def test_every_grader_loop_is_registered(self) -> None:
        """new loops are appended to LOOPS (the plugin clears it per check)"""
        LOOPS.clear()
        first, second = GraderLoop(), VirtualTimeLoop()
        try:
            assert [first, second] == LOOPS
        finally:
            first.close()
            second.close()
            LOOPS.clear()


class TestPolicy:
    """asyncio.run inside learner code gets the loop class the check asked for."""

    def test_policy_makes_the_chosen_loop_class(self) -> None:
        """new_event_loop follows loop_class"""
        policy = GraderLoopPolicy()
        loops: list[Any] = []
        try:
            loops.append(policy.new_event_loop())
            policy.loop_class = VirtualTimeLoop
            loops.append(policy.new_event_loop())
            assert [type(loop) for loop in loops] == [GraderLoop, VirtualTimeLoop]
        finally:
            for loop in loops:
                loop.close()


class TestLinkedClock:
    """The split checker's clock (grader.split.checker.LinkedLoop) holds still while the
    kernel still moves bytes between a socket of the checker's and its peer."""

    @staticmethod
    def fake_worker(sock: socket.socket) -> threading.Thread:
        """A worker with nothing to do: idle at once, and idle again after each message."""
        from grader.split import wire

        def answer() -> None:
            reader, seen = wire.FrameReader(sock), 0
            wire.send(sock, {"op": "idle", "seen": 0, "deadline": None, "live": False})
            with contextlib.suppress(OSError, wire.WireError):
                while True:
                    if reader.take() is None:
                        if not reader.fill(block=True, timeout=5.0):
                            return
                        continue
                    seen += 1
                    wire.send(sock, {"op": "idle", "seen": seen, "deadline": None, "live": False})

        thread = threading.Thread(target=answer, name=f"{GRADER_THREAD_PREFIX}fake-worker", daemon=True)
        thread.start()
        return thread

    def run_linked(
        self,
        monkeypatch: pytest.MonkeyPatch,
        moving: Callable[[int], int],
        state: Callable[[int], int] = lambda n: 0,
        due: float | None = None,
    ) -> tuple[float, list[tuple[float, Any]]]:
        """Sleep 5 s of loop time beside an open connection while the kernel's motion (by
        call number) is ``moving``, its state ``state`` (a new one: progress) and its next
        sending timer ``due``: how much loop time passed, and each call's clock and
        connections."""
        from grader import procstate
        from grader.split import checker

        asked: list[tuple[float, Any]] = []
        loop = checker.LinkedLoop()

        def look(connections: Any) -> procstate.TcpMotion:
            asked.append((loop.time(), list(connections)))
            n = len(asked)
            return procstate.TcpMotion(moving(n), ((state(n), 0, 0, 0),), due)

        monkeypatch.setattr(procstate, "tcp_look", look)
        ours, theirs = socket.socketpair()
        worker = self.fake_worker(theirs)
        link = checker.Link(ours, time.monotonic() + 30)
        monkeypatch.setattr(checker, "_CURRENT", [link])

        async def main() -> float:
            accepted, held = asyncio.Event(), []

            def on_client(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                held.append(writer)  # a writer collected closes its transport (3.13)
                accepted.set()

            server = await asyncio.start_server(on_client, "127.0.0.1", 0)
            _, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
            await accepted.wait()  # both ends have their transports before the clock is asked
            start = loop.time()
            await asyncio.sleep(5)
            passed = loop.time() - start
            for each in (writer, *held):
                each.close()
            server.close()
            return passed

        try:
            with asyncio.Runner(loop_factory=lambda: loop) as runner:
                passed = runner.run(main())
        finally:
            link.close()
            theirs.close()
            worker.join(5)
        return passed, asked

    def test_the_clock_waits_while_bytes_move(self, monkeypatch: pytest.MonkeyPatch) -> None:
        passed, asked = self.run_linked(monkeypatch, lambda n: 4096 if n <= 3 else 0)
        assert passed == pytest.approx(5)
        assert len(asked) >= 4
        held = [clock for clock, _ in asked[:4]]
        assert held == [held[0]] * 4, "the clock moved while the kernel said bytes were moving"
        connections = asked[0][1]
        assert len(connections) == 2 and {c[0] for c in connections} == {c[1] for c in connections}

    def test_motion_that_never_ends_holds_the_clock_only_so_long(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from grader.split import checker

        monkeypatch.setattr(checker, "MOTION_MAX_S", 0.2)
        passed, asked = self.run_linked(monkeypatch, lambda n: 4096)
        assert passed == pytest.approx(5)
        assert len(asked) >= 2

    @staticmethod
    def moving_for(seconds: float) -> tuple[Callable[[int], int], list[float]]:
        """A motion that lasts ``seconds`` of real time from the first look, and the times
        of the looks."""
        times: list[float] = []

        def moving(n: int) -> int:
            times.append(time.monotonic())
            return 4096 if times[-1] - times[0] < seconds else 0

        return moving, times

    @staticmethod
    def clocks_within(asked: list[tuple[float, Any]], times: list[float], seconds: float) -> list[float]:
        return [clock for (clock, _), at in zip(asked, times, strict=True) if at - times[0] < seconds]

    def test_progress_renews_the_hold(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Motion that makes progress at every look holds the clock past MOTION_MAX_S;
        the same motion without progress does not."""
        from grader.split import checker

        monkeypatch.setattr(checker, "MOTION_MAX_S", 0.15)
        for progress in (True, False):
            moving, times = self.moving_for(0.6)
            passed, asked = self.run_linked(monkeypatch, moving, state=(lambda n: n) if progress else (lambda n: 0))
            assert passed == pytest.approx(5)
            # The sleep ends at the jump: the looks span how long the clock was held.
            assert len({clock for clock, _ in asked}) == 1
            held = times[-1] - times[0]
            assert held >= 0.55 if progress else held < 0.5, (progress, held)

    def test_a_kernel_timer_due_holds_the_clock(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """No progress, but a retransmission or window probe still to send the bytes to a
        reader: the clock waits for it (up to TIMER_WAIT_MAX_S), not MOTION_MAX_S."""
        from grader.split import checker

        monkeypatch.setattr(checker, "MOTION_MAX_S", 0.15)
        moving, times = self.moving_for(0.6)
        passed, asked = self.run_linked(monkeypatch, moving, due=0.3)
        assert passed == pytest.approx(5)
        within = self.clocks_within(asked, times, 0.55)
        assert len(within) >= 3 and within == [within[0]] * len(within)
        # ... and for no longer than that bound, whatever the kernel says.
        monkeypatch.setattr(checker, "TIMER_WAIT_MAX_S", 0.3)
        passed, asked = self.run_linked(monkeypatch, lambda n: 4096, due=0.3)
        assert passed == pytest.approx(5)
