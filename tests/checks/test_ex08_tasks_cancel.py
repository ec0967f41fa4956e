"""Checks for ex08 tasks_cancel: a Ticker that owns a task, cancels it and waits for it.

Every check runs on virtual time: an interval of 1 s costs no real time, and tick times
are exact loop times. The learner's tasks are found by comparing ``asyncio.all_tasks()``
before and after ``start()``; whatever is left is cancelled at the end of each check.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import weakref
from collections.abc import Generator
from typing import Any

import pytest

from grader.explain import EXPLANATIONS
from grader.probes import (
    EventLog,
    Outcome,
    called_from,
    cleaned_up,
    docs,
    exact,
    expect,
    fail,
    here,
    outcome_of,
)

INTERVAL = 1.0
#: Loop time (virtual, so free) that stop() gets before it counts as hanging.
STOP_LIMIT = 20 * INTERVAL
#: Loop time the cancelled tick's cleanup takes: longer than any cap a stop() might put
#: on its wait (an interval, a few seconds), so a stop() that gives up is seen to.
CLEANUP_S = 100 * INTERVAL
TASKS = "library/asyncio-task"  # the docs page for every lesson here

pytestmark = pytest.mark.split


# --- helpers ----------------------------------------------------------------------------


def _start(ticker: Any) -> None:
    result = ticker.start()
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()  # not the learner's "never awaited" noise: we explain it here
        fail(
            "start() returned an awaitable, so nothing was scheduled: start() is a plain "
            "`def`, called from a running loop, that creates the ticking task with "
            "`asyncio.create_task(self._run())`, keeps a reference to it and returns at once."
        )


class _TickAfterStop(Exception):
    """Raised by the checks' on_tick once stop() was called, so a runaway ticker ends."""


class _Watch:
    """Records ticks that come after stop() was called, and ends the ticking there: a
    ticker that swallows its cancellation would otherwise tick forever, and the check
    could never clean it up."""

    def __init__(self) -> None:
        self.stopping = False
        self.stop_at = 0.0
        self.late: list[tuple[int, float, bool]] = []

    def tick(self, n: int) -> None:
        if self.stopping:
            # A task that caught its CancelledError and went on still counts the request
            # (in a split check, the worker's account of the calling task: for the lesson).
            caller = called_from()
            task = asyncio.current_task() if caller is None else None
            swallowed = caller.cancelling > 0 if caller is not None else task is not None and task.cancelling() > 0
            if task is not None:  # its _TickAfterStop is explained here, not "never retrieved"
                task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self.late.append((n, asyncio.get_running_loop().time() - self.stop_at, swallowed))
            raise _TickAfterStop(f"on_tick({n}) was called after stop()")

    def explain_late(self) -> str:
        n, after, swallowed = self.late[0]
        when = f"on_tick({n}) still came {after:g} s after stop() was called"
        if swallowed:
            return (
                f"{when}: the ticking task was cancelled, caught the CancelledError and "
                "went on ticking. " + EXPLANATIONS["cancelled_swallowed"]
            )
        return (
            f"{when}: the ticking task was never cancelled. A stop() that only sets a flag "
            "lets the task tick once more, and nobody waits for it: stop() must call "
            "`self._task.cancel()` and then await the task."
        )


async def _stop(ticker: Any, watch: _Watch, snapshot: Any = None, limit: float = STOP_LIMIT) -> Outcome:
    async def stop() -> None:
        watch.stopping = True
        watch.stop_at = asyncio.get_running_loop().time()
        await ticker.stop()

    return await outcome_of(stop(), limit, snapshot)


def _ended(outcome: Outcome) -> str:
    """A clause on how stop() ended, for messages about a ticking task that died early."""
    if not outcome.finished or isinstance(outcome.error, _TickAfterStop):
        return ""
    if outcome.error is not None and not isinstance(outcome.error, asyncio.CancelledError):
        return f" (stop() then raised {type(outcome.error).__name__}: {outcome.error})"
    return ""


