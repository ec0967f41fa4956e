"""Checks for ex12 cpu_bound: CPU-bound work in a pool of worker processes.

A process pool pickles the function it runs, so the fakes here are module-level functions
of ``grader.workerprobes``, quickly importable by every worker whatever its start method:
``report_pid`` tells which process ran a call; ``call_switchboard`` phones a loopback
server on the check's event loop and waits (with a time limit) for its answer, which
proves the loop was free while the workers ran and lets a check decide the order in which
calls finish -- ordering, not timing. Any pool of processes passes: ``ProcessPoolExecutor``
with ``run_in_executor`` + ``gather``, ``executor.map`` or ``multiprocessing.Pool.map`` run
in a thread, own or default start method, shut down by the time crunch_all returns (the
contract). Whether importing the module runs work or sets the start method is probed in a
fresh interpreter that stops at the first call of one of the module's own functions.

Wrong answers are judged from evidence, not by waiting out the workers' time limit: while
they run, a thread of the check's own reads the loop thread's stack (:class:`_LoopWatch`).
A loop thread running ``fn`` itself, or waiting on a thread primitive inside the learner's
code (``pool.map``, ``future.result()``), cannot answer a worker: the watch hangs up on
such calls at once. Calls handed to a pool are counted, so the first call knows without
waiting when no second one was sent; and once as many calls are held as the pools have
workers, no further one can start: a hold stops waiting then.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import math
import multiprocessing
import multiprocessing.pool
import os
import socket
import subprocess
import sys
import threading
import types
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from grader import probes, workerprobes
from grader.probes import Switchboard, call_learner, exact, expect, fail, pools
from grader.probes.blocking import describe_line
from grader.workerprobes import SWITCHBOARD_ACK_S, call_switchboard, report_pid

#: Seconds the first call waits for a second one to start (a second worker process may have
#: to start first, which is slow on a loaded machine). Only sequential answers wait this long.
PARALLEL_WAIT_S = 10.0
#: Seconds call 0 is held back waiting for the other calls to finish. Only a pool that cannot
#: run them at the same time (one worker, or one chunk) waits this long -- and still passes.
HOLD_S = 5.0
#: Seconds a whole crunch_all call may take (pool start-up included).
CALL_S = 25.0
#: Seconds a hold keeps waiting once as many calls are held as the pools in use have
#: workers (so no further call can start before one is let go): only a pool too narrow
#: for the check waits this.
FULL_GRACE_S = 0.3

PROCESSES = (
    "Use a pool of worker processes: `with ProcessPoolExecutor() as pool:` then "
    "`await asyncio.gather(*(loop.run_in_executor(pool, fn, n) for n in nums))`."
)


@pytest.fixture(autouse=True)
def _pickle_errors_never_hang() -> Iterator[None]:
    """A lambda handed to a process pool fails its call; CPython's pool can then deadlock
    in its shutdown (one run in fifteen), which would wait out the time limit instead of
    naming the mistake: see ``probes.pools.pickle_errors_never_hang``."""
    with pools.pickle_errors_never_hang():
        yield


@pytest.fixture(autouse=True)
def _at_least_two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Default pools size themselves from the core count; show them two or more, so a
    default pool can run two calls at once even on a single-core grading machine (or one
    whose CPU affinity allows a single core: ``os.process_cpu_count`` in 3.13). Autouse,
    so it is in place before the ``ex`` fixture imports the learner's module: a pool
    created at import time, or by an earlier call, sees the same count as one created
    inside the call."""
    for name in ("cpu_count", "process_cpu_count"):  # the latter is new in 3.13
        real = getattr(os, name, None)
        if real is not None:
            monkeypatch.setattr(os, name, lambda real=real: max(2, real() or 1))


#: Seconds between two looks at the loop thread's stack while the workers run.
LOOK_S = 0.02
#: Where a blocked thread's innermost Python frame sits (threading.py).
_WAITS = frozenset({"wait", "join", "_wait_for_tstate_lock"})


