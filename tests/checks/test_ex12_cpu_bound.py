"""Checks for ex12 cpu_bound: CPU-bound work in a pool of worker processes.

A process pool pickles the function it runs, so the fakes here are module-level functions
of ``grader.workerprobes``, quickly importable by every worker whatever its start method:
``report_pid`` tells which process ran a call (it phones the check's ``Roll``, which
reads the caller's pid from the kernel and answers a token only it can map back to that
pid, so a result cannot claim another process); ``call_switchboard`` phones a loopback
server on the check's event loop and waits (with a time limit) for its answer, which
proves the loop was free while the workers ran and lets a check decide the order in which
calls finish -- ordering, not timing. Any pool of processes passes: ``ProcessPoolExecutor``
with ``run_in_executor`` + ``gather``, ``executor.map`` or ``multiprocessing.Pool.map`` run
in a thread, own or default start method, shut down by the time crunch_all returns (the
contract). Whether importing the module runs work or sets the start method is probed in a
fresh interpreter that stops at the first call of one of the module's own functions.

Wrong answers are judged from evidence, not by waiting out the workers' time limit: while
they run, a thread of the grader's reads the loop thread's stack. A loop thread running
``fn`` itself, or waiting on a thread primitive inside the learner's code (``pool.map``,
``future.result()``), cannot answer a worker: the watch hangs up on such calls at once.
Calls handed to a pool are counted, so the first call knows without waiting when no
second one was sent; and once as many calls are held as the pools have workers, no
further one can start: a hold stops waiting then.

The learner's code runs in a worker process (``grader.split``), and so do its pools: the
board, the watch and the counts are there too (``grader.probes.crunch``), and what they
saw is the worker's account (SECURITY.md lists the checks that rest on it). The values
``crunch_all`` returns, and which processes ran ``report_pid`` (the roll is the
checker's), are judged here.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import os
from dataclasses import dataclass, field
from typing import Any

import pytest

from grader import probes
from grader.probes import Roll, call_learner, exact, expect, fail, here
from grader.split import checker
from grader.workerprobes import SWITCHBOARD_ACK_S, call_switchboard, report_pid

# The learner's code runs in a worker process; these checks hold proxies (grader.split).
# Default pools size themselves from the core count: the worker shows them two or more
# before it imports the learner's module, so a default pool can run two calls at once
# even on a single-core grading machine (or one whose CPU affinity allows a single core).
pytestmark = [pytest.mark.split, pytest.mark.worker_setup("at_least_two_cores")]

#: Seconds the first call waits for a second one to start (a second worker process may have
#: to start first, which is slow on a loaded machine). Only sequential answers wait this long.
PARALLEL_WAIT_S = 10.0
#: Seconds call 0 is held back waiting for the other calls to finish. Only a pool that cannot
#: run them at the same time (one worker, or one chunk) waits this long -- and still passes.
HOLD_S = 5.0
#: Seconds a whole crunch_all call may take (pool start-up included).
CALL_S = 25.0
PROCESSES = (
    "Use a pool of worker processes: `with ProcessPoolExecutor() as pool:` then "
    "`await asyncio.gather(*(loop.run_in_executor(pool, fn, n) for n in nums))`."
)


@dataclass
class _Watched:
    """What the worker saw of one crunch_all call (its account: ``grader.probes.crunch``)."""

    #: Calls handed to process pools (a map counts two: many at once).
    handoffs: int = 0
    #: Calls handed out when the first one reached the loop (the "parallel" hold).
    handed_out: int | None = None
    #: Then, the size of the one chunk they all went in (a map's chunksize), if so.
    one_chunk: int | None = None
    #: Where the loop's thread was when it was seen blocked.
    where: str | None = None
    #: The pools' width, when a hold stopped waiting because they were full.
    full_width: int | None = None
    #: The most calls ever waiting on the board at once: index -> pid.
    peak_in_flight: dict[int, int] = field(default_factory=dict)
    #: ``(type name, value)`` of what was handed to a pool as the function, not callable.
    not_callable: list[tuple[str, Any]] = field(default_factory=list)
    #: Shutdowns with ``cancel_futures=True``.
    cancelled_futures: int = 0
    #: ``(type name, shut down)`` of each pool calls were handed to.
    pools: list[tuple[str, bool]] = field(default_factory=list)
    #: The worker's child processes still running when the call returned.
    active_children: int = 0

    @classmethod
    def from_facts(cls, facts: Any) -> _Watched:
        if not isinstance(facts, dict):
            return cls()
        peak = facts.get("peak_in_flight")
        return cls(
            handoffs=_int(facts.get("handoffs")),
            handed_out=facts.get("handed_out") if type(facts.get("handed_out")) is int else None,
            one_chunk=facts.get("one_chunk") if type(facts.get("one_chunk")) is int else None,
            where=str(facts["where"])[:400] if facts.get("where") else None,
            full_width=facts.get("full_width") if type(facts.get("full_width")) is int else None,
            peak_in_flight={int(i): int(p) for i, p in peak.items()} if isinstance(peak, dict) else {},
            not_callable=[(str(pair[0])[:100], pair[1]) for pair in facts.get("not_callable") or [] if len(pair) == 2],
            cancelled_futures=_int(facts.get("cancelled_futures")),
            pools=[(str(pair[0])[:100], bool(pair[1])) for pair in facts.get("pools") or [] if len(pair) == 2],
            active_children=_int(facts.get("active_children")),
        )


def _int(value: Any) -> int:
    return value if type(value) is int else 0


def _loop_pid() -> int | None:
    """The pid of the learner's process (the worker's, as the zygote that forked it said
    before the learner's module was imported)."""
    link = checker.current()
    return None if link is None else link.pid


