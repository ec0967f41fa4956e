"""Checks for ex11 unblock_loop: move blocking work off the event loop.

Every fake ``hash_fn`` here really blocks the thread it runs in (``threading.Event.wait``,
``threading.Barrier.wait``), always with a time limit, so a wrong answer fails with an
explanation instead of hanging. Responsiveness is proved by event order, not by timing:
the fake schedules a callback on the loop and waits for it to run, which only happens if
the loop's thread is free while ``hash_fn`` blocks (a call made on the loop's own thread
is known to block it at once, without waiting). Any way of running ``hash_fn`` in a
thread passes (``asyncio.to_thread``, ``loop.run_in_executor`` with the default or an own
``ThreadPoolExecutor``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import threading
import types

import pytest

from grader.probes import call_learner, exact, expect, fail

#: Seconds a fake waits for something that a correct solution provides in milliseconds.
#: Only wrong answers ever wait this long (once per check).
WAIT_S = 5.0

FIX = (
    "Run the blocking call in a worker thread and await it: "
    "`return await asyncio.to_thread(hash_fn, request)` (or "
    "`await loop.run_in_executor(None, hash_fn, request)`)."
)


def _digest(request: bytes) -> bytes:
    return hashlib.sha256(request).digest()


def _require_async(ex: types.ModuleType) -> None:
    for name in ("handle", "handle_many"):
        expect(
            inspect.iscoroutinefunction(getattr(ex, name, None)),
            f"`{name}` must be defined with `async def`: callers await it on the event loop.",
        )


async def _run(what: str, awaitable: object, timeout: float = 8.0) -> object:
    """Await the learner's coroutine with a time limit; reject an un-awaited result."""
    result = await call_learner(what, awaitable, timeout)  # type: ignore[arg-type]
    if inspect.isawaitable(result):
        fail(
            f"{what} returned {result!r}, an awaitable, instead of bytes: a missing `await`. "
            "`asyncio.to_thread(...)` and `loop.run_in_executor(...)` only start the work; "
            "`await` them to get hash_fn's result (and its exceptions)."
        )
    return result


