"""Checks for ex09 timeouts: retries with a deadline per attempt and one for the whole call.

Every check runs on virtual time, so "TimeoutError at loop time 2.5" is exact and costs
no real time. ``fetch`` is a scripted fake: each call follows the next step of its plan
(hang until cancelled, return a value later, raise at once, or swallow one cancellation).
A hanging fake waits on an event the check holds, so nothing it does depends on the
garbage collector; whatever is still running at the end of a check is cancelled.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from grader.probes import (
    EventLog,
    Outcome,
    cleaned_up,
    docs,
    expect,
    expect_finished,
    fail,
    new_tasks,
    outcome_of,
    settle,
)

#: Loop time (virtual, so free) a call gets before it counts as hanging.
LIMIT = 60.0
TIMEOUTS = docs("library/asyncio-task", "timeouts")
#: Loop times are exact on the virtual clock: only float rounding is forgiven.
EXACT = 1e-6


# --- the scripted fetch ------------------------------------------------------------------


@dataclass
class _Value:
    value: object
    after: float


@dataclass
class _Raise:
    error: BaseException


HANG = "hang"  # wait until cancelled
SWALLOW = "swallow"  # catch the first CancelledError and go on waiting


class _Fetch:
    """A fake ``fetch``: call k follows ``plan[k]`` (the last step repeats)."""

    def __init__(self, *plan: object) -> None:
        self.plan = plan
        self.calls = 0
        self.log = EventLog()
        self.starts: list[float] = []
        self.release = asyncio.Event()  # set at clean-up: hanging calls may then end

    async def fetch(self) -> object:
        self.calls += 1
        k = self.calls
        step = self.plan[min(k, len(self.plan)) - 1]
        self.starts.append(asyncio.get_running_loop().time())
        self.log.add(f"start {k}")
        try:
            if isinstance(step, _Raise):
                raise step.error
            if isinstance(step, _Value):
                await asyncio.sleep(step.after)
                return step.value
            if step == SWALLOW:
                try:
                    await self.release.wait()
                except asyncio.CancelledError:
                    self.log.add(f"swallowed {k}")
                await self.release.wait()  # a second cancellation does get through
                return "released"
            await self.release.wait()
            return "released"
        except asyncio.CancelledError:
            self.log.add(f"cancelled {k}")
            raise
        finally:
            self.log.add(f"end {k}")

    def unfinished(self, events: list[str]) -> list[int]:
        """Attempts that had started but not ended at the moment ``events`` was taken."""
        return [k for k in range(1, self.calls + 1) if f"start {k}" in events and f"end {k}" not in events]


async def _call(ex: Any, fake: _Fetch, attempts: int, per_try: float, total: float, snapshot: Any = None) -> Outcome:
    return await outcome_of(ex.fetch_with_deadline(fake.fetch, attempts, per_try, total), LIMIT, snapshot)


def _args(attempts: int, per_try: float, total: float) -> str:
    return f"fetch_with_deadline(fetch, attempts={attempts}, per_try={per_try:g}, total={total:g})"


def _expect_timeout(outcome: Outcome, call: str, why: str) -> None:
    __tracebackhide__ = True
    if outcome.error is None:
        fail(f"{call} returned {outcome.value!r}; expected TimeoutError ({why}).")
    expect(
        isinstance(outcome.error, TimeoutError),
        f"{call} raised {type(outcome.error).__name__}: {outcome.error}; expected TimeoutError ({why}).",
    )


# --- checks -----------------------------------------------------------------------------


@pytest.mark.virtual_time
@pytest.mark.weight(3)
@pytest.mark.hint(2)
async def test_total_deadline_holds(ex):
    """the total deadline holds across attempts"""
    loop = asyncio.get_running_loop()
    fake = _Fetch(HANG)
    call = _args(5, 1, 2.5)
    async with cleaned_up(fake.release):
        t0 = loop.time()
        outcome = await _call(ex, fake, 5, 1.0, 2.5)
    expect_finished(
        outcome,
        f"{call} with a fetch that never answers",
        f"Every attempt must be cut off after per_try, and the whole call after total. {TIMEOUTS}",
    )
    _expect_timeout(outcome, call, "the total deadline passed")
    assert outcome.at is not None
    took = outcome.at - t0
    expect(
        took == pytest.approx(2.5, abs=EXACT),
        f"{call} with a fetch that never answers raised TimeoutError after {took:g} s of "
        "loop time, not 2.5 s. 5 tries of 1 s would take 5 s, but `total` bounds the whole "
        "call: wrap the entire retry loop in `async with asyncio.timeout(total):` (a "
        "deadline measured per attempt, or checked only between attempts, overshoots). " + TIMEOUTS,
    )
    late = [k for k, start in enumerate(fake.starts, 1) if start >= t0 + 2.5 - 1e-6]
    expect(
        not late,
        f"{call} raised TimeoutError at 2.5 s, but fetch was called {fake.calls} times: "
        f"attempt(s) {late} started once the total deadline had passed. The total "
        "TimeoutError was caught by the `except TimeoutError` meant for one attempt and "
        "retried. Only the per-try deadline should be retried: put the `try:`/`except "
        "TimeoutError:` inside the `async with asyncio.timeout(total):` block, around the "
        "per-try block only, so the total deadline ends the loop.",
    )


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(1)
async def test_hung_attempt_is_cancelled(ex):
    """a hung attempt is cancelled and its cleanup has run when the call ends"""
    cases = [
        (2, 1.0, 10.0, "both attempts timed out", "per_try"),
        (5, 1.0, 2.5, "the total deadline passed during attempt 3", "total"),
    ]
    for attempts, per_try, total, story, deadline in cases:
        fake = _Fetch(HANG)
        call = _args(attempts, per_try, total)
        async with cleaned_up(fake.release) as before:
            outcome = await _call(ex, fake, attempts, per_try, total, lambda fake=fake: list(fake.log.events))
            await settle()
            left = new_tasks(before)
            stacks = sorted({repr(t.get_coro()) for t in left})
        expect_finished(outcome, call)
        _expect_timeout(outcome, call, story)
        events = outcome.snapshot
        hung = fake.unfinished(events)
        if deadline == "total":
            expect(
                not hung,
                f"When {call} raised TimeoutError at the total deadline, attempt(s) {hung} "
                "had not finished: the attempt running when `total` ran out was left behind, "
                "its `finally:` not run. The total deadline must cancel the attempt in "
                "progress and wait for it, like the per-try one: with `async with "
                "asyncio.timeout(total):` around the retry loop and `await fetch()` (or "
                "`asyncio.timeout(per_try)`/`wait_for`) inside it, the cancellation reaches "
                "fetch itself; a task you created and await with `asyncio.wait(...)` is not "
                "cancelled when the deadline cancels *you* -- cancel and await it in a "
                "`finally:` (or `except CancelledError:`) before letting the error out.",
            )
        expect(
            not hung,
            f"When {call} raised, attempt(s) {hung} had not finished: their `finally:` had "
            "not run. A timed-out attempt must be cancelled *and* waited for, so nothing is "
            "left running when the call ends. `asyncio.timeout`/`wait_for` do both; "
            "`asyncio.shield` or a bare `task.cancel()` do not.",
        )
        never_cancelled = [k for k in range(1, fake.calls + 1) if f"cancelled {k}" not in events]
        expect(
            not never_cancelled,
            f"{call}: attempt(s) {never_cancelled} ended without receiving CancelledError: "
            f"a timed-out attempt must be cancelled (that is what runs its cleanup).",
        )
        expect(
            not left,
            f"After {call} raised, tasks it started were still pending: {stacks}. Cancel "
            "and await every task you start before returning or raising.",
        )


@pytest.mark.virtual_time
@pytest.mark.weight(1)
@pytest.mark.hint(3)
async def test_swallowing_fetch_still_times_out(ex):
    """a fetch that ignores one cancellation still ends in TimeoutError at the deadline"""
    loop = asyncio.get_running_loop()
    fake = _Fetch(SWALLOW)
    call = _args(5, 1, 2.5)
    call_task: list[asyncio.Task[Any]] = []
    cancels: list[int] = []  # cancellations requested of the call's task, just before and after 2.5 s

    async def traced(coro: Any) -> Any:
        task = asyncio.current_task()
        assert task is not None
        call_task.append(task)
        return await coro

    def count_cancels() -> None:
        cancels.append(call_task[0].cancelling() if call_task and not call_task[0].done() else 0)

    async with cleaned_up(fake.release) as before:
        t0 = loop.time()
        checks = [loop.call_at(t0 + 2.5 + d, count_cancels) for d in (-0.01, 0.01)]
        # What was still running is judged in the very step the call ended.
        outcome = await outcome_of(
            traced(ex.fetch_with_deadline(fake.fetch, 5, 1.0, 2.5)),
            LIMIT,
            lambda: (list(fake.log.events), {t for t in new_tasks(before) if not t.done()}),
        )
        for handle in checks:
            handle.cancel()
    cancelled_at_deadline = len(cancels) == 2 and cancels[1] > cancels[0]
    late = [k for k, start in enumerate(fake.starts, 1) if start >= t0 + 2.5 - EXACT]
    swallowed = (
        "a cancellation reached the call at the total deadline (2.5 s), and something in "
        "the call caught that CancelledError and went on"
        + (f": it started attempt(s) {late} from 2.5 s on" if late else "")
        + ". A handler that catches CancelledError and carries on (`except "
        "asyncio.CancelledError: pass`, `contextlib.suppress`), e.g. around `await task` "
        "after cancelling an attempt, swallows *every* cancellation that arrives at that "
        "await, the deadline's too. Catch the attempt's CancelledError only when "
        "your own task is not being cancelled (`if asyncio.current_task().cancelling(): "
        "raise`), or run the attempt in the call's own task (`async with "
        "asyncio.timeout(per_try): return await fetch()`). " + TIMEOUTS
    )
    if not outcome.finished:
        if cancelled_at_deadline:
            fail(f"{call} was still running after {LIMIT:g} s (it was waiting: {outcome.where}), although {swallowed}")
        fail(
            f"{call}: the first attempt (a fetch that misbehaves on purpose) caught its "
            "CancelledError at 1 s and went on waiting, and the call was still running "
            f"after {LIMIT:g} s (it was waiting: {outcome.where}); nothing cancelled it at "
            "the total deadline (2.5 s). A per-attempt deadline fires once; after that, "
            "nothing stops such an attempt. Put one `async with asyncio.timeout(total):` "
            "around the whole retry loop: it cancels the attempt again at `total`. " + TIMEOUTS
        )
    if outcome.error is None and cancelled_at_deadline:
        fail(f"{call} returned {outcome.value!r} instead of raising TimeoutError: {swallowed}")
    _expect_timeout(outcome, call, "the total deadline passed")
    assert outcome.at is not None
    took = outcome.at - t0
    expect(
        took == pytest.approx(2.5, abs=EXACT),
        f"{call}, with a first attempt that ignores its cancellation, raised TimeoutError "
        f"after {took:g} s of loop time, not at the total deadline (2.5 s).",
    )
    events, running = outcome.snapshot
    if 1 in fake.unfinished(events):
        if "swallowed 1" not in events:
            fail(
                f"{call} raised TimeoutError at 2.5 s while attempt 1 was still running, "
                "never cancelled. A timed-out attempt must be cancelled and waited for."
            )
        fail(
            f"{call} raised TimeoutError at 2.5 s while attempt 1 was still running: it "
            "ignored the cancellation it got at 1 s, and nothing cancelled it again. So "
            "it ran in a task of its own (`asyncio.wait_for` makes one on Python 3.11, as "
            "do `create_task` and `ensure_future`), and whatever waited for that task to "
            "end after cancelling it stopped waiting when the total deadline fired, leaving "
            "it behind (3.11's `wait_for` does exactly that; so does `task.cancel()` "
            "followed by `asyncio.wait`). Run the attempt in the call's own task: `async "
            "with asyncio.timeout(per_try): return await fetch()` inside `async with "
            "asyncio.timeout(total):`, and the total deadline's cancellation reaches fetch "
            "itself. " + TIMEOUTS
        )
    expect(
        not running,
        f"{call} raised TimeoutError while tasks it started were still pending: "
        f"{sorted({repr(t.get_coro()) for t in running})}. Cancel and await every task you "
        "start before returning or raising.",
    )


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(2)
async def test_later_attempt_succeeds(ex):
    """returns the value of a later attempt that answers in time"""
    loop = asyncio.get_running_loop()
    answer = object()
    fake = _Fetch(HANG, HANG, _Value(answer, 0.5))
    call = _args(5, 1, 10)
    async with cleaned_up(fake.release):
        t0 = loop.time()
        outcome = await _call(ex, fake, 5, 1.0, 10.0)
    expect_finished(outcome, call)
    if outcome.error is not None:
        fail(
            f"{call}: attempts 1 and 2 hung, attempt 3 answered after 0.5 s, but the call "
            f"raised {type(outcome.error).__name__}: {outcome.error} (after {fake.calls} "
            "call(s) of fetch). A timed-out attempt is retried: catch the per-attempt "
            "TimeoutError and try again."
        )
    expect(
        outcome.value is answer,
        f"{call} returned {outcome.value!r}, not the object the 3rd attempt returned. "
        "Return what `await fetch()` gave, unchanged.",
    )
    expect(fake.calls == 3, f"fetch was called {fake.calls} times; the 3rd call answered.")
    assert outcome.at is not None
    took = outcome.at - t0
    expect(
        took == pytest.approx(2.5, abs=EXACT),
        f"The call returned after {took:g} s of loop time; expected 2.5 s (two 1 s "
        "attempts timed out, the third answered after 0.5 s). Retry at once, no waiting.",
    )


@pytest.mark.virtual_time
@pytest.mark.weight(1)
@pytest.mark.hint(3)
async def test_gives_up_after_attempts(ex):
    """gives up with TimeoutError after `attempts` timed-out tries"""
    loop = asyncio.get_running_loop()
    fake = _Fetch(HANG)
    call = _args(3, 1, 10)
    async with cleaned_up(fake.release):
        t0 = loop.time()
        outcome = await _call(ex, fake, 3, 1.0, 10.0)
    expect_finished(outcome, call)
    _expect_timeout(outcome, call, "all 3 attempts timed out")
    expect(
        fake.calls == 3,
        f"{call} called fetch {fake.calls} time(s); with time left, every one of the 3 attempts is used, and no more.",
    )
    assert outcome.at is not None
    took = outcome.at - t0
    expect(
        took == pytest.approx(3.0, abs=EXACT),
        f"{call} raised after {took:g} s of loop time; expected 3 s (3 attempts of 1 s, each "
        "retried at once, no waiting).",
    )


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(2)
async def test_other_errors_propagate_at_once(ex):
    """any other exception from fetch propagates at once, without retrying"""
    loop = asyncio.get_running_loop()

    class UpstreamError(Exception):
        pass

    first = ValueError("malformed response")
    second = UpstreamError("502 from upstream")
    cases = [
        (_Fetch(_Raise(first)), first, 1, 0.0, "the first attempt raised"),
        (_Fetch(HANG, _Raise(second)), second, 2, 1.0, "attempt 1 timed out, attempt 2 raised"),
    ]
    for fake, error, calls, at, story in cases:
        call = _args(5, 1, 10)
        async with cleaned_up(fake.release):
            t0 = loop.time()
            outcome = await _call(ex, fake, 5, 1.0, 10.0)
        expect_finished(outcome, call)
        if fake.calls > calls:
            fail(
                f"{call}: {story} {type(error).__name__}: {error}, and fetch was called "
                f"again ({fake.calls} calls in all). Only a timeout is retried: catch "
                "TimeoutError around each attempt, nothing broader (not Exception)."
            )
        expect(
            outcome.error is error,
            f"{call}: {story} {error!r}, but the call "
            + (
                f"returned {outcome.value!r}"
                if outcome.error is None
                else f"raised {type(outcome.error).__name__}: {outcome.error}"
            )
            + ". Let any exception other than the timeout propagate unchanged.",
        )
        assert outcome.at is not None
        took = outcome.at - t0
        expect(
            took == pytest.approx(at, abs=EXACT),
            f"{call}: {story}; the error came out after {took:g} s of loop time, not at once ({at:g} s).",
        )