async def _crunch(
    ex: Any,
    nums: list[int],
    fn: Any = None,
    *,
    what: str,
    board: list[int] | None = None,
    hold: dict[str, Any] | None = None,
    roll: Roll | None = None,
) -> tuple[list[Any], _Watched]:
    """Await ``ex.crunch_all`` with a time limit, watched in the worker (with a board for
    calls ``board``, whose numbers replace ``nums``, and the check's ``hold``); turn the
    usual process-pool mistakes into explanations (``roll``: the one ``nums`` report to)."""
    expect(
        inspect.iscoroutinefunction(getattr(ex, "crunch_all", None)),
        "`crunch_all` must be defined with `async def`: it is awaited on the event loop.",
    )
    crunch = await here.ask("crunch_open", hold, board is not None)
    if board is not None:
        nums = await here.ask("crunch_numbers", crunch, board)
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
    watched = _Watched.from_facts(await here.ask("crunch_close", crunch))
    if error is not None:  # explained outside the `except`, so no chained traceback shows
        _explain_handed_over(error, watched, nums, fn, what, roll)
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
    return result, watched


def _explain_handed_over(
    error: BaseException, seen: _Watched, nums: list[int], fn: Any, what: str, roll: Roll | None = None
) -> None:
    """Explain an error that follows from what was handed to the pool."""
    if isinstance(error, TypeError) and "not callable" in str(error) and seen.not_callable:
        kind, value = seen.not_callable[0]
        results = [n * n for n in nums] if fn is None else [fn(n) for n in nums] if fn is math.factorial else []
        ran_here = value in results or (
            # What report_pid returned: the roll says which process asked for that token.
            roll is not None
            and type(value) is tuple
            and len(value) == 2
            and (roll.caller(value[1]) or (None, None))[1] == _loop_pid()
        )
        how = (
            f": {value!r} is what fn returns for one of the numbers, so fn(n) was called right "
            "there, on the event loop (blocking it), and its result handed to the pool in place "
            "of the function"
            if ran_here
            else ""
        )
        fail(
            f"{what} raised TypeError: {error}. The pool was handed {kind} "
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


def _reported(roll: Roll, calls: list[tuple[Any, ...]], count: int, what: str) -> list[tuple[int, int | None]]:
    """``(i, pid)`` for each ``report_pid`` result, in order: which process made each call,
    as the roll heard it from the kernel. A result the roll never gave out fails."""
    ran = [roll.caller(token) for _, token in calls]
    if any(caller is None or caller[0] != index for caller, (index, _) in zip(ran, calls, strict=True)):
        fail(
            f"{what} returned {calls!r}, which are not the values fn returned for these "
            "numbers: what fn returns should come back unchanged, one per number."
        )
    found = [caller for caller in ran if caller is not None]
    expect(
        sorted(index for index, _ in found) == list(range(count)),
        f"{what} returned results for {['n' + str(index) for index, _ in found]}: fn must be "
        "called once for every number.",
    )
    return found


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
    result, _ = await _crunch(ex, [3, 1, 2], what="crunch_all([3, 1, 2])")
    _expect_not_reordered(result, [9, 1, 4], "crunch_all([3, 1, 2])")
    exact(result, [9, 1, 4], "crunch_all([3, 1, 2]) returned")
    empty, _ = await _crunch(ex, [], what="crunch_all([])")
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
    what = "crunch_all([n0, n1, n2, n3], report_pid)"
    async with Roll() as roll:
        result, _ = await _crunch(ex, [roll.number(i) for i in range(4)], report_pid, what=what, roll=roll)
    ran = _reported(roll, _calls(result, what, 2), 4, what)
    loop_pid = _loop_pid()
    inside = [f"n{n}" for n, pid in ran if pid == loop_pid]
    if inside:
        fail(
            f"fn ran in the event loop's own process (pid {loop_pid}) for {', '.join(inside)}: on the loop "
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
    # The first call is not answered before a second one is in flight (or the wait ran
    # out), unless a free loop had handed exactly one call to a pool: then no second one
    # can come while it waits. Later calls are answered at once.
    what = "crunch_all([n0, ..., n7], fn)"
    hold = {"kind": "parallel", "wait_s": PARALLEL_WAIT_S}
    result, watch = await _crunch(ex, [], call_switchboard, what=what, board=list(range(8)), hold=hold)
    calls = _calls(result, what, 3)
    if not all(answered for _, _, answered in calls):
        fail(
            "While fn ran, the event loop did not answer its calls"
            + (f" (its thread was at {watch.where})" if watch.where else "")
            + ": the loop was blocked, so parallelism could not be observed. Await the "
            "results instead of waiting for them on the loop's thread (see the check on the "
            "loop staying responsive)."
        )
    overlap = watch.peak_in_flight if len(watch.peak_in_flight) >= 2 else {}
    pids = set(overlap.values())
    if len(pids) >= 2:
        return
    handed_out = watch.handed_out
    if overlap:
        fail(
            "Calls ran at the same time, but in threads of one process"
            + (" (the event loop's own)" if _loop_pid() in pids else "")
            + ": threads take turns holding the GIL, so pure-Python work in them does not run "
            f"in parallel. {PROCESSES}"
        )
    if watch.one_chunk is not None:
        fail(
            f"All {watch.one_chunk} numbers were handed to the pool as one chunk (a `map` whose "
            "`chunksize` holds them all): one worker process takes the whole chunk and "
            "computes it one number after another, while the other workers have nothing to "
            "do. Leave chunksize at its default of 1 (or small enough to give every worker "
            "a share). " + PROCESSES
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


@pytest.mark.weight(1)
@pytest.mark.limit(40)
@pytest.mark.hint(2)
async def test_loop_keeps_running(ex):
    """the event loop keeps running while the workers compute"""
    what = "crunch_all([a, b, c], fn)"
    result, watch = await _crunch(ex, [], call_switchboard, what=what, board=[0, 1, 2])
    calls = _calls(result, what, 3)
    if all(answered for _, _, answered in calls):
        return
    if any(pid == _loop_pid() for _, pid, _ in calls):
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
    # sorted order nor (the first call finishes last) the order they finish in: the first
    # number finishes after all the others, unless they are sent only once it is done.
    expected = INPUT_ORDER
    first = expected[0]
    what = "crunch_all([n3, n0, n5, n1, n4, n2], fn)"
    hold = {"kind": "finish_last", "first": first, "others": expected[1:], "wait_s": HOLD_S}
    result, _ = await _crunch(ex, [], call_switchboard, what=what, board=expected, hold=hold)
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
    result, _ = await _crunch(ex, [3, 4, 5], math.factorial, what="crunch_all([3, 4, 5], math.factorial)")
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
    async with Roll() as roll:
        runs: list[tuple[str, list[int], Any]] = [
            ("crunch_all([n0, n1, n2], report_pid)", [roll.number(i) for i in range(3)], report_pid),
            ("crunch_all([4, 5])", [4, 5], None),
        ]
        outputs: list[list[Any]] = []
        failed: tuple[str, list[int], Any, Exception] | None = None
        previous = await here.ask("start_method", "spawn")
        try:
            for call, nums, fn in runs:
                try:
                    what = f"{call} with the spawn start method"
                    outputs.append((await _crunch(ex, nums, fn, what=what, roll=roll))[0])
                except Exception as exc:
                    failed = (call, nums, fn, exc)
                    break
        finally:
            await here.ask("start_method", previous)
        if failed is not None:
            call, nums, fn, error = failed
            # The same call with the default start method: an error there is not spawn's.
            await _crunch(ex, nums, fn, what=call, roll=roll)
            fail(
                f"With the spawn start method, {call} raised {type(error).__name__}: {error}, "
                "although it works with the default start method. A spawned worker is a fresh "
                "interpreter: it imports your module to find the function and sees none of the "
                "parent's run-time state (globals set by crunch_all, objects it created). Send "
                "everything a call needs as the function and its argument: "
                "`loop.run_in_executor(pool, fn, n)`."
            )
    ran = _reported(roll, _calls(outputs[0], runs[0][0], 2), 3, f"{runs[0][0]} with the spawn start method")
    squares = outputs[1]
    expect(
        all(pid != _loop_pid() for _, pid in ran),
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
    _, watch = await _crunch(ex, [1, 2, 3], what=what)
    left_open = [kind for kind, shut in watch.pools if not shut]
    if not left_open:
        return
    alive = watch.active_children
    workers = f" ({alive} worker process{'es' if alive != 1 else ''} still running)" if alive else ""
    fail(
        f"{what} returned, but the {left_open[0]} it used was never shut down"
        f"{workers}: its worker processes stay behind, each holding memory, until the "
        "program exits. Shut the pool down when the work is done: `with "
        "ProcessPoolExecutor() as pool:` around the code that awaits the results does it "
        "for you (leaving the block waits for the workers to exit)."
    )


_IMPORT_WORK = (
    "Importing your module runs work: it calls `{what}` (at {at}). Module-level code runs "
    "on every import, before anyone calls crunch_all."
)
_SPAWN_IMPORTS = (
    "A worker started with spawn (the default on macOS and Windows) imports your module to "
    "find the function, so each worker would run that work again before its first call. "
    "Keep demo code under `if __name__ == \"__main__\":`."
)
_PROBED: dict[str, tuple[str, str, str] | None] = {}


async def _import_side_effect(ex: Any) -> tuple[str, str, str] | None:
    """What importing the learner's file in a fresh interpreter does besides defining
    things (the worker runs it: ``grader.probes.crunch.import_side_effect``):
    ``("call", "slow_square", "file:line: source")`` for the first call of one of its own
    functions, ``("set_start_method", "spawn", ...)``; None if neither (or if the probe
    could not tell). Probed once per file."""
    path = probes.TARGET_FILE  # the learner's file, as the checker imported it there
    if not path:
        return None
    if path not in _PROBED:
        found = await here.ask("import_side_effect", path, os.path.splitext(os.path.basename(path))[0])
        _PROBED[path] = (
            (str(found[0])[:40], str(found[1])[:200], str(found[2])[:400])
            if isinstance(found, list) and len(found) == 3
            else None
        )
    return _PROBED[path]