class _LoopWatch:
    """While the learner's code runs: counts the calls handed to a process pool, and reads
    the loop thread's stack from a thread of the check's own.

    When the loop's thread is seen running ``fn`` itself, or waiting on a thread primitive
    inside the learner's code (not a thread being started), no worker can get an answer
    from the board: the watch takes their calls off the board's listening socket and
    hangs up, so each returns ``answered=False`` at once. ``where`` says where the loop's
    thread was."""

    def __init__(self, board: Switchboard | None = None) -> None:
        self.board = board
        self.loop_thread = threading.get_ident()
        self.handoffs = 0
        #: The pools calls were handed to.
        self.pools: list[Any] = []
        self.where: str | None = None
        self.turned_away = 0
        #: The pools' width, when a hold stopped waiting because they were full.
        self.full_width: int | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def watching(self) -> Iterator[_LoopWatch]:
        patched = [
            (ProcessPoolExecutor, "submit", 1),
            (multiprocessing.pool.Pool, "apply_async", 1),
            (multiprocessing.pool.Pool, "_map_async", 2),  # map, starmap...: many at once
        ]
        reals = [(cls, name, getattr(cls, name)) for cls, name, _ in patched]
        for (cls, name, count), (_, _, real) in zip(patched, reals, strict=True):
            setattr(cls, name, self._counting(real, count))
        thread = None
        if self.board is not None:
            thread = threading.Thread(target=self._watch, name="awaitlings-ex12-watch", daemon=True)
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            if thread is not None:
                thread.join(5.0)
            for cls, name, real in reals:
                setattr(cls, name, real)

    def _counting(self, real: Any, count: int) -> Any:
        watch = self

        def counted(pool: Any, *args: Any, **kwargs: Any) -> Any:
            with watch._lock:
                watch.handoffs += count
                if not any(p is pool for p in watch.pools):
                    watch.pools.append(pool)
            return real(pool, *args, **kwargs)

        return counted

    def pool_width(self) -> int | None:
        """How many calls the pools in use can run at once (their worker processes
        together), or None if some pool's size is unknown."""
        width = 0
        for pool in list(self.pools):
            size = getattr(pool, "_max_workers", None) or getattr(pool, "_processes", None)
            if type(size) is not int:
                return None
            width += size
        return width if self.pools else None

    async def wait_held(self, board: Switchboard, done: Callable[[], Awaitable[bool]], limit: float) -> bool:
        """Await ``done()`` (a short wait on ``board``) until it says True; False after
        ``limit`` s, or once as many calls are held as the pools have workers while more
        were handed out, for ``FULL_GRACE_S``: no further call can start before a held
        one is let go."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        full_since: float | None = None
        while not await done():
            now = loop.time()
            if now > deadline:
                return False
            held = len(board.in_flight)
            width = self.pool_width()
            if width is None or held < width or self.handoffs <= held:
                full_since = None
            elif full_since is None:
                full_since = now
            elif now - full_since >= FULL_GRACE_S:
                self.full_width = width
                return False
        return True

    def blocked_at(self) -> str | None:
        frame = sys._current_frames().get(self.loop_thread)
        if frame is None:
            return None
        chain = []
        outer: types.FrameType | None = frame
        while outer is not None:
            chain.append(outer)
            outer = outer.f_back
        mine = probes.learner_location(probes.TARGET_FILE, frame) if probes.TARGET_FILE else None
        if any(f.f_code.co_filename == workerprobes.__file__ for f in chain):
            return mine or "the loop's own thread, running fn"
        if frame.f_code.co_filename != threading.__file__ or frame.f_code.co_name not in _WAITS:
            return None
        if any(f.f_code.co_filename == threading.__file__ and f.f_code.co_name == "start" for f in chain):
            return None  # a thread being started: a pool's submit waits a moment for it
        return mine

    def _watch(self) -> None:
        assert self.board is not None and self.board._server is not None
        listener = socket.socket(fileno=os.dup(self.board._server.sockets[0].fileno()))
        try:
            listener.setblocking(False)  # as the loop's own listening socket already is
            while not self._stop.wait(LOOK_S):
                where = self.blocked_at()
                if where is None:
                    continue
                self.where = self.where or where
                while True:
                    try:
                        conn, _ = listener.accept()
                    except OSError:  # nobody waiting (BlockingIOError) or closed
                        break
                    conn.close()  # hang up: the worker's call returns answered=False
                    self.turned_away += 1
        finally:
            listener.close()


async def _crunch(ex: types.ModuleType, nums: list[int], fn: Any = None, *, what: str) -> list[Any]:
    """Await ``ex.crunch_all`` with a time limit; turn the usual process-pool mistakes into
    explanations."""
    expect(
        inspect.iscoroutinefunction(getattr(ex, "crunch_all", None)),
        "`crunch_all` must be defined with `async def`: it is awaited on the event loop.",
    )
    with _handed_over() as seen:
        awaitable = ex.crunch_all(nums) if fn is None else ex.crunch_all(nums, fn)
        try:
            result = await call_learner(what, awaitable, CALL_S)
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the check itself is being cancelled
            error: BaseException | None = exc
        except Exception as exc:
            error = exc
        else:
            error = None
    if error is not None:  # explained outside the `except`, so no chained traceback shows
        _explain_handed_over(error, seen, nums, fn, what)
        _explain_pool_error(error, what)
        raise error
    if inspect.isawaitable(result):
        fail(
            f"{what} returned a {type(result).__name__} object, an awaitable, instead of a "
            "list: a missing `await`. `loop.run_in_executor(...)` returns a future; await it "
            "(or gather the futures)."
        )
    if type(result) is not list:
        fail(f"{what} returned {type(result).__name__} {result!r}; it must return a list.")
    return result


class _Seen:
    """What the learner's code handed to process pools during one crunch_all call."""

    def __init__(self) -> None:
        #: What was sent as the function where it is not callable (``fn(n)``'s result).
        self.not_callable: list[Any] = []
        #: Calls of ``ProcessPoolExecutor.shutdown`` with ``cancel_futures=True``.
        self.cancelled_futures = 0