def _tick_cut_off(events: list[str], waited: float, apart: bool) -> str:
    """Explain a stop() that returned once the ticking task had ended, while on_tick(1)'s
    cleanup had not run to its end: ``apart`` when its coroutine ran in a task of its own."""
    returned = f"stop() returned {waited:g} s after it was called, once the ticking task had ended"
    if "cleanup cancelled" in events:
        return (
            f"{returned}, but on_tick(1)'s cleanup (its `finally:`, which takes {CLEANUP_S:g} "
            "s) never finished: it received a second CancelledError while it ran. So the "
            "cleanup was cut off inside the ticking task, not by stop() giving up: a timeout "
            "around the tick does that when it expires during the cleanup (`asyncio.wait_for("
            "result, ...)` or `asyncio.timeout(...)` around `await result` cancels what it "
            "wraps), and so would a second `task.cancel()`. Await on_tick's result with no "
            "time limit, and cancel the task once: the cancelled tick's cleanup must run to "
            "its end. " + docs(TASKS, "task-cancellation")
        )
    where = " in a task of its own" if apart else ""
    if "cancelled" not in events:
        return (
            f"{returned}, but on_tick(1) never received a CancelledError: it was still "
            f"running{where}, blocked where it was. Cancelling the ticking task did not reach "
            "it: the ticking loop either awaited it through something that keeps a "
            "cancellation away from what it waits for, as `asyncio.shield(result)` does (it "
            "runs the awaitable in a task of its own, and only the shield is cancelled), or "
            "left it running in the background (`create_task` / `ensure_future` without "
            "awaiting it). Await on_tick's result directly (`await result`), so stopping the "
            "ticker cancels the tick in progress and waits for its "
            "cleanup. " + docs(TASKS, "shielding-from-cancellation")
        )
    return (
        f"{returned}, but the cancelled on_tick(1) was still in its `finally:` cleanup"
        f"{where}: the ticking loop ran on_tick's result apart from the ticking task, and "
        "ended without waiting for it. Await on_tick's result directly in the ticking loop "
        "(`await result`), so the ticking task ends only once the tick has. " + docs(TASKS, "task-cancellation")
    )


# --- checks -----------------------------------------------------------------------------


@pytest.mark.virtual_time
@pytest.mark.weight(3)
@pytest.mark.hint(1)
async def test_ticks_while_caller_awaits(ex):
    """ticks every interval while the caller awaits something else"""
    loop = asyncio.get_running_loop()
    ticks: list[tuple[int, float]] = []
    watch = _Watch()

    def on_tick(n: int) -> str:
        watch.tick(n)
        ticks.append((n, loop.time()))
        return f"tick {n}"  # a plain function's result: not awaitable, to be ignored

    async with cleaned_up():
        ticker = ex.Ticker(INTERVAL, on_tick)
        t0 = loop.time()
        _start(ticker)
        expect(
            not ticks,
            "start() called on_tick right away: the first tick comes one interval after "
            "start(), and start() itself only schedules the ticking task.",
        )
        await asyncio.sleep(3.5 * INTERVAL)
        seen = list(ticks)
        stopped = await _stop(ticker, watch)

    numbers = [n for n, _ in seen]
    if not seen:
        fail(
            "No tick at all in 3.5 intervals after start(), while the caller awaited "
            "asyncio.sleep(...)" + _ended(stopped) + ". start() must hand the ticking loop "
            "to the event loop as a task (`self._task = asyncio.create_task(self._run())`): "
            "a coroutine that is created but never scheduled never runs. " + docs(TASKS, "creating-tasks")
        )
    if len(numbers) < 3 and isinstance(stopped.error, TypeError):
        fail(
            f"Ticking stopped after on_tick{tuple(numbers)}: the ticking task failed with "
            f"TypeError: {stopped.error}. Here on_tick is a plain function that returns a "
            "string: await its result only when it is awaitable (`inspect.isawaitable`)."
        )
    expect(
        numbers == [1, 2, 3],
        f"In 3.5 intervals on_tick was called with {numbers}; expected 1, 2, 3: the first "
        "tick one interval after start(), then one per interval, counting up" + _ended(stopped) + ".",
    )
    exact(numbers, [1, 2, 3], "the arguments on_tick received")
    offsets = [round(at - t0, 3) for _, at in seen]
    expect(
        offsets == pytest.approx([INTERVAL, 2 * INTERVAL, 3 * INTERVAL], abs=0.05),
        f"The ticks came at {offsets} s after start() (loop time); expected 1.0, 2.0, 3.0: "
        "sleep one interval before each tick (`await asyncio.sleep(interval)`).",
    )