class _LoopPing:
    """A blocking ``hash_fn``: each call schedules a callback on the loop and waits (at most
    ``WAIT_S``) until the loop has run it. Only a loop that is free while ``hash_fn`` blocks
    can run it; after one unanswered call the later ones stop waiting."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.loop_thread = threading.get_ident()
        self.calls: list[bytes] = []
        self.on_loop_thread = 0
        self.unanswered = 0
        self._lock = threading.Lock()

    def __call__(self, request: bytes) -> bytes:
        with self._lock:
            self.calls.append(request)
            on_loop_thread = threading.get_ident() == self.loop_thread
            if on_loop_thread:
                self.on_loop_thread += 1
        if on_loop_thread:
            # Certain without waiting: while this call holds the loop's own thread, the
            # loop cannot run the callback (or anything else).
            self.unanswered += 1
            return _digest(request)
        if self.unanswered:
            self.unanswered += 1
            return _digest(request)
        pong = threading.Event()
        with contextlib.suppress(RuntimeError):  # a closed loop certainly does not answer
            self.loop.call_soon_threadsafe(pong.set)
        if not pong.wait(WAIT_S):
            self.unanswered += 1
        return _digest(request)

    def blocked_message(self, what: str) -> str:
        if self.on_loop_thread:
            return (
                f"{what}: hash_fn ran on the event loop's own thread and blocked it. For as "
                "long as a call like that runs, the loop can run nothing else: no other task, "
                "timer, callback or connection (a real hash_fn that takes a second freezes a "
                "server for a second). "
                "Putting the call inside an `async def` does not make it non-blocking; only "
                f"awaiting something that really waits does. {FIX}"
            )
        return (
            f"{what}: hash_fn ran in another thread, but the event loop still did not run a "
            f"callback within {WAIT_S:g}s: the loop's thread was blocked waiting for that "
            "thread (`future.result()`, `executor.shutdown(wait=True)`, `thread.join()`...). "
            "Await the result instead: `await asyncio.to_thread(...)`, "
            "`await loop.run_in_executor(...)` or `await asyncio.wrap_future(future)`."
        )


@pytest.mark.weight(1)
async def test_handle_returns_hash_fn_result(ex):
    """handle returns exactly the bytes hash_fn returned"""
    _require_async(ex)
    seen: list[bytes] = []

    def sha256(request: bytes) -> bytes:
        seen.append(request)
        return _digest(request)

    result = await _run("handle(b'hello', hash_fn)", ex.handle(b"hello", sha256))
    exact(result, _digest(b"hello"), "handle(b'hello', sha256) returned")
    expect(
        seen == [b"hello"],
        f"hash_fn was called with {seen!r}; handle should call it exactly once, with the "
        "request it was given.",
    )


@pytest.mark.weight(3)
@pytest.mark.limit(20)
async def test_loop_runs_while_handle_blocks(ex):
    """the event loop keeps running while hash_fn blocks inside handle"""
    _require_async(ex)
    fake = _LoopPing(asyncio.get_running_loop())
    result = await _run("handle(b'ping', hash_fn)", ex.handle(b"ping", fake))
    expect(fake.calls == [b"ping"], f"handle called hash_fn with {fake.calls!r}, not once with the request.")
    if fake.unanswered:
        fail(fake.blocked_message("handle(b'ping', hash_fn)"))
    exact(result, _digest(b"ping"), "handle(b'ping', hash_fn) returned")


@pytest.mark.weight(2)
@pytest.mark.limit(20)
async def test_loop_runs_while_handle_many_blocks(ex):
    """the event loop keeps running during every hash_fn call of handle_many"""
    _require_async(ex)
    fake = _LoopPing(asyncio.get_running_loop())
    requests = [b"a", b"b", b"c"]
    result = await _run(f"handle_many({requests!r}, hash_fn)", ex.handle_many(requests, fake))
    expect(
        sorted(fake.calls) == requests,
        f"handle_many({requests!r}, hash_fn) called hash_fn with {sorted(fake.calls)!r}: "
        "every request must be hashed exactly once.",
    )
    if fake.unanswered:
        fail(fake.blocked_message(f"handle_many({requests!r}, hash_fn)"))
    expect(
        type(result) is list and all(type(r) is bytes for r in result),
        f"handle_many must return a list of the bytes hash_fn returned, got {result!r}.",
    )


class _MeetTwo:
    """A blocking ``hash_fn``: the first two calls wait for each other at a
    ``threading.Barrier(2)`` (at most ``WAIT_S``). Calls made one after another never meet."""

    def __init__(self, loop_thread: int) -> None:
        self.barrier = threading.Barrier(2, timeout=WAIT_S)
        self.loop_thread = loop_thread
        self.arrivals = 0
        self.met = 0
        self.missed = 0
        self.on_loop_thread = 0
        self._lock = threading.Lock()

    def __call__(self, request: bytes) -> bytes:
        with self._lock:
            self.arrivals += 1
            mine = self.arrivals
            if threading.get_ident() == self.loop_thread:
                self.on_loop_thread += 1
        if mine <= 2:
            try:
                self.barrier.wait()
            except threading.BrokenBarrierError:
                with self._lock:
                    self.missed += 1
            else:
                with self._lock:
                    self.met += 1
        return _digest(request)


@pytest.mark.weight(2)
@pytest.mark.limit(20)
async def test_handle_many_overlaps_calls(ex):
    """handle_many runs the hash_fn calls at the same time"""
    _require_async(ex)
    fake = _MeetTwo(threading.get_ident())
    requests = [b"r1", b"r2", b"r3", b"r4"]
    await _run(f"handle_many({requests!r}, hash_fn)", ex.handle_many(requests, fake))
    expect(fake.arrivals == len(requests), f"hash_fn was called {fake.arrivals} times for {len(requests)} requests.")
    if fake.met == 2 and not fake.missed:
        return
    if fake.on_loop_thread:
        fail(
            f"The first hash_fn call waited {WAIT_S:g}s at a barrier for a second call that "
            "never came: every call ran on the event loop's thread, so one had to finish "
            f"before the next could start (and the loop was frozen meanwhile). {FIX} "
            "Then gather the handle() coroutines so the threads run at the same time."
        )
    fail(
        f"The first hash_fn call waited {WAIT_S:g}s at a barrier for a second call that never "
        "came: the calls ran in a thread but one after another (awaiting each handle() before "
        "starting the next, or a pool with a single worker). Start them all, then wait for all: "
        "`await asyncio.gather(*(handle(r, hash_fn) for r in requests))`."
    )


class _LaterFinishesFirst:
    """A blocking ``hash_fn``: the call for ``b"slow"`` waits (at most ``WAIT_S``) until
    the call for ``b"fast"`` has returned and the loop has had time to see it, so with
    concurrent calls ``b"fast"`` completes first."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.loop_thread = threading.get_ident()
        self.fast_done = threading.Event()

    def _round_trip(self) -> bool:
        pong = threading.Event()
        try:
            self.loop.call_soon_threadsafe(pong.set)
        except RuntimeError:
            return False
        return pong.wait(WAIT_S)

    def __call__(self, request: bytes) -> bytes:
        # Three trips through the loop's queue: the fast call's completion, queued by its
        # thread right after it returned, is processed before the slow call returns.
        # On the loop's own thread the calls run one after another: waiting for the fast
        # one could only time out, so the slow one does not wait.
        on_loop_thread = threading.get_ident() == self.loop_thread
        if request == b"slow" and not on_loop_thread and self.fast_done.wait(WAIT_S):
            for _ in range(3):
                if not self._round_trip():
                    break
        result = _digest(request)
        if request == b"fast":
            self.fast_done.set()
        return result


