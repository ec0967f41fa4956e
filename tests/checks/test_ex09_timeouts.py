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
    called_from,
    cleaned_up,
    docs,
    expect,
    expect_finished,
    fail,
    new_tasks,
    outcome_of,
    settle,
    worker_account,
)

# A blocking call on the loop (a time.sleep between attempts) fails the check it is made
# in, at once: it is found by name, and it would otherwise cost real time in every check.
pytestmark = [pytest.mark.usefixtures("no_blocking"), pytest.mark.split]

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
    """A fake ``fetch``: call k follows ``plan[k]`` (the last step repeats). It records,
    per call, when it started and ended, each CancelledError it received, and how many
    cancellations of the call's own task were pending when it started."""

    def __init__(self, *plan: object) -> None:
        self.plan = plan
        self.calls = 0
        self.log = EventLog()
        self.starts: list[float] = []
        self.cancels: dict[int, list[float]] = {}  # call -> loop times it got CancelledError
        self.ends: dict[int, tuple[float, str]] = {}  # call -> (loop time, how it ended)
        self.pending: dict[int, int] = {}  # call -> the call task's cancelling() at its start
        self.call_task: asyncio.Task[Any] | None = None  # the task the checks run the call in
        self.release = asyncio.Event()  # set at clean-up: hanging calls may then end
        #: Loop time the call ended (or was given up on): what came after is not its doing.
        self.horizon = float("inf")

    async def fetch(self) -> object:
        self.calls += 1
        k = self.calls
        step = self.plan[min(k, len(self.plan)) - 1]
        loop = asyncio.get_running_loop()
        self.starts.append(loop.time())
        self.cancels[k] = []
        caller = called_from()
        if caller is not None:
            self.pending[k] = caller.cancelling  # the worker's account: for the lesson only
        elif self.call_task is not None and not self.call_task.done():
            self.pending[k] = self.call_task.cancelling()
        self.log.add(f"start {k}")
        how = "returned"
        try:
            if isinstance(step, _Raise):
                how = f"raised {step.error!r}"
                raise step.error
            if isinstance(step, _Value):
                await asyncio.sleep(step.after)
                return step.value
            if step == SWALLOW:
                try:
                    await self.release.wait()
                except asyncio.CancelledError:
                    self.cancels[k].append(loop.time())
                    self.log.add(f"swallowed {k}")
                await self.release.wait()  # a second cancellation does get through
                return "released"
            await self.release.wait()
            return "released"
        except asyncio.CancelledError:
            self.cancels[k].append(loop.time())
            self.log.add(f"cancelled {k}")
            how = "was cancelled"
            raise
        finally:
            self.ends[k] = (loop.time(), how)
            self.log.add(f"end {k}")

    def unfinished(self, events: list[str]) -> list[int]:
        """Attempts that had started but not ended at the moment ``events`` was taken."""
        return [k for k in range(1, self.calls + 1) if f"start {k}" in events and f"end {k}" not in events]

    def cut_at(self, deadline: float) -> list[int]:
        """Attempts that received a CancelledError at loop time ``deadline``."""
        return [k for k, times in self.cancels.items() if any(abs(t - deadline) < EXACT for t in times)]

    def late(self, deadline: float) -> list[int]:
        """Attempts started at or after loop time ``deadline``, before the horizon."""
        return [k for k, start in enumerate(self.starts, 1) if deadline - EXACT <= start <= self.horizon + EXACT]

    def story(self, t0: float) -> str:
        """What each call of fetch did up to the horizon, in loop seconds from ``t0``."""
        lines: list[tuple[list[int], str]] = []
        for k, start in enumerate(self.starts, 1):
            if start > self.horizon + EXACT:
                break
            end = self.ends.get(k)
            if end is not None and end[0] > self.horizon + EXACT:
                end = None
            seen = [t for t in self.cancels[k] if t <= self.horizon + EXACT]
            ignored = seen[:-1] if end is not None and end[1] == "was cancelled" else seen
            part = f"started at {start - t0:g} s"
            if ignored:
                part += ", ignored a cancellation at " + ", ".join(f"{t - t0:g} s" for t in ignored)
            part += f" and {end[1]} at {end[0] - t0:g} s" if end is not None else " and was still running"
            if lines and lines[-1][1] == part:
                lines[-1][0].append(k)
            else:
                lines.append(([k], part))
        if not lines:
            return "fetch was never called"
        parts = [
            f"attempt {ks[0]} {part}"
            if len(ks) == 1
            else f"attempts {ks[0]} {'and' if len(ks) == 2 else 'to'} {ks[-1]} {part.replace(' was ', ' were ')}"
            for ks, part in lines
        ]
        calls = sum(len(ks) for ks, _ in lines)
        times = "once" if calls == 1 else f"{calls} times"
        return f"fetch was called {times}: " + "; ".join(parts)