class _Step:
    """An awaitable that is not a coroutine (like a Future): it only has ``__await__``."""

    def __init__(self, log: EventLog, n: int) -> None:
        self.log = log
        self.n = n

    def __await__(self) -> Generator[Any, None, None]:
        self.log.add(f"begin {self.n}")
        try:
            yield from asyncio.sleep(1.5 * INTERVAL).__await__()
        except asyncio.CancelledError:
            self.log.add(f"cancelled {self.n}")
            raise
        self.log.add(f"end {self.n}")


def _expect_tick_finished(events: list[str], n: int, what: str) -> None:
    """Fail unless ``what`` (logged as begin/end/cancelled ``n``) ended before tick n+1."""
    __tracebackhide__ = True

    def before(first: str, second: str) -> bool:
        return first in events and second in events and events.index(first) < events.index(second)

    after = f"call {n + 1}"
    if after not in events or before(f"end {n}", after):
        return
    if before(f"cancelled {n}", after):
        fail(
            f"{what.capitalize()} (which takes 1.5 intervals) was cancelled before it "
            f"finished, and on_tick({n + 1}) came next: the ticker cut the tick short. A "
            "timeout around awaiting it (`asyncio.wait_for(result, interval)`, `async with "
            "asyncio.timeout(...)`) does that. Await what on_tick returns to its end, with "
            "no time limit, then go on ticking."
        )
    fail(
        f"on_tick({n + 1}) was called while {what} was still running: it was left running "
        "in the background (create_task / ensure_future) instead of being awaited. Await "
        "it in the ticking loop, so a tick finishes before the next begins and its errors "
        "reach stop()."
    )


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(2)
async def test_awaits_what_on_tick_returns(ex):
    """awaits what on_tick returns (a coroutine or any awaitable) before the next tick"""
    log = EventLog()
    watch = _Watch()

    async def work(n: int) -> None:
        log.add(f"begin {n}")
        try:
            await asyncio.sleep(1.5 * INTERVAL)  # longer than an interval
        except asyncio.CancelledError:
            log.add(f"cancelled {n}")
            raise
        log.add(f"end {n}")

    def on_tick(n: int) -> object:  # a plain def: only its result tells it is async
        watch.tick(n)
        log.add(f"call {n}")
        return work(n) if n % 2 else _Step(log, n)

    async with cleaned_up():
        ticker = ex.Ticker(INTERVAL, on_tick)
        _start(ticker)
        await asyncio.sleep(7 * INTERVAL)
        events = list(log.events)
        stopped = await _stop(ticker, watch)

    calls = [e for e in events if e.startswith("call")]
    expect(calls, "on_tick was never called in 7 intervals" + _ended(stopped) + ".")
    expect(
        "begin 1" in events,
        "on_tick(1) returned a coroutine and the ticker never ran it (Python warns "
        "'coroutine ... was never awaited'). on_tick here is a plain `def` that returns a "
        "coroutine, so `iscoroutinefunction(on_tick)` cannot tell: look at the result, "
        "`if inspect.isawaitable(result): await result`.",
    )
    _expect_tick_finished(events, 1, "the coroutine returned by on_tick(1)")
    expect(
        len(calls) >= 2,
        f"Only {calls} in 7 intervals, although on_tick(1)'s coroutine finished after 1.5 "
        "intervals" + _ended(stopped) + ". After awaiting a tick's result, keep ticking.",
    )
    expect(
        "begin 2" in events,
        "on_tick(2) returned an awaitable that is not a coroutine (an object with "
        "`__await__`, as a Future is) and the ticker never awaited it. The contract says "
        "'returns an awaitable': test with `inspect.isawaitable(result)`, not "
        "`asyncio.iscoroutine(result)`.",
    )
    _expect_tick_finished(events, 2, "the awaitable returned by on_tick(2)")


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(3)
async def test_stop_waits_for_cleanup(ex):
    """stop() cancels the ticking task and returns once its cleanup has run"""
    log = EventLog()
    entered = asyncio.Event()
    forever = asyncio.Event()  # never set: the tick blocks until it is cancelled
    watch = _Watch()

    async def on_tick(n: int) -> None:
        watch.tick(n)
        log.add(f"tick {n}")
        entered.set()
        try:
            await forever.wait()
        except asyncio.CancelledError:
            log.add("cancelled")
            raise
        finally:
            try:
                await asyncio.sleep(CLEANUP_S)  # a slow cleanup: stop() must wait it out
            except asyncio.CancelledError:
                log.add("cleanup cancelled")
                raise
            log.add("cleanup done")

    def snapshot() -> tuple[list[str], list[dict[str, Any]], bool]:
        pending = [s for s in here.now("task_states", here.now("tasks_since", before)) if not s["done"]]
        return list(log.events), pending, all(s["done"] for s in here.now("task_states", started))

    async with cleaned_up():
        before = await here.ask("tasks_now")  # the learner's tasks live where its code runs
        ticker = ex.Ticker(INTERVAL, on_tick)
        _start(ticker)
        started = await here.ask("tasks_since", before)  # what start() scheduled: the ticking task
        await asyncio.sleep(1.5 * INTERVAL)
        expect(entered.is_set(), "on_tick(1) was not called one interval after start().")
        limit = CLEANUP_S + STOP_LIMIT
        stopped = await _stop(ticker, watch, snapshot, limit)

    if watch.late:
        fail(watch.explain_late())
    if not stopped.finished:
        fail(
            f"stop() did not return within {limit:g} s (the cleanup takes {CLEANUP_S:g} s; "
            f"stop() was waiting: "
            f"{stopped.where}). It must cancel the ticking task (`task.cancel()`), then "
            "await it. " + EXPLANATIONS["cancelled_swallowed"]
        )
    if isinstance(stopped.error, asyncio.CancelledError):
        fail(
            "stop() raised CancelledError into its caller, though nothing cancelled the "
            "caller. The ticking task, which stop() cancelled, ends with CancelledError, "
            "and on a cancelled task `await task`, `task.result()` and `task.exception()` "
            "all raise it; letting it out of stop() makes the caller look cancelled too. "
            "Catch it (`try: await task` / `except asyncio.CancelledError:`, or test "
            "`task.cancelled()` before asking for the result), and re-raise a "
            "CancelledError only when stop()'s own task is being cancelled (`if "
            "asyncio.current_task().cancelling(): raise`). " + docs(TASKS, "asyncio.Task.cancel")
        )
    if stopped.error is not None:
        fail(f"stop() raised {type(stopped.error).__name__}: {stopped.error}; nothing failed here.")
    events, pending, ticking_done = stopped.snapshot
    states = await here.ask("task_states", started)
    # Asked to cancel, whether or not the CancelledError had arrived when stop() returned.
    requested = any(s["cancelled"] or s["cancelling"] > 0 for s in states)
    expect(
        "cancelled" in events or "cleanup done" in events or requested,
        "stop() returned, but the ticking task was never cancelled: on_tick(1), blocked in "
        "an await, received no CancelledError. stop() must call `task.cancel()` on the "
        "task start() created (keep a reference to it).",
    )
    if "cleanup done" not in events or pending:
        assert stopped.at is not None
        waited = stopped.at - watch.stop_at
        if states and ticking_done:
            # stop() did wait for the task start() created: what cut the cleanup short, or
            # kept the cancellation from on_tick, was inside the ticking task.
            apart = any(s["runs_checkers"] for s in pending)
            fail(_tick_cut_off(events, waited, apart))
        if waited > 0:
            fail(
                f"stop() returned {waited:g} s after it was called, while the cancelled "
                f"on_tick(1) was still in its `finally:` cleanup (which takes {CLEANUP_S:g} "
                "s): it stopped waiting before the ticking task had finished. Await the task "
                "itself, with no time limit: a cap on that wait (`asyncio.wait_for(..., "
                "timeout)`, `asyncio.timeout`, `asyncio.wait(..., timeout=...)`) gives up "
                "on a slow cleanup and leaves it running. " + docs(TASKS, "task-cancellation")
            )
        where = (
            "was still in its `finally:` cleanup"
            if "cancelled" in events
            else "had not even received its CancelledError yet"
        )
        fail(
            f"stop() returned before the ticking task had finished: the cancelled on_tick(1) "
            f"{where}. `task.cancel()` only *requests* "
            "cancellation; await the task afterwards so stop() returns once the task is done. "
            + docs(TASKS, "task-cancellation")
        )
    # The CancelledError went up out of on_tick(1) (it logged "cancelled" and re-raised):
    # a task that then ends normally caught it in the ticking loop and returned.
    quiet = [s for s in states if s["done"] and not s["cancelled"] and not s["failed"]]
    expect(
        "cancelled" not in events or not quiet,
        "The CancelledError left on_tick(1) and the ticking task caught it: the task ended "
        "normally, not cancelled (an `except asyncio.CancelledError:` that returns or "
        "breaks, or a `return` in a `finally:`). Whoever awaits the task (stop(), a "
        "TaskGroup, `asyncio.timeout`) can no longer tell that it was cancelled. Let the "
        "CancelledError propagate: clean up in `finally:`, or re-raise it after cleaning "
        "up (`except asyncio.CancelledError: ...; raise`). " + docs(TASKS, "task-cancellation"),
    )