@contextlib.contextmanager
def _handed_over() -> Iterator[_Seen]:
    """Record what the learner's code hands to a process pool: a function that is not
    callable, a shutdown that cancels the queued calls."""
    seen = _Seen()
    real_submit = ProcessPoolExecutor.submit
    real_shutdown = ProcessPoolExecutor.shutdown
    real_apply = multiprocessing.pool.Pool.apply_async

    def submit(pool: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        if not callable(fn):
            seen.not_callable.append(fn)
        return real_submit(pool, fn, *args, **kwargs)

    def apply_async(pool: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        if not callable(func):
            seen.not_callable.append(func)
        return real_apply(pool, func, *args, **kwargs)

    def shutdown(pool: Any, wait: bool = True, *, cancel_futures: bool = False) -> Any:
        if cancel_futures:
            seen.cancelled_futures += 1
        return real_shutdown(pool, wait, cancel_futures=cancel_futures)

    ProcessPoolExecutor.submit = submit  # type: ignore[method-assign]
    ProcessPoolExecutor.shutdown = shutdown  # type: ignore[method-assign]
    multiprocessing.pool.Pool.apply_async = apply_async  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        ProcessPoolExecutor.submit = real_submit  # type: ignore[method-assign]
        ProcessPoolExecutor.shutdown = real_shutdown  # type: ignore[method-assign]
        multiprocessing.pool.Pool.apply_async = real_apply  # type: ignore[method-assign]


def _explain_handed_over(error: BaseException, seen: _Seen, nums: list[int], fn: Any, what: str) -> None:
    """Explain an error that follows from what was handed to the pool (see :func:`_handed_over`)."""
    if isinstance(error, TypeError) and "not callable" in str(error) and seen.not_callable:
        value = seen.not_callable[0]
        results = [n * n for n in nums] if fn is None else [fn(n) for n in nums] if fn is math.factorial else []
        ran_here = value in results or (
            type(value) is tuple and len(value) >= 2 and value[1] == os.getpid()  # report_pid's (n, pid)...
        )
        how = (
            f": {value!r} is what fn returns for one of the numbers, so fn(n) was called right "
            "there, on the event loop (blocking it), and its result handed to the pool in place "
            "of the function"
            if ran_here
            else ""
        )
        fail(
            f"{what} raised TypeError: {error}. The pool was handed {type(value).__name__} "
            f"{value!r} as the function to run{how}. In `loop.run_in_executor(pool, fn(n))` "
            "the parentheses call fn before the pool is even asked to. Pass the function and "
            "its argument separately, so a worker makes the call: "
            "`loop.run_in_executor(pool, fn, n)`."
        )
    if isinstance(error, asyncio.CancelledError) and seen.cancelled_futures:
        fail(
            f"{what} raised CancelledError: the pool was shut down with "
            "`shutdown(cancel_futures=True)` while calls were still queued, which cancels "
            "them, so their results never came. Shut the pool down once every result is in: "
            "`with ProcessPoolExecutor() as pool:` around the code that awaits them "
            "(leaving the block waits for the workers, after the results are in)."
        )


def _explain_pool_error(exc: BaseException, what: str) -> None:
    text = f"{type(exc).__name__}: {exc}"
    if "pickle" in text.lower() or "local object" in text:
        fail(
            f"{what} raised {text}. A process pool sends the function to the worker by "
            "pickling it -- by module and name -- so it must be a module-level function: "
            "a lambda or a nested function cannot be sent. Pass `fn` itself: "
            "`loop.run_in_executor(pool, fn, n)`."
        )
    if type(exc).__name__ == "BrokenProcessPool":
        fail(
            f"{what} raised {text}: a worker process died abruptly. Does your module run "
            "code at import time? A worker imports it to find the function: keep demo "
            "code under `if __name__ == \"__main__\":`."
        )
    if isinstance(exc, ValueError) and ("max_workers must be greater than 0" in str(exc) or "at least 1" in str(exc)):
        fail(
            f"{what} raised {text}: a pool cannot have zero workers, so a pool sized by the "
            "number of inputs (`max_workers=len(nums)`) cannot be created for no numbers. "
            "Leave the size out (the default has one worker per core), or return [] for "
            "no numbers before making a pool."
        )


def _calls(result: list[Any], what: str, width: int) -> list[tuple[Any, ...]]:
    """The checks' fakes return tuples; make sure they came back unchanged."""
    for item in result:
        if type(item) is not tuple or len(item) != width:
            fail(
                f"{what} returned {result!r}: the values fn returned should come back "
                "unchanged, one per number. Is `fn` really called, with each number?"
            )
    return result


@pytest.mark.weight(1)
@pytest.mark.limit(30)
@pytest.mark.hint(4)
async def test_default_fn_squares(ex):
    """crunch_all squares every number with slow_square by default, [] for none"""
    result = await _crunch(ex, [3, 1, 2], what="crunch_all([3, 1, 2])")
    _expect_not_reordered(result, [9, 1, 4], "crunch_all([3, 1, 2])")
    exact(result, [9, 1, 4], "crunch_all([3, 1, 2]) returned")
    empty = await _crunch(ex, [], what="crunch_all([])")
    exact(empty, [], "crunch_all([]) returned")


def _expect_not_reordered(result: list[Any], expected: list[Any], what: str) -> None:
    """Explain a result that holds the right values in another order."""
    __tracebackhide__ = True
    try:
        permutation = sorted(result) == sorted(expected) and result != expected
    except TypeError:  # values that do not compare: not a reordering of ours
        return
    if not permutation:
        return
    how = (
        " -- in sorted order: sorting the results does not restore the order of the inputs"
        if result == sorted(result)
        else ""
    )
    fail(
        f"{what} returned {result!r}: the right values, in another order{how}. Expected "
        f"{expected!r}, one result per number, in the order of nums. Callers match results to "
        "inputs by position: `asyncio.gather(*futures)` and `executor.map` keep input order."
    )


@pytest.mark.weight(3)
@pytest.mark.limit(30)
@pytest.mark.hint(1)
async def test_work_runs_in_worker_processes(ex):
    """fn runs in worker processes, not in the event loop's process"""
    what = "crunch_all([0, 1, 2, 3], report_pid)"
    result = _calls(await _crunch(ex, [0, 1, 2, 3], report_pid, what=what), what, 2)
    expect(
        sorted(n for n, _ in result) == [0, 1, 2, 3],
        f"{what} returned {result!r}: fn must be called once for every number.",
    )
    here = os.getpid()
    inside = [n for n, pid in result if pid == here]
    if inside:
        fail(
            f"fn ran in the event loop's own process (pid {here}) for {inside}: on the loop "
            "itself or in a thread (`asyncio.to_thread`, `run_in_executor(None, ...)`, a "
            "ThreadPoolExecutor). Threads share one GIL: only one of them runs Python "
            "bytecode at a time, so CPU-bound work gets no faster -- the tutorial's \"true "
            f"parallelism\" with threads is a myth. Each process has its own GIL. {PROCESSES}"
        )


@pytest.mark.weight(2)
@pytest.mark.limit(40)
@pytest.mark.hint(4)
async def test_calls_run_in_parallel(ex):
    """calls run at the same time, in different worker processes"""
    waited = False
    handed_out: int | None = None  # calls handed to a pool when the first one arrived

    async def hold(index: int) -> None:
        # The first call is not answered before a second one is in flight (or the wait
        # ran out), unless a free loop had handed exactly one call to a pool: then no
        # second one can come while it waits. Later calls are answered at once.
        nonlocal waited, handed_out
        if not waited:
            waited = True
            await _settle()
            handed_out = watch.handoffs
            if handed_out != 1:
                await watch.wait_held(board, lambda: board.wait_in_flight(2, LOOK_S), PARALLEL_WAIT_S)

    what = "crunch_all([n0, ..., n7], fn)"
    async with Switchboard(hold) as board:
        with _LoopWatch(board).watching() as watch:
            nums = [board.number(i) for i in range(8)]
            calls = _calls(await _crunch(ex, nums, call_switchboard, what=what), what, 3)
    if not all(answered for _, _, answered in calls):
        fail(
            "While fn ran, the event loop did not answer its calls"
            + (f" (its thread was at {watch.where})" if watch.where else "")
            + ": the loop was blocked, so parallelism could not be observed. Await the "
            "results instead of waiting for them on the loop's thread (see the check on the "
            "loop staying responsive)."
        )
    overlap = board.peak_in_flight if len(board.peak_in_flight) >= 2 else {}
    pids = set(overlap.values())
    if len(pids) >= 2:
        return
    if overlap:
        fail(
            "Calls ran at the same time, but in threads of one process"
            + (" (the event loop's own)" if os.getpid() in pids else "")
            + ": threads take turns holding the GIL, so pure-Python work in them does not run "
            f"in parallel. {PROCESSES}"
        )
    if handed_out == 1:
        fail(
            "When the first call reached the event loop, the loop was free and only that one "
            "call had been handed to the pool: the calls were sent one after another. Submit "
            "all of them before awaiting any -- awaiting `run_in_executor` inside a `for` loop "
            "waits for each result before sending the next number. " + PROCESSES
        )
    if watch.full_width is not None:
        fail(
            f"{handed_out} calls had been handed to the pool when the first one reached the "
            f"event loop, but the pool ran only {watch.full_width} at a time: it has "
            f"{watch.full_width} worker process{'es' if watch.full_width > 1 else ''}, so the "
            "others queued behind the first. A pool created with `max_workers=1` (or "
            "`processes=1`) runs its calls one after another; leave the size out (the default "
            "has one worker per core). " + PROCESSES
        )
    fail(
        f"The first call waited {PARALLEL_WAIT_S:g}s for a second one to start, in vain, "
        f"although {handed_out} calls had been handed to the pool: they ran one after another. "
        "Use a pool that can run them at the same time (the default `ProcessPoolExecutor()` "
        "has one worker per core). " + PROCESSES
    )


async def _settle() -> None:
    """A few turns of the loop: whatever the learner's code sends off at once is sent."""
    for _ in range(10):
        await asyncio.sleep(0)


@pytest.mark.weight(1)
@pytest.mark.limit(40)
@pytest.mark.hint(2)
async def test_loop_keeps_running(ex):
    """the event loop keeps running while the workers compute"""
    what = "crunch_all([a, b, c], fn)"
    async with Switchboard() as board:
        with _LoopWatch(board).watching() as watch:
            nums = [board.number(i) for i in range(3)]
            result = await _crunch(ex, nums, call_switchboard, what=what)
    calls = _calls(result, what, 3)
    if all(answered for _, _, answered in calls):
        return
    if any(pid == os.getpid() for _, pid, _ in calls):
        fail(
            "fn ran on the event loop's own thread"
            + (f" ({watch.where})" if watch.where else "")
            + ": each call phoned the loop for an answer that could not come, because the "
            "loop was busy running fn. Calling fn inside an `async def` does not make it "
            "concurrent. " + PROCESSES
        )
    blocked = (
        f"the loop's thread was waiting at {watch.where} while they computed"
        if watch.where
        else f"for {SWITCHBOARD_ACK_S:g}s: the loop's thread was blocked while they computed"
    )
    fail(
        f"The workers phoned the event loop and got no answer: {blocked}. "
        "`pool.map(...)`, `future.result()` or `pool.shutdown(wait=True)` before the work is "
        "done wait on the loop's own thread. Await instead: "
        "`await asyncio.gather(*(loop.run_in_executor(pool, fn, n) for n in nums))`, or run "
        "a blocking `pool.map` in a thread with `await asyncio.to_thread(...)`."
    )


@pytest.mark.weight(1)
@pytest.mark.limit(40)
@pytest.mark.hint(4)
async def test_results_in_input_order(ex):
    """results come back in the order of nums, not in completion order"""
    # Call i returns (i, pid, answered). The calls are sent in this order, which is neither
    # sorted order nor (the first call finishes last) the order they finish in.
    expected = INPUT_ORDER
    first = expected[0]

    async def hold(index: int) -> None:
        if index == first:  # the first number finishes after all the others...
            await _settle()
            if watch.handoffs != 1:  # ...unless they are sent only once it is done
                others = expected[1:]
                await watch.wait_held(board, lambda: board.wait_finished(*others, timeout=LOOK_S), HOLD_S)

    what = "crunch_all([n3, n0, n5, n1, n4, n2], fn)"
    async with Switchboard(hold) as board:
        with _LoopWatch(board).watching() as watch:
            nums = [board.number(i) for i in expected]
            result = await _crunch(ex, nums, call_switchboard, what=what)
    order = [index for index, _, _ in _calls(result, what, 3)]
    if sorted(order) == sorted(expected) and order != expected:
        if order == sorted(order):
            how = (
                "sorted order. Sorting the results does not restore the order of the inputs: "
                "keep them in input order from the start"
            )
        elif order[-1] == first:
            how = (
                f"completion order (n{first}, sent first, was made to finish last and came "
                "last): `as_completed`, or appending to a list as results arrive, gives "
                "completion order"
            )
        else:
            how = "neither input order nor completion order"
        fail(
            f"Results came back for the numbers in the order {order}, not in the order they "
            f"were given, {expected}: that is {how}. Callers match results to inputs by "
            "position: `asyncio.gather(*futures)` and `executor.map` keep input order."
        )
    exact(order, expected, f"the numbers behind the results of {what}")


#: The order the numbers are given in: call i returns i, so these are neither sorted nor
#: (the first one finishes last) in completion order.
INPUT_ORDER = [3, 0, 5, 1, 4, 2]


@pytest.mark.weight(1)
@pytest.mark.limit(30)
@pytest.mark.hint(3)
async def test_fn_is_honoured(ex):
    """crunch_all calls the fn it is given"""
    result = await _crunch(ex, [3, 4, 5], math.factorial, what="crunch_all([3, 4, 5], math.factorial)")
    if result == [9, 16, 25]:
        fail(
            "crunch_all([3, 4, 5], math.factorial) returned the squares [9, 16, 25]: it "
            "ignored its `fn` argument. `slow_square` is only the default; run the `fn` the "
            "caller passed."
        )
    _expect_not_reordered(result, [6, 24, 120], "crunch_all([3, 4, 5], math.factorial)")
    exact(result, [6, 24, 120], "crunch_all([3, 4, 5], math.factorial) returned")


@pytest.mark.weight(1)
@pytest.mark.limit(50)
@pytest.mark.hint(3)
@pytest.mark.loop_held_elsewhere  # spawned workers start in 0.1-0.5 s: a spin that long is a race
async def test_works_with_spawn(ex):
    """it works with spawn: importing the module only defines things, and spawned workers run fn"""
    found = await _import_side_effect(ex)
    if found is not None:
        kind, what, at = found
        if kind == "call":
            fail(_IMPORT_WORK.format(what=what, at=at) + " " + _SPAWN_IMPORTS)
        fail(
            f"Importing your module calls `multiprocessing.set_start_method({what!r})` (at "
            f"{at}). That changes the start method of every pool in the whole program, for "
            "whoever imports your module (with force=True, even after someone else chose "
            "one; without it, a second import raises RuntimeError). Choose it for your own "
            "pool only: `ProcessPoolExecutor(mp_context=multiprocessing.get_context(\"spawn\"))`, "
            "or leave the default."
        )
    previous = multiprocessing.get_start_method(allow_none=True)
    runs: list[tuple[str, list[int], Any]] = [
        ("crunch_all([0, 1, 2], report_pid)", [0, 1, 2], report_pid),
        ("crunch_all([4, 5])", [4, 5], None),
    ]
    outputs: list[list[Any]] = []
    failed: tuple[str, list[int], Any, Exception] | None = None
    multiprocessing.set_start_method("spawn", force=True)
    try:
        for call, nums, fn in runs:
            try:
                outputs.append(await _crunch(ex, nums, fn, what=f"{call} with the spawn start method"))
            except Exception as exc:
                failed = (call, nums, fn, exc)
                break
    finally:
        multiprocessing.set_start_method(previous, force=True)
    if failed is not None:
        call, nums, fn, error = failed
        # The same call with the default start method: an error there is not spawn's.
        await _crunch(ex, nums, fn, what=call)
        fail(
            f"With the spawn start method, {call} raised {type(error).__name__}: {error}, "
            "although it works with the default start method. A spawned worker is a fresh "
            "interpreter: it imports your module to find the function and sees none of the "
            "parent's run-time state (globals set by crunch_all, objects it created). Send "
            "everything a call needs as the function and its argument: "
            "`loop.run_in_executor(pool, fn, n)`."
        )
    calls = _calls(outputs[0], runs[0][0], 2)
    squares = outputs[1]
    expect(
        sorted(n for n, _ in calls) == [0, 1, 2],
        f"{runs[0][0]} with the spawn start method returned {calls!r}: fn must be called once for every number.",
    )
    expect(
        all(pid != os.getpid() for _, pid in calls),
        f"With the spawn start method, fn still ran in the event loop's own process. {PROCESSES}",
    )
    exact(
        squares,
        [16, 25],
        "crunch_all([4, 5]) with spawn (a fresh interpreter that imports your module to find "
        "slow_square) returned",
    )


@pytest.mark.weight(1)
@pytest.mark.limit(30)
@pytest.mark.hint(4)
async def test_pool_is_shut_down(ex):
    """the pool is shut down by the time crunch_all returns"""
    what = "crunch_all([1, 2, 3])"
    with _LoopWatch().watching() as watch:
        await _crunch(ex, [1, 2, 3], what=what)
    left_open = [pool for pool in watch.pools if not _shut_down(pool)]
    if not left_open:
        return
    alive = len(multiprocessing.active_children())
    workers = f" ({alive} worker process{'es' if alive != 1 else ''} still running)" if alive else ""
    fail(
        f"{what} returned, but the {type(left_open[0]).__name__} it used was never shut down"
        f"{workers}: its worker processes stay behind, each holding memory, until the "
        "program exits. Shut the pool down when the work is done: `with "
        "ProcessPoolExecutor() as pool:` around the code that awaits the results does it "
        "for you (leaving the block waits for the workers to exit)."
    )


def _shut_down(pool: Any) -> bool:
    """Whether ``shutdown()`` (a ProcessPoolExecutor) or ``close()``/``terminate()`` (a
    multiprocessing Pool) was called on ``pool``."""
    if isinstance(pool, ProcessPoolExecutor):
        return bool(getattr(pool, "_shutdown_thread", True))
    return getattr(pool, "_state", multiprocessing.pool.CLOSE) != multiprocessing.pool.RUN


_IMPORT_WORK = (
    "Importing your module runs work: it calls `{what}` (at {at}). Module-level code runs "
    "on every import, before anyone calls crunch_all."
)
_SPAWN_IMPORTS = (
    "A worker started with spawn (the default on macOS and Windows) imports your module to "
    "find the function, so each worker would run that work again before its first call. "
    "Keep demo code under `if __name__ == \"__main__\":`."
)

#: Run in a fresh interpreter: import the learner's file and report the first call of one
#: of its own functions (decorators aside) or of ``set_start_method``, then stop at once,
#: so work found at import costs nothing more.
_PROBE = r"""
import ast, importlib.util, json, multiprocessing, os, sys
path, name = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.dirname(path))
tree = ast.parse(open(path, encoding="utf-8").read())
decorating = set()
for node in ast.walk(tree):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        for d in node.decorator_list:
            decorating.update(range(d.lineno, (d.end_lineno or d.lineno) + 1))
        if node.decorator_list:
            decorating.add(node.lineno)
def module_line(frame):
    while frame is not None:
        if frame.f_code.co_filename == path and frame.f_code.co_name == "<module>":
            return frame.f_lineno
        frame = frame.f_back
    return 0
def report(kind, what, frame):
    sys.setprofile(None)
    print(); print("@awaitlings-probe " + json.dumps([kind, what, module_line(frame)]), flush=True)
    os._exit(0)
def set_start_method(method=None, force=False):
    report("set_start_method", method, sys._getframe(1))
multiprocessing.set_start_method = set_start_method
multiprocessing.context.DefaultContext.set_start_method = lambda self, *a, **k: set_start_method(*a, **k)
def profile(frame, event, arg):
    code = frame.f_code
    if event == "call" and code.co_filename == path and code.co_flags & 1:  # CO_OPTIMIZED: a function
        if module_line(frame) not in decorating:
            report("call", code.co_qualname, frame)
spec = importlib.util.spec_from_file_location(name, path)
module = importlib.util.module_from_spec(spec)
sys.modules[name] = module
sys.setprofile(profile)
spec.loader.exec_module(module)
sys.setprofile(None)
print(); print("@awaitlings-probe null", flush=True)
os._exit(0)
"""
#: Seconds the import probe may take: a bound only; past it, no verdict.
PROBE_S = 30.0
_PROBED: dict[str, tuple[str, str, str] | None] = {}


async def _import_side_effect(ex: types.ModuleType) -> tuple[str, str, str] | None:
    """What importing the learner's file in a fresh interpreter does besides defining
    things: ``("call", "slow_square", "file:line: source")`` for the first call of one of
    its own functions, ``("set_start_method", "spawn", ...)``; None if neither (or if the
    probe could not tell). Probed once per file."""
    path = getattr(ex, "__file__", None)
    if not path:
        return None
    if path not in _PROBED:
        _PROBED[path] = await asyncio.to_thread(_probe_import, path, ex.__name__)
    return _PROBED[path]


def _probe_import(path: str, name: str) -> tuple[str, str, str] | None:
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _PROBE, path, name],
            capture_output=True,
            text=True,
            timeout=PROBE_S,
            env={},
            cwd=os.path.dirname(path),
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = [line for line in done.stdout.splitlines() if line.startswith("@awaitlings-probe ")]
    found = json.loads(lines[-1].split(" ", 1)[1]) if lines else None
    if not found:
        return None
    kind, what, line = found
    return kind, str(what), describe_line(path, int(line)) if line else os.path.basename(path)