async def _call(ex: Any, fake: _Fetch, attempts: int, per_try: float, total: float, snapshot: Any = None) -> Outcome:
    async def traced() -> Any:
        fake.call_task = asyncio.current_task()
        return await ex.fetch_with_deadline(fake.fetch, attempts, per_try, total)

    start = asyncio.get_running_loop().time()
    outcome = await outcome_of(traced(), LIMIT, snapshot)
    if outcome.error is not None and type(outcome.error).__name__ == "BlockingError":
        raise outcome.error  # a blocking call on the loop is its own lesson (the plugin's)
    # A call still running at the limit is cancelled then by the check, not by itself.
    fake.horizon = outcome.at if outcome.at is not None else start + LIMIT - 2 * EXACT
    return outcome


def _still_pending(before: set[asyncio.Task[Any]]) -> list[str]:
    """What the call left running: calls of the fake still at work here, and (in a split
    check, the worker's account) where the learner's tasks still pending wait."""
    found = sorted({repr(t.get_coro()) for t in new_tasks(before) if not t.done()})
    said = worker_account("pending")
    if isinstance(said, dict) and isinstance(said.get("stacks"), list):
        found += [str(line)[:300] for line in said["stacks"][:10]]
    return found


def _args(attempts: int, per_try: float, total: float) -> str:
    return f"fetch_with_deadline(fetch, attempts={attempts}, per_try={per_try:g}, total={total:g})"