@pytest.mark.virtual_time
@pytest.mark.weight(1)
@pytest.mark.hint(2)
async def test_no_ticks_after_stop(ex):
    """no tick after stop(): the ticking task does not swallow its cancellation"""
    watch = _Watch()

    async with cleaned_up():
        ticker = ex.Ticker(INTERVAL, watch.tick)
        _start(ticker)
        await asyncio.sleep(1.5 * INTERVAL)
        stopped = await _stop(ticker, watch)
        if stopped.finished and not watch.late:
            await asyncio.sleep(3 * INTERVAL)  # would a ticker still running tick again?

    if watch.late:
        fail(watch.explain_late())
    expect(
        stopped.finished,
        f"stop() did not return within {STOP_LIMIT:g} s (it was waiting: {stopped.where}): "
        "the ticking task never ended after it was cancelled. " + EXPLANATIONS["cancelled_swallowed"],
    )


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(3)
async def test_tick_error_surfaces_from_stop(ex):
    """an exception in on_tick ends the ticking and is re-raised by stop()"""
    boom_sync = ValueError("tick 2 failed (plain function)")
    boom_async = ValueError("tick 2 failed (coroutine)")
    ticks: dict[str, list[int]] = {"plain": [], "async": []}
    watch = _Watch()

    def plain(n: int) -> None:
        watch.tick(n)
        ticks["plain"].append(n)
        if n == 2:
            raise boom_sync

    async def coro(n: int) -> None:
        watch.tick(n)
        ticks["async"].append(n)
        await asyncio.sleep(0)
        if n == 2:
            raise boom_async

    async with cleaned_up():
        tickers = {"plain": ex.Ticker(INTERVAL, plain), "async": ex.Ticker(INTERVAL, coro)}
        for ticker in tickers.values():
            _start(ticker)
        await asyncio.sleep(3.5 * INTERVAL)
        seen = {kind: list(calls) for kind, calls in ticks.items()}
        stopped = {kind: await _stop(ticker, watch) for kind, ticker in tickers.items()}

    for kind, boom in (("plain", boom_sync), ("async", boom_async)):
        what = "a plain on_tick" if kind == "plain" else "an async on_tick"
        expect(
            seen[kind][:2] == [1, 2],
            f"With {what}, on_tick was called with {seen[kind]} in 3.5 intervals; expected 1, 2 (it raises at 2).",
        )
        expect(
            seen[kind] == [1, 2],
            f"{what.capitalize()} raised ValueError at tick 2, yet the ticker went on "
            f"({seen[kind]}). An exception in on_tick must end the ticking task (do not "
            "catch it in the loop), so stop() can hand it to its caller.",
        )
        outcome = stopped[kind]
        expect(
            outcome.finished,
            f"stop() did not return within {STOP_LIMIT:g} s after {what} failed (it was waiting: {outcome.where}).",
        )
        if outcome.error is None:
            fail(
                f"{what.capitalize()} raised {boom!r} at tick 2, but stop() returned "
                "normally: the error was lost. asyncio does propagate exceptions, to "
                "whoever awaits the task: `await self._task` in stop() re-raises it, so "
                "catch only CancelledError there (never Exception or BaseException)."
            )
        other = boom_async if boom is boom_sync else boom_sync
        expect(
            outcome.error is not other,
            f"stop() on the Ticker with {what} raised the *other* Ticker's error "
            f"({other!r}). Two Tickers, one task: the task is stored where both see it (a "
            "class attribute, a global). Each Ticker owns its own task: `self._task = "
            "asyncio.create_task(...)` in start(), an instance attribute.",
        )
        expect(
            outcome.error is boom,
            f"{what.capitalize()} raised {boom!r} at tick 2, and stop() raised "
            f"{type(outcome.error).__name__}: {outcome.error} instead. Re-raise the "
            "task's own exception, unchanged (awaiting the task does exactly that).",
        )


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(1)
async def test_keeps_a_reference_to_its_task(ex):
    """keeps a reference to its task: the ticking survives garbage collection"""
    loop = asyncio.get_running_loop()
    waits: list[weakref.ref[asyncio.Future[None]]] = []
    log = EventLog()
    watch = _Watch()

    async def on_tick(n: int) -> None:
        watch.tick(n)
        # Waits on a future only this coroutine knows: nothing but the ticking task's own
        # reference chain keeps the task alive now (the loop holds tasks weakly).
        waiting = loop.create_future()
        waits.append(weakref.ref(waiting))
        try:
            await waiting
        finally:
            log.add("finally")
            ended.set()

    ended = asyncio.Event()
    async with cleaned_up():
        ticker = ex.Ticker(INTERVAL, on_tick)
        _start(ticker)
        await asyncio.sleep(1.5 * INTERVAL)
        expect(waits, "on_tick(1) was not called one interval after start().")
        gc.collect()
        # Where the learner's code runs (the worker, in a split check) too: a ticking task
        # it collects abandons on_tick(1), which then ends here.
        await here.ask("collect")
        await asyncio.wait({asyncio.ensure_future(ended.wait())}, timeout=INTERVAL)
        gc.collect()
        alive = waits[0]() is not None and "finally" not in log
        if alive:
            await _stop(ticker, watch)

    expect(
        alive,
        "The ticking task was garbage-collected in the middle of on_tick(1) (Python "
        "logs 'Task was destroyed but it is pending!'). The event loop keeps only a weak "
        "reference to tasks: the task start() creates must be stored "
        "(`self._task = asyncio.create_task(...)`), or it can vanish mid-flight. " + docs(TASKS, "asyncio.create_task"),
    )