@pytest.mark.weight(1)
@pytest.mark.limit(20)
async def test_handle_many_keeps_request_order(ex):
    """handle_many returns results in request order, not completion order"""
    _require_async(ex)
    fake = _LaterFinishesFirst(asyncio.get_running_loop())
    result = await _run("handle_many([b'slow', b'fast'], hash_fn)", ex.handle_many([b"slow", b"fast"], fake))
    if type(result) is list and result == [_digest(b"fast"), _digest(b"slow")]:
        fail(
            "handle_many([b'slow', b'fast'], hash_fn) returned the results in the order the "
            "calls finished (b'fast' first). Callers match results to requests by position: "
            "`asyncio.gather(...)` keeps argument order; with `as_completed` or a shared list "
            "that each task appends to, you get completion order."
        )
    exact(result, [_digest(b"slow"), _digest(b"fast")], "handle_many([b'slow', b'fast'], hash_fn) returned")
    try:
        empty = await _run("handle_many([], hash_fn)", ex.handle_many([], _digest))
    except Exception as exc:
        error: Exception | None = exc
    else:
        error = None
    if error is not None:  # explained outside the `except`, so no chained traceback shows
        fail(
            f"handle_many([], hash_fn) raised {type(error).__name__}: {error}. No requests "
            "means no results: it should return []. (A pool sized `max_workers=len(requests)` "
            "cannot be created for zero requests; the default pool, or `asyncio.gather()` of "
            "nothing, handles this for free.)"
        )
    exact(empty, [], "handle_many([], hash_fn) returned")


@pytest.mark.weight(1)
async def test_handle_propagates_hash_fn_error(ex):
    """an exception raised by hash_fn comes out of handle unchanged"""
    _require_async(ex)
    boom = ValueError("malformed request")

    def broken(request: bytes) -> bytes:
        raise boom

    try:
        result = await _run("handle(b'bad', hash_fn)", ex.handle(b"bad", broken))
    except Exception as exc:
        expect(
            exc is boom,
            f"handle raised {type(exc).__name__}: {exc} instead of the ValueError hash_fn "
            "raised. Let it propagate unchanged: `await asyncio.to_thread(...)` re-raises the "
            "thread's exception in the awaiting coroutine; do not wrap or replace it.",
        )
    else:
        fail(
            f"hash_fn raised ValueError('malformed request'), but handle returned {result!r}. "
            "Do not swallow errors: a caller must learn that its request failed. Awaiting "
            "`asyncio.to_thread(...)` re-raises the thread's exception for you."
        )