def _error(exc: BaseException) -> str:
    """``TypeName: text``, or only the type name when the text is empty."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _ending(outcome: Outcome, t0: float) -> str:
    """How the call ended, and when: "raised TimeoutError: ... at 1 s"."""
    at = f" at {outcome.at - t0:g} s" if outcome.at is not None else ""
    if outcome.error is None:
        return f"returned {outcome.value!r}{at}"
    return f"raised {_error(outcome.error)}{at}"


def _expect_fresh_attempts(outcome: Outcome, fake: _Fetch, call: str) -> None:
    """Fail, with the lesson on coroutine objects, when the call awaited one twice."""
    __tracebackhide__ = True
    error = outcome.error
    if isinstance(error, RuntimeError) and "cannot reuse already awaited coroutine" in str(error):
        times = "once" if fake.calls == 1 else f"only {fake.calls} times"
        fail(
            f"{call} called fetch {times}, then raised RuntimeError: cannot reuse already "
            "awaited coroutine. A coroutine object runs once: after it was awaited (or "
            "cancelled by a timeout) it cannot be awaited again, so a retry that awaits the "
            "object an earlier attempt got from `fetch()` fails this way. Each attempt needs "
            "a fresh one: call `fetch()` inside the loop, `return await fetch()`."
        )


def _expect_timeout(outcome: Outcome, fake: _Fetch, call: str, t0: float, why: str) -> None:
    __tracebackhide__ = True
    _expect_fresh_attempts(outcome, fake, call)
    if outcome.error is None:
        fail(f"{call} returned {outcome.value!r}; expected TimeoutError ({why}).")
    if isinstance(outcome.error, asyncio.CancelledError):
        fail(
            f"{call} {_ending(outcome, t0)}; expected TimeoutError ({why}). A cancellation "
            "came out of the call as it was: a bare `task.cancel()` (called by hand, or "
            "scheduled with `loop.call_later`) ends the task with CancelledError, and nothing "
            "turns it into TimeoutError. `asyncio.timeout()` and `asyncio.wait_for()` do: "
            "they know the cancellation was theirs, and raise TimeoutError in its place. " + TIMEOUTS
        )
    expect(
        isinstance(outcome.error, TimeoutError),
        f"{call} raised {_error(outcome.error)}; expected TimeoutError ({why}).",
    )


#: The lesson when the total deadline's cancellation was caught and the call went on.
_SWALLOWED = (
    "So the CancelledError was caught and the loop carried on. A timeout *is* a "
    "cancellation: when `total` runs out, CancelledError goes up through the retry loop "
    "and becomes TimeoutError only at `async with asyncio.timeout(total):`. An `except "
    "asyncio.CancelledError` (or `BaseException`, `contextlib.suppress(CancelledError)`) "
    "inside the loop stops it on the way, whichever deadline fired. Catch only "
    "TimeoutError, around the per-try `async with asyncio.timeout(per_try):` block, and "
    "let CancelledError through. The same goes for an `except CancelledError` around "
    "`await task` after you cancelled an attempt's task: it swallows every cancellation "
    "that arrives at that await, the deadline's too; there, re-raise it when your own "
    "task is being cancelled (`if asyncio.current_task().cancelling(): raise`). "
)


def _past_deadline(fake: _Fetch, call: str, t0: float, total: float, ending: str) -> str:
    """Explain a call that went on after its total deadline, from what fetch saw."""
    deadline = t0 + total
    cut = fake.cut_at(deadline)
    late = fake.late(deadline)
    story = fake.story(t0)
    if not cut:
        return (
            f"{call} {ending}. At the total deadline ({total:g} s) no attempt was cancelled "
            f"({story}). `total` bounds the whole call: wrap the entire retry loop in `async "
            "with asyncio.timeout(total):`, which cancels whatever runs when it expires (a "
            "deadline measured per attempt, or checked only between attempts, overshoots). " + TIMEOUTS
        )
    reached = f"At the total deadline ({total:g} s) attempt {cut[0]} was cancelled, and the call went on: "
    swallowed = [k for k in late if fake.pending.get(k, 0) > 0]
    if swallowed:
        return (
            f"{call} {ending}. {reached}attempt(s) {late} started from {total:g} s on, while "
            f"the call's task still had that cancellation pending ({story}). " + _SWALLOWED + TIMEOUTS
        )
    if late and all(fake.pending.get(k) == 0 for k in late):
        return (
            f"{call} {ending}. {reached}attempt(s) {late} started from {total:g} s on "
            f"({story}). That cancellation had been turned into TimeoutError and caught, "
            "then retried like a per-try timeout (an `except TimeoutError` meant for one "
            "attempt catches the total deadline's TimeoutError too, when the total "
            "`asyncio.timeout` sits inside it). Only the per-try deadline should be "
            "retried: put the `try:`/`except TimeoutError:` inside the `async with "
            "asyncio.timeout(total):` block, around the per-try block only, so the total "
            "deadline ends the loop. " + TIMEOUTS
        )
    return (
        f"{call} {ending}. {reached}{story}. The total deadline must end the call: a "
        "timeout is a cancellation, so anything in the loop that catches CancelledError "
        "(or, once an `asyncio.timeout` has turned it into TimeoutError, an `except "
        "TimeoutError` meant for one attempt) and carries on lets the call run past "
        "`total`. " + TIMEOUTS
    )


def _gave_up_early(fake: _Fetch, call: str, t0: float, attempts: int, total: float, ending: str) -> str:
    story = fake.story(t0)
    if fake.calls < attempts:
        return (
            f"{call} {ending}, before the total deadline ({total:g} s) and with attempts "
            f"left ({story}). A timed-out attempt is retried at once while attempts and "
            "time remain: after catching the per-try TimeoutError, go on to the next "
            "attempt (`continue`, not `break` or `raise`)."
        )
    return (
        f"{call} {ending}, before the total deadline ({total:g} s): {story}. Each attempt "
        "gets `per_try` seconds before it is cut off."
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
    _expect_timeout(outcome, fake, call, t0, "the total deadline passed")
    assert outcome.at is not None
    took = outcome.at - t0
    ending = f"with a fetch that never answers {_ending(outcome, t0)}"
    if took < 2.5 - EXACT:
        fail(_gave_up_early(fake, call, t0, 5, 2.5, ending))
    if took > 2.5 + EXACT or fake.late(t0 + 2.5):
        fail(_past_deadline(fake, call, t0, 2.5, ending))


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(1)
async def test_hung_attempt_is_cancelled(ex):
    """a hung attempt is cancelled and its cleanup has run when the call ends"""
    loop = asyncio.get_running_loop()
    cases = [
        (2, 1.0, 10.0, "both attempts timed out", "per_try"),
        (5, 1.0, 2.5, "the total deadline passed during attempt 3", "total"),
    ]
    for attempts, per_try, total, story, deadline in cases:
        fake = _Fetch(HANG)
        call = _args(attempts, per_try, total)
        async with cleaned_up(fake.release) as before:
            t0 = loop.time()
            outcome = await _call(ex, fake, attempts, per_try, total, lambda fake=fake: list(fake.log.events))
            await settle()
            stacks = _still_pending(before)
        expect_finished(outcome, call)
        _expect_timeout(outcome, fake, call, t0, story)
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
            not stacks,
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
    async with cleaned_up(fake.release) as before:
        t0 = loop.time()
        # What was still running is judged in the very step the call ended.
        outcome = await _call(
            ex,
            fake,
            5,
            1.0,
            2.5,
            lambda: (list(fake.log.events), {t for t in new_tasks(before) if not t.done()}),
        )
    deadline = t0 + 2.5
    if not outcome.finished:
        still = f"was still running after {LIMIT:g} s (it was waiting: {outcome.where})"
        if fake.cut_at(deadline):
            fail(_past_deadline(fake, call, t0, 2.5, still))
        fail(
            f"{call} {still}. Nothing cancelled an attempt at the total deadline (2.5 s): "
            f"{fake.story(t0)}. This fetch ignores the first cancellation it gets, on "
            "purpose: a per-attempt deadline fires once, and after that nothing stops such "
            "an attempt. One `async with asyncio.timeout(total):` around the whole retry "
            "loop cancels the attempt again at `total`. " + TIMEOUTS
        )
    if outcome.error is None and fake.cut_at(deadline):
        fail(_past_deadline(fake, call, t0, 2.5, f"returned {outcome.value!r} instead of raising TimeoutError"))
    _expect_timeout(outcome, fake, call, t0, "the total deadline passed")
    assert outcome.at is not None
    took = outcome.at - t0
    ending = f"with a fetch that ignores its first cancellation {_ending(outcome, t0)}"
    if took < 2.5 - EXACT:
        fail(_gave_up_early(fake, call, t0, 5, 2.5, ending))
    if took > 2.5 + EXACT or fake.late(deadline):
        fail(_past_deadline(fake, call, t0, 2.5, ending))
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
    _expect_fresh_attempts(outcome, fake, call)
    if outcome.error is not None:
        plan = "this fetch hangs on its first two calls and answers on the 3rd, after 0.5 s"
        if fake.calls < 3:
            fail(
                f"{call} {_ending(outcome, t0)}, with attempts and time left ({fake.story(t0)}; "
                f"{plan}). A timed-out attempt is retried at once while attempts and time "
                "remain: after catching the per-try TimeoutError, go on to the next attempt."
            )
        fail(f"{call} {_ending(outcome, t0)} ({fake.story(t0)}; {plan}). Return what `await fetch()` gave.")
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
    _expect_timeout(outcome, fake, call, t0, "all 3 attempts timed out")
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
    # An OSError, like TimeoutError itself: a retry on OSError or ConnectionError catches it.
    reset = ConnectionResetError(104, "Connection reset by peer")
    cases = [
        (_Fetch(_Raise(first)), first, 1, 0.0),
        (_Fetch(HANG, _Raise(second)), second, 2, 1.0),
        (_Fetch(HANG, _Raise(reset)), reset, 2, 1.0),
    ]
    for fake, error, calls, at in cases:
        call = _args(5, 1, 10)
        async with cleaned_up(fake.release):
            t0 = loop.time()
            outcome = await _call(ex, fake, 5, 1.0, 10.0)
        expect_finished(outcome, call)
        _expect_fresh_attempts(outcome, fake, call)
        plan = f"this fetch raises {error!r} on call {calls}" + (", after hanging on call 1" if calls > 1 else "")
        story = fake.story(t0)
        if fake.calls > calls:
            broader = (
                " (not Exception, nor OSError or ConnectionError: ConnectionResetError is "
                "one of those, and TimeoutError is itself a subclass of OSError)"
                if isinstance(error, OSError)
                else " (not Exception)"
            )
            fail(
                f"{call}: {plan}, and the call retried it ({story}). Only a timeout is "
                f"retried: catch TimeoutError around each attempt, nothing broader{broader}."
            )
        if fake.calls < calls:
            fail(
                f"{call} {_ending(outcome, t0)}, with attempts and time left ({story}; "
                f"{plan}). A timed-out attempt is retried at once while attempts and time "
                "remain: after catching the per-try TimeoutError, go on to the next attempt."
            )
        expect(
            outcome.error is error,
            f"{call}: {story}; but the call {_ending(outcome, t0)}. Let any exception other "
            "than the timeout propagate unchanged.",
        )
        assert outcome.at is not None
        took = outcome.at - t0
        expect(
            took == pytest.approx(at, abs=EXACT),
            f"{call}: {story}; the error came out after {took:g} s of loop time, not at once ({at:g} s).",
        )
