"""The process-pool probes: ``Switchboard`` (loop side, grader.probes) and the functions
checks send to workers (grader.workerprobes), driven with threads and a real process."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from grader import workerprobes
from grader.probes import Roll, Switchboard
from grader.workerprobes import call_switchboard, report_pid


class TestReportPid:
    """report_pid tells the check's Roll which process ran it; the pid comes from the
    kernel, and what the call returns is only a token the roll maps back to it."""

    async def test_in_this_process(self) -> None:
        """called here (in a thread), the roll hears this process"""
        async with Roll() as roll:
            index, token = await asyncio.to_thread(report_pid, roll.number(7))
        assert index == 7
        assert roll.caller(token) == (7, os.getpid())

    async def test_in_a_worker_process(self) -> None:
        """sent to a process pool, it pickles by name and the roll hears the worker"""
        # spawn, as ex12's checks require: forking this multi-threaded test process is unsafe
        loop = asyncio.get_running_loop()
        async with Roll() as roll:
            with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
                index, token = await loop.run_in_executor(pool, report_pid, roll.number(3))
        caller = roll.caller(token)
        assert index == 3 and caller is not None
        assert caller[0] == 3 and caller[1] not in (None, os.getpid())

    async def test_a_made_up_result_maps_to_nothing(self) -> None:
        """tokens are the roll's own: another value, or a call of another roll, is no one"""
        async with Roll() as roll, Roll() as other:
            _, token = await asyncio.to_thread(report_pid, other.number(0))
            assert roll.caller(token) is None and other.caller(token) == (0, os.getpid())
            assert roll.caller(os.getpid()) is None and roll.caller("1") is None

    def test_no_roll_to_reach(self) -> None:
        """a number no roll listens for gives token 0 at once, not an exception"""
        assert report_pid(-(12345 * workerprobes.ROLL_SLOTS + 2)) == (2, 0)
        assert report_pid(5) == (1019, 0)  # not a roll's number at all


class TestSwitchboard:
    """Calls phone the loop; only a running loop answers; the check decides the order."""

    async def test_a_free_loop_answers(self) -> None:
        """calls from threads are acknowledged and told go; arrivals are recorded"""
        async with Switchboard() as board:
            numbers = [board.number(i) for i in range(3)]
            assert all(n < 0 for n in numbers)
            results = await asyncio.gather(*(asyncio.to_thread(call_switchboard, n) for n in numbers))
        assert results == [(i, os.getpid(), True) for i in range(3)]
        assert sorted(i for i, _ in board.arrivals) == [0, 1, 2]
        assert board.in_flight == {}

    async def test_a_blocked_loop_does_not_answer(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """a call made on the loop's own thread waits for an acknowledgement in vain,
        and later calls to the same board give up at once"""
        monkeypatch.setattr(workerprobes, "SWITCHBOARD_ACK_S", 0.2)
        async with Switchboard() as board:
            first = call_switchboard(board.number(0))
            second = call_switchboard(board.number(1))
        assert first == (0, os.getpid(), False)
        assert second == (1, os.getpid(), False)

    async def test_hold_orders_the_answers(self) -> None:
        """call 0 is told go only after call 1, whatever order they arrived in"""
        told: list[int] = []

        async def hold(index: int) -> None:
            if index == 0:
                assert await board.wait_finished(1, timeout=5)
            told.append(index)

        async with Switchboard(hold) as board:
            first = asyncio.create_task(asyncio.to_thread(call_switchboard, board.number(0)))
            assert await board.wait_in_flight(1, timeout=5)
            second = await asyncio.to_thread(call_switchboard, board.number(1))
            assert (await first)[2] and second[2]
        assert told == [1, 0]
        assert len(board.peak_in_flight) == 2

    async def test_wait_in_flight_times_out(self) -> None:
        """with one call at a time, two are never in flight together"""

        async def hold(index: int) -> None:
            if index == 0:
                assert not await board.wait_in_flight(2, timeout=0.2)

        async with Switchboard(hold) as board:
            for i in range(2):
                assert (await asyncio.to_thread(call_switchboard, board.number(i)))[2]
        assert len(board.peak_in_flight) == 1


_LAMBDA_IN_POOL = """
import asyncio, sys
from concurrent.futures import ProcessPoolExecutor
from grader.probes.pools import pickle_errors_never_hang

def square(n):
    return n * n

async def crunch_all(nums, fn=square):
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(2) as pool:
        futures = [loop.run_in_executor(pool, lambda n=n: fn(n)) for n in nums]
        return list(await asyncio.gather(*futures))

failures = set()
with pickle_errors_never_hang():
    for _ in range(int(sys.argv[1])):
        try:
            asyncio.run(crunch_all([1, 2, 3, 4, 5]))
        except Exception as exc:
            failures.add(f"{type(exc).__name__}: {exc}")
print(sorted(failures))
"""


class TestPickleErrorsNeverHang:
    """A lambda handed to a process pool fails its call, and the pool's shutdown returns
    (CPython's own pool deadlocks there about one run in fifteen)."""

    def test_pools_in_a_row_each_fail_and_end(self, tmp_path: Path) -> None:
        """150 pools given lambdas: every run raises the pickling error, none hangs"""
        script = tmp_path / "lambdas.py"
        script.write_text(_LAMBDA_IN_POOL, encoding="utf-8")
        root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": str(root)}
        child = subprocess.Popen(
            [sys.executable, str(script), "150"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env, start_new_session=True,
        )
        try:
            out, err = child.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)  # the pool's workers too, which hold the pipes
            child.communicate()
            pytest.fail("a pool given a lambda hung in its shutdown")
        assert child.returncode == 0, err[-2000:]
        assert "local object" in out  # "Can't pickle" up to 3.12, "Can't get" on 3.13
        assert out.count("Error") == 1, out  # one kind of failure, the pickling one
