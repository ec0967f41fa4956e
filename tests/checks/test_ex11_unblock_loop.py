"""Checks for ex11 unblock_loop: move blocking work off the event loop.

Every fake ``hash_fn`` here really blocks the thread it runs in (``threading.Event.wait``,
``threading.Barrier.wait``), so a call made on the loop's own thread, or a loop that waits
for a worker thread, freezes everything. The checks decide from evidence, not by waiting
out a time limit: a call on the loop's own thread is known to block it at once; from a
worker thread, a fake pings the loop (a callback only a free loop runs) and meanwhile
reads the loop thread's stack: a loop thread waiting on a thread primitive inside the
learner's code (``future.result()``, ``thread.join()``...) is blocked, no need to wait.
Calls handed to threads are counted (``ThreadPoolExecutor.submit``, ``Thread.start``), so
a fake waiting for the other calls knows at once when they were not all handed out, and
soon when every worker of the pool is already inside a call (none is left to start one). ``WAIT_S``
bounds only what no evidence settles. Any way of running ``hash_fn`` in a thread passes
(``asyncio.to_thread``, ``loop.run_in_executor`` with the default or an own
``ThreadPoolExecutor``, ``asyncio.wrap_future``).

The learner's code runs in a worker process (``grader.split``), and so do the threads it
hands ``hash_fn`` to: the fakes and the watch are there too (``grader.probes.unblock``),
and what they saw is the worker's account (SECURITY.md lists the checks that rest on
it). The digests returned are judged here.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from typing import Any

import pytest

from grader.probes import call_learner, exact, expect, fail, here
from grader.probes.unblock import WAIT_S
from grader.probes.witness import LoopWitness
from grader.split import checker
from grader.split.checker import WAKE_PATIENCE_S

# The learner's code runs in a worker process; these checks hold proxies (grader.split).
pytestmark = pytest.mark.split

FIX = (
    "Run the blocking call in a worker thread and await it: "
    "`return await asyncio.to_thread(hash_fn, request)` (or "
    "`await loop.run_in_executor(None, hash_fn, request)`)."
)


def _digest(request: bytes) -> bytes:
    return hashlib.sha256(request).digest()


def _require_async(ex: Any) -> None:
    for name in ("handle", "handle_many"):
        expect(
            inspect.iscoroutinefunction(getattr(ex, name, None)),
            f"`{name}` must be defined with `async def`: callers await it on the event loop.",
        )


async def _run(
    what: str, call: Any, kind: str = "none", count: int = 0, timeout: float = 8.0, witness: Any = None
) -> tuple[object, dict[str, Any]]:
    """Await the learner's coroutine ``call(hash_fn)`` with a time limit, ``hash_fn`` the
    worker's fake ``kind`` for ``count`` requests (None for "none": ``call`` passes its
    own), watched in the worker (and by the checker's ``witness``, which the fake calls);
    reject an un-awaited result. Returns the result and what the worker saw
    (``grader.probes.unblock.Session.close``)."""
    session = await here.ask("hash_open", kind, count, witness)
    fake = await here.ask("hash_fake", session) if kind != "none" else None
    awaitable = call(fake)
    try:
        result = await call_learner(what, awaitable, timeout)
    except Exception as exc:
        error: Exception | None = exc
    else:
        error = None
    seen = await here.ask("hash_close", session)
    seen = seen if isinstance(seen, dict) else {}
    if error is not None:  # explained outside the `except`, so no chained traceback shows
        sent = seen.get("process_pools") or []
        if sent:
            fail(
                f"{what} sent hash_fn to a process pool ({str(sent[0])[:60]}), and the call failed "
                f"with {type(error).__name__}: a process pool pickles the function to send it "
                "to another process, and hash_fn need not be picklable (a nested "
                "function, a lambda or an object holding a lock cannot be). hash_fn blocks "
                "while it waits; it needs a worker *thread*, which runs it in this process "
                f"as it is. {FIX}"
            )
        if isinstance(error, TypeError) and "not callable" in str(error) and _int(seen.get("on_loop_thread")):
            fail(
                f"{what} raised TypeError: {_plain(error)}. hash_fn was called right there, on "
                "the event loop's thread (blocking it), and its result, bytes, was handed on "
                "in place of the function: in `asyncio.to_thread(hash_fn(request))` or "
                "`loop.run_in_executor(None, hash_fn(request))` the parentheses call hash_fn "
                "before any thread is asked to. Pass the function and its argument "
                "separately, so the worker thread makes the call: "
                "`await asyncio.to_thread(hash_fn, request)`."
            )
        raise error
    if inspect.isawaitable(result):
        fail(
            f"{what} returned {_kind(result)}, an awaitable, instead of bytes: a missing `await`. "
            "`asyncio.to_thread(...)` and `loop.run_in_executor(...)` only start the work; "
            "`await` them to get hash_fn's result (and its exceptions)."
        )
    if type(result) is list and any(inspect.isawaitable(item) for item in result):
        kinds = sorted({type(item).__name__ for item in result if inspect.isawaitable(item)})
        fail(
            f"{what} returned a list of {' and '.join(kinds)} objects, awaitables, instead of "
            "bytes: a missing `await` in handle. `asyncio.to_thread(...)` and "
            "`loop.run_in_executor(...)` only start the work; `await` them inside handle, "
            "so that each handle() returns hash_fn's bytes."
        )
    return result, seen


def _int(value: Any) -> int:
    return value if type(value) is int else 0


def _kind(value: object) -> str:
    """An object named by its type alone (a Future's repr holds asyncio's file paths)."""
    name = type(value).__name__
    return f"a{'n' if name[:1].lower() in 'aeiou' else ''} {name} object"


def _short(value: object, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 15] + f"... ({len(text)} chars)"


def _grouped(stacks: list[str]) -> str:
    """``task f: waiting at X`` lines as each place once, with how many tasks wait there."""
    places: dict[str, int] = {}
    for line in stacks:
        place = line.split("waiting at ", 1)[-1]
        places[place] = places.get(place, 0) + 1
    return "; ".join(f"{n} at {place}" for place, n in places.items())


def _plain(exc: BaseException) -> str:
    """An exception's text without the check's own function names."""
    return re.sub(r"\btest_\w+\.<locals>\.", "", str(exc))


def _witness() -> LoopWitness | None:
    """The checker's own witness of the loop's thread, in a split run."""
    return LoopWitness() if checker.current() is not None else None


def _judge_witness(witness: LoopWitness | None, requests: list[bytes], what: str) -> None:
    """Fail on what the checker's witness saw, where the worker's fake saw nothing wrong:
    a call of hash_fn it was not told of, or the loop's thread held during a call."""
    if witness is None:
        return
    seen = sorted(str(r) for r in witness.requests())
    expect(
        seen == sorted(str(r) for r in requests),
        f"{what}: the calls of hash_fn were not one per request ({len(witness.seen)} calls for "
        f"{len(requests)} requests, by the checker's own count).",
    )
    if witness.kernel_only():
        fail(
            f"{what}: while hash_fn ran, the event loop's thread did not wake when its loop was "
            f"woken: it stayed asleep in another wait for {WAKE_PATIENCE_S:g}s (the operating "
            "system's account of that thread). So the loop could run nothing else meanwhile: "
            "hash_fn ran on the loop's own thread, or that thread waited for the one that ran "
            f"it. {FIX}"
        )


def _blocked_message(seen: dict[str, Any], what: str) -> str:
    """Why the ping fake's calls went unanswered (``seen``: the worker's account)."""
    if _int(seen.get("on_loop_thread")):
        return (
            f"{what}: hash_fn ran on the event loop's own thread and blocked it. For as "
            "long as a call like that runs, the loop can run nothing else: no other task, "
            "timer, callback or connection (a real hash_fn that takes a second freezes a "
            "server for a second). "
            "Putting the call inside an `async def` does not make it non-blocking; only "
            f"awaiting something that really waits does. {FIX}"
        )
    blocked_where = seen.get("blocked_where")
    where = (
        f"it was waiting for that thread at {str(blocked_where)[:400]}"
        if blocked_where
        else f"it ran no callback for {WAIT_S:g}s"
    )
    return (
        f"{what}: hash_fn ran in another thread, but the event loop's thread was blocked "
        f"meanwhile: {where}. Waiting for a thread with `future.result()`, "
        "`executor.shutdown(wait=True)` or `thread.join()` on the loop's thread blocks "
        "the loop just as the call itself would. Await the result instead: "
        "`await asyncio.to_thread(...)`, `await loop.run_in_executor(...)` or "
        "`await asyncio.wrap_future(future)`."
    )


@pytest.mark.weight(1)
@pytest.mark.hint(2)
async def test_handle_returns_hash_fn_result(ex):
    """handle returns exactly the bytes hash_fn returned"""
    _require_async(ex)
    result, seen = await _run("handle(b'hello', hash_fn)", lambda fake: ex.handle(b"hello", fake), "plain")
    exact(result, _digest(b"hello"), "handle(b'hello', sha256) returned")
    calls = seen.get("calls")
    expect(
        calls == [b"hello"],
        f"hash_fn was called with {calls!r}; handle should call it exactly once, with the "
        "request it was given.",
    )


@pytest.mark.weight(3)
@pytest.mark.limit(20)
@pytest.mark.hint(1)
async def test_loop_runs_while_handle_blocks(ex):
    """the event loop keeps running while hash_fn blocks inside handle"""
    _require_async(ex)
    witness = _witness()
    what = "handle(b'ping', hash_fn)"
    result, seen = await _run(what, lambda fake: ex.handle(b"ping", fake), "ping", witness=witness)
    calls = seen.get("calls")
    expect(calls == [b"ping"], f"handle called hash_fn with {calls!r}, not once with the request.")
    if _int(seen.get("unanswered")):
        fail(_blocked_message(seen, what))
    _judge_witness(witness, [b"ping"], what)
    exact(result, _digest(b"ping"), "handle(b'ping', hash_fn) returned")


@pytest.mark.weight(2)
@pytest.mark.limit(20)
@pytest.mark.hint(1)
async def test_loop_runs_while_handle_many_blocks(ex):
    """the event loop keeps running during every hash_fn call of handle_many"""
    _require_async(ex)
    requests = [b"a", b"b", b"c"]
    what = f"handle_many({requests!r}, hash_fn)"
    witness = _witness()
    result, seen = await _run(what, lambda fake: ex.handle_many(requests, fake), "ping", witness=witness)
    calls = seen.get("calls")
    calls = sorted(c for c in calls if type(c) is bytes) if isinstance(calls, list) else calls
    expect(
        calls == requests,
        f"{what} called hash_fn with {calls!r}: every request must be hashed exactly once.",
    )
    if _int(seen.get("unanswered")):
        fail(_blocked_message(seen, what))
    _judge_witness(witness, requests, what)
    expect(
        type(result) is list and all(type(r) is bytes for r in result),
        f"handle_many must return a list of the bytes hash_fn returned, got {_short(result)}.",
    )


@pytest.mark.weight(2)
@pytest.mark.limit(20)
@pytest.mark.hint(3)
async def test_handle_many_overlaps_calls(ex):
    """handle_many runs all the hash_fn calls at the same time"""
    # The fake (``grader.probes.unblock.MeetAll``): no call returns before all four are
    # inside it at once, while the rest can still come.
    _require_async(ex)
    requests = [b"r1", b"r2", b"r3", b"r4"]
    count = len(requests)
    what = f"handle_many({requests!r}, hash_fn)"
    result, seen = await _run(what, lambda fake: ex.handle_many(requests, fake), "meet_all", count)
    # Judged on a complete result only: then every call has returned, and what the fake
    # saw is final.
    expect(
        type(result) is list and len(result) == count and all(type(r) is bytes for r in result),
        f"{what} must return a list of the {count} bytes hash_fn returned, got {_short(result)}.",
    )
    arrivals = _int(seen.get("arrivals"))
    expect(arrivals == count, f"hash_fn was called {arrivals} times for {count} requests.")
    if seen.get("met") is True:
        return
    on_loop = _int(seen.get("on_loop_thread"))
    if on_loop:
        which = "The hash_fn calls" if on_loop == count else f"{on_loop} of the {count} hash_fn calls"
        fail(
            f"{which} ran on the event loop's thread, so nothing else could start while "
            f"{'they' if on_loop > 1 else 'it'} ran (the loop was frozen meanwhile). "
            f"{FIX} Then gather the handle() coroutines so the threads run at the same time."
        )
    handed_out = seen.get("handed_out")
    if type(handed_out) is not int:
        blocked_where = seen.get("blocked_where")
        where = (
            f"the event loop's thread was waiting for it at {str(blocked_where)[:400]}"
            if blocked_where
            else f"the event loop ran no callback for {WAIT_S:g}s"
        )
        handed = _int(seen.get("handoffs"))
        if handed >= count:
            # Everything was handed out (a pool's map, say), and then the loop's thread
            # waited for the results instead of awaiting them.
            at = f"at {str(blocked_where)[:400]}" if blocked_where else f"(it ran no callback for {WAIT_S:g}s)"
            fail(
                f"The {count} hash_fn calls were handed to threads, but meanwhile the event "
                f"loop's thread was waiting {at}: "
                "the loop's thread waited for their results instead of awaiting them, so the "
                "loop was blocked while they ran. Await the results instead of waiting on the "
                "loop's thread (see the check on the loop staying responsive)."
            )
        fail(
            f"The first hash_fn call ran in a thread, but meanwhile {where}, so no other call "
            "could be handed out. Await the result instead of waiting on the loop's thread "
            "(see the check on the loop staying responsive)."
        )
    gather = (
        "Hand each request to a thread of its own, all before waiting for any: "
        "`await asyncio.gather(*(handle(r, hash_fn) for r in requests))`."
    )
    handoffs = _int(seen.get("handoffs"))
    if handed_out < 2:
        if handoffs == 1 and seen.get("threads") == 1:
            fail(
                f"All {count} hash_fn calls ran in one thread, one after another: handle_many "
                "handed a single piece of work to a thread, which made every call itself. The "
                f"loop stayed free, but the requests were not hashed at the same time. {gather}"
            )
        how = (
            " and the next ones were handed out only after it returned (each handle() awaited "
            "before the next was started)"
            if handoffs >= count
            else ""
        )
        fail(
            "While the first hash_fn call ran in a thread, the event loop was free, yet only "
            f"that one call had been handed to a thread{how}: the calls ran one after "
            f"another. {gather}"
        )
    if handed_out < count:
        waiting = [str(line)[:400] for line in seen.get("waiting") or []][:20]
        where = f" (where the tasks of your code waited: {_grouped(waiting)})" if waiting else ""
        fail(
            f"While the first hash_fn call ran in a thread, the event loop was free, yet only "
            f"{handed_out} of the {count} calls had been handed to threads{where}: the "
            "others started only once earlier ones returned. handle_many must handle all the "
            "requests at the same time, however many there are; a cap on how many run at "
            f"once (an `asyncio.Semaphore`, batches) holds the rest back. {gather}"
        )
    width = seen.get("full_width")
    if type(width) is int:
        fail(
            f"All {count} hash_fn calls had been handed to a thread pool, but it ran only "
            f"{width} at a time: its {width} worker thread{'s were' if width > 1 else ' was'} "
            "busy, and the other calls queued behind them. A pool with fewer workers than "
            "requests (`max_workers=1`, `max_workers=os.cpu_count()`) cannot run them all at "
            "once. Use the default pool (`asyncio.to_thread`), or one with a worker per "
            "request."
        )
    fail(
        f"The first hash_fn call waited {WAIT_S:g}s for all {count} calls to be running at "
        f"once, in vain, although {handed_out} calls had been handed to threads. Make "
        "sure the threads they go to can run them all at the same time: the default pool "
        "(`asyncio.to_thread`) can."
    )


#: Enough requests that an unordered collection (a set of futures) practically never
#: comes back in request order, as two requests easily do.
ORDER_COUNT = 12


@pytest.mark.weight(1)
@pytest.mark.limit(20)
@pytest.mark.hint(3)
async def test_handle_many_keeps_request_order(ex):
    """handle_many returns results in request order, not completion order"""
    # The fake (``grader.probes.unblock.FirstFinishesLast``): the call for b"r0" returns
    # only once every other call has returned and the loop has seen them finish.
    _require_async(ex)
    requests = [b"r%d" % i for i in range(ORDER_COUNT)]
    what = f"handle_many([b'r0', ..., b'r{ORDER_COUNT - 1}'], hash_fn)"
    result, seen = await _run(what, lambda fake: ex.handle_many(requests, fake), "first_last", ORDER_COUNT)
    finished = seen.get("finished") if isinstance(seen.get("finished"), list) else []
    by_digest = {_digest(r): i for i, r in enumerate(requests)}
    if type(result) is list and len(result) == len(requests) and all(
        type(r) is bytes and r in by_digest for r in result
    ):
        order = [by_digest[r] for r in result]
        expected = list(range(ORDER_COUNT))
        if sorted(order) == expected and order != expected:
            if result == sorted(result):
                how = (
                    "the order of the sorted digests: sorting the results does not restore "
                    "the order of the requests; keep them in request order from the start"
                )
            elif order == expected[::-1]:
                how = "the reverse of request order"
            elif order == finished or (order[-1] == 0 and finished[-1:] == [0]):
                how = (
                    "the order the calls finished in (request 0, made to finish last, came "
                    "last): `as_completed`, or a list each task appends to as it ends, gives "
                    "completion order"
                )
            else:
                how = (
                    "neither request order nor the order the calls finished in: an unordered "
                    "collection, such as the `done` set returned by `asyncio.wait` (a set has "
                    "no order), gives an order like that"
                )
            fail(
                f"{what} returned the results for requests {order}: {how}. Callers match "
                "results to requests by position: `asyncio.gather(...)` returns them in "
                "argument order, whatever order the calls finish in."
            )
    exact(result, [_digest(r) for r in requests], f"{what} returned")


@pytest.mark.weight(1)
@pytest.mark.hint(3)
async def test_handle_many_of_nothing(ex):
    """handle_many([]) returns []"""
    _require_async(ex)
    try:
        empty, _ = await _run("handle_many([], hash_fn)", lambda _: ex.handle_many([], _digest))
    except Exception as exc:
        error: Exception | None = exc
    else:
        error = None
    if error is not None:  # explained outside the `except`, so no chained traceback shows
        fail(
            f"handle_many([], hash_fn) raised {type(error).__name__}: {str(error).rstrip('.')}. No requests "
            "means no results: it should return []. (A pool sized `max_workers=len(requests)` "
            "cannot be created for zero requests, and `asyncio.wait()` refuses an empty set; "
            "the default pool, or `asyncio.gather()` of nothing, handles this for free.)"
        )
    exact(empty, [], "handle_many([], hash_fn) returned")


@pytest.mark.weight(1)
@pytest.mark.hint(2)
async def test_handle_propagates_hash_fn_error(ex):
    """an exception raised by hash_fn comes out of handle unchanged"""
    _require_async(ex)
    boom = ValueError("malformed request")

    def broken(request: bytes) -> bytes:
        raise boom

    try:
        result, _ = await _run("handle(b'bad', hash_fn)", lambda _: ex.handle(b"bad", broken))
    except Exception as exc:
        expect(
            exc is boom,
            f"handle raised {type(exc).__name__}: {_plain(exc)} instead of the ValueError hash_fn "
            "raised. Let it propagate unchanged: `await asyncio.to_thread(...)` re-raises the "
            "thread's exception in the awaiting coroutine; do not wrap or replace it.",
        )
    else:
        fail(
            f"hash_fn raised ValueError('malformed request'), but handle returned {_short(result)}. "
            "Do not swallow errors: a caller must learn that its request failed. Awaiting "
            "`asyncio.to_thread(...)` re-raises the thread's exception for you."
        )