@pytest.mark.virtual_time
@pytest.mark.weight(1)
@pytest.mark.hint(3)
async def test_stop_lets_callers_cancellation_through(ex):
    """a cancellation of stop()'s own caller is not swallowed"""
    log = EventLog()
    entered = asyncio.Event()
    forever = asyncio.Event()  # never set: the tick blocks until it is cancelled
    cleanup_may_end = asyncio.Event()  # set by the check only at clean-up time
    cleanup_started = asyncio.Event()
    watch = _Watch()

    async def on_tick(n: int) -> None:
        watch.tick(n)
        entered.set()
        try:
            await forever.wait()
        except asyncio.CancelledError:
            log.add("cancelled")
            raise
        finally:
            log.add("cleanup started")
            cleanup_started.set()
            try:
                await cleanup_may_end.wait()  # a slow cleanup: stop() waits here
            except asyncio.CancelledError:
                log.add("cleanup cancelled")
                raise

    async with cleaned_up():
        before = await here.ask("tasks_now")
        ticker = ex.Ticker(INTERVAL, on_tick)
        _start(ticker)
        started = await here.ask("tasks_since", before)  # what start() scheduled: the ticking task
        await asyncio.sleep(1.5 * INTERVAL)
        expect(entered.is_set(), "on_tick(1) was not called one interval after start().")
        watch.stopping = True
        watch.stop_at = asyncio.get_running_loop().time()
        caller = asyncio.create_task(ticker.stop())  # the code that called stop()
        # stop() cancels the ticking task; its cleanup begins (or stop() returns first).
        began = asyncio.ensure_future(cleanup_started.wait())
        await asyncio.wait({caller, began}, timeout=STOP_LIMIT, return_when=asyncio.FIRST_COMPLETED)
        began.cancel()
        waiting = "cleanup started" in log and not caller.done()
        states = await here.ask("task_states", started)
        ticking_done = bool(states) and all(s["done"] for s in states)
        reached = "cancelled" in log  # did the cancellation reach on_tick(1)?
        if waiting:
            caller.cancel()  # whoever awaits stop() is itself cancelled meanwhile
            await asyncio.wait({caller}, timeout=STOP_LIMIT)
        cleanup_may_end.set()
        if not caller.done():
            await asyncio.wait({caller}, timeout=STOP_LIMIT)
        ended = caller.done()
        cancelled = ended and caller.cancelled()
        error = caller.exception() if ended and not cancelled else None

    if watch.late:
        fail(watch.explain_late())
    if not waiting and ticking_done and not reached:
        fail(
            "This could not be tried: stop() returned once the ticking task had ended, but "
            "on_tick(1) never received a CancelledError, so its cleanup never began and "
            "there was no moment to cancel stop()'s caller while it waited. Cancelling the "
            "ticking task did not reach on_tick: an `asyncio.shield(result)` in the ticking "
            "loop keeps it away, and so does running on_tick's result in the background (see "
            "the check on waiting for cleanup). Await on_tick's result directly."
        )
    expect(
        waiting,
        "stop() returned while the cancelled on_tick(1) had not even begun its cleanup, so "
        "there was no moment to cancel stop()'s caller: stop() must await the ticking task "
        "after cancelling it (see the check on waiting for cleanup).",
    )
    expect(
        ended,
        f"The task awaiting stop() was cancelled while stop() waited for the ticking task's "
        f"cleanup, and it had still not ended {STOP_LIMIT:g} s later: stop() went on "
        "waiting. A cancellation of stop()'s caller must end stop() with CancelledError.",
    )
    if cancelled:
        return
    if error is not None:
        fail(
            f"The task awaiting stop() was cancelled while stop() waited for the ticking "
            f"task's cleanup, and stop() raised {type(error).__name__}: {error} instead of "
            "letting the CancelledError out."
        )
    fail(
        "The task awaiting stop() was cancelled while stop() waited for the ticking task's "
        "cleanup, and stop() returned normally: what catches the CancelledError of "
        "`await task` (an `except asyncio.CancelledError`, `contextlib.suppress`) caught "
        "that cancellation too, and the caller, told to stop, went on as if nothing had "
        "happened (a TaskGroup or an `asyncio.timeout` around it would never see it). Both "
        "cancellations arrive as the same CancelledError out of `await task`: swallow it "
        "only when stop()'s own task is not being cancelled, `if "
        "asyncio.current_task().cancelling(): raise`. " + docs(TASKS, "asyncio.Task.cancelling")
    )
