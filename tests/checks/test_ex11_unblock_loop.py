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
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import multiprocessing.pool
import re
import sys
import threading
import time
import types
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import thread as futures_thread
from typing import Any

import pytest

from grader import probes
from grader.probes import call_learner, exact, expect, fail

#: Seconds a fake waits for something that a correct solution provides in milliseconds,
#: when no evidence says it will never come (the wrong answers the checks know of never
#: wait this long).
WAIT_S = 5.0
#: Seconds between two looks at the loop thread's stack while a fake waits.
LOOK_S = 0.02
#: Trips through the loop's queue that let a free loop hand out every call it is about to.
SETTLE_TRIPS = 10
#: Seconds a fake keeps waiting once every worker of the pools in use is seen inside it
#: while a call waits in their queue (so no further call can start before one returns):
#: a few looks, as the pools' state is read from another thread. Only a pool too narrow
#: waits this.
FULL_GRACE_S = 0.04

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


async def _run(what: str, awaitable: object, timeout: float = 8.0, *, on_loop: Any = None) -> object:
    """Await the learner's coroutine with a time limit; reject an un-awaited result.

    ``on_loop`` (a fake's count of calls made on the loop's own thread) tells a TypeError
    from calling hash_fn's result apart from other errors."""
    with _process_pool_calls() as sent:
        try:
            result = await call_learner(what, awaitable, timeout)  # type: ignore[arg-type]
        except Exception as exc:
            error: Exception | None = exc
        else:
            error = None
    if error is not None:  # explained outside the `except`, so no chained traceback shows
        if sent:
            fail(
                f"{what} sent hash_fn to a process pool ({sent[0]}), and the call failed "
                f"with {type(error).__name__}: a process pool pickles the function to send it "
                "to another process, and hash_fn need not be picklable (a nested "
                "function, a lambda or an object holding a lock cannot be). hash_fn blocks "
                "while it waits; it needs a worker *thread*, which runs it in this process "
                f"as it is. {FIX}"
            )
        if isinstance(error, TypeError) and "not callable" in str(error) and on_loop is not None and on_loop():
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
    return result


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


@contextlib.contextmanager
def _process_pool_calls() -> Iterator[list[str]]:
    """Record the calls handed to a process pool (``ProcessPoolExecutor.submit``, which
    ``run_in_executor`` and ``map`` use; ``multiprocessing.pool.Pool.apply_async`` and
    ``map_async``)."""
    sent: list[str] = []
    patched = [
        (ProcessPoolExecutor, "submit", "ProcessPoolExecutor"),
        (multiprocessing.pool.Pool, "apply_async", "multiprocessing.Pool"),
        (multiprocessing.pool.Pool, "_map_async", "multiprocessing.Pool"),
    ]
    reals = [getattr(cls, name) for cls, name, _ in patched]

    def spy(real: Any, label: str) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            sent.append(label)
            return real(self, *args, **kwargs)

        return call

    for (cls, name, label), real in zip(patched, reals, strict=True):
        setattr(cls, name, spy(real, label))
    try:
        yield sent
    finally:
        for (cls, name, _), real in zip(patched, reals, strict=True):
            setattr(cls, name, real)


class _LoopWatch:
    """What the event loop is doing, seen from a worker thread.

    ``handoffs`` counts calls handed to other threads since the check began
    (``ThreadPoolExecutor.submit``, which ``to_thread`` and ``run_in_executor`` use, and
    ``Thread.start`` for threads of one's own); ``blocked_at()`` tells whether the loop's
    thread is waiting on a thread primitive inside the learner's code."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.loop_thread = threading.get_ident()
        self.handoffs = 0
        #: The thread pools calls were submitted to.
        self.pools: list[ThreadPoolExecutor] = []
        self._lock = threading.Lock()

    def on_loop_thread(self) -> bool:
        return threading.get_ident() == self.loop_thread

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        real_submit = ThreadPoolExecutor.submit
        real_start = threading.Thread.start
        watch = self

        def submit(self: ThreadPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            with watch._lock:
                watch.handoffs += 1
                if not any(pool is self for pool in watch.pools):
                    watch.pools.append(self)
            return real_submit(self, fn, *args, **kwargs)

        def start(self: threading.Thread) -> None:
            if getattr(self, "_target", None) is not _POOL_WORKER:  # a pool's own thread
                with watch._lock:
                    watch.handoffs += 1
            real_start(self)

        ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]
        threading.Thread.start = start  # type: ignore[method-assign]
        try:
            yield
        finally:
            ThreadPoolExecutor.submit = real_submit  # type: ignore[method-assign]
            threading.Thread.start = real_start  # type: ignore[method-assign]

    def blocked_at(self) -> str | None:
        """The learner's line where the loop's thread waits on a thread primitive (a
        future's result, a join, an event, a queue), or None. A thread being started is
        not a wait: ``Thread.start`` waits a moment for the new thread, inside a pool's
        ``submit`` too."""
        frame = sys._current_frames().get(self.loop_thread)
        if frame is None or not probes.TARGET_FILE:
            return None
        code = frame.f_code
        if not (code.co_filename == threading.__file__ and code.co_name in _WAITS):
            return None
        outer: types.FrameType | None = frame
        while outer is not None:
            if outer.f_code.co_filename == threading.__file__ and outer.f_code.co_name == "start":
                return None
            outer = outer.f_back
        return probes.learner_location(probes.TARGET_FILE, frame)

    def round_trip(self) -> bool:
        """True once the loop has run a callback of ours; False as soon as its thread is
        seen blocked in the learner's code (or after ``WAIT_S``)."""
        pong = threading.Event()
        try:
            self.loop.call_soon_threadsafe(pong.set)
        except RuntimeError:  # a closed loop certainly does not answer
            return False
        deadline = time.monotonic() + WAIT_S
        while not pong.wait(LOOK_S):
            if self.blocked_at() is not None or time.monotonic() > deadline:
                return False
        return True

    def full_pool_width(self, inside: set[int]) -> int | None:
        """The number of workers of the thread pools in use, if every one of them is a
        thread in ``inside`` (running a fake's call) while more calls were handed out than
        are inside: none of those can start before a call returns. None otherwise (also
        when a call went to a thread that is not a pool's)."""
        with self._lock:
            pools = list(self.pools)
            handoffs = self.handoffs
        width = 0
        for pool in pools:
            threads = list(getattr(pool, "_threads", ()))
            if not threads or len(threads) < getattr(pool, "_max_workers", len(threads) + 1):
                return None
            if any(t.ident not in inside for t in threads):
                return None
            width += len(threads)
        return width if pools and handoffs > len(inside) else None

    def wait_for(self, event: threading.Event, inside: set[int]) -> bool:
        """Wait (from a worker thread) until ``event`` is set; False as soon as the loop's
        thread is seen blocked, once the pools are full (:meth:`full_pool_width`) for
        ``FULL_GRACE_S``, or after ``WAIT_S``."""
        deadline = time.monotonic() + WAIT_S
        full_since: float | None = None
        while not event.wait(LOOK_S):
            now = time.monotonic()
            if self.blocked_at() is not None or now > deadline:
                return False
            if self.full_pool_width(inside) is None:
                full_since = None
            elif full_since is None:
                full_since = now
            elif now - full_since >= FULL_GRACE_S:
                return False
        return True

    def learner_tasks(self) -> list[str]:
        """Where the learner's tasks wait, read on the loop's own thread (tasks belong to
        it); [] if the loop does not get to it."""
        found: list[str] = []
        done = threading.Event()

        def look() -> None:
            try:
                found.extend(probes.task_stacks(self.loop, probes.TARGET_FILE))
            finally:
                done.set()

        try:
            self.loop.call_soon_threadsafe(look)
        except RuntimeError:
            return []
        return found if done.wait(WAIT_S) else []

    def settled_handoffs(self) -> int | None:
        """Calls handed to threads once a free loop has had a few turns to hand out the
        rest; None if the loop is blocked."""
        for _ in range(SETTLE_TRIPS):
            if not self.round_trip():
                return None
        return self.handoffs


#: Where a blocked thread's innermost Python frame sits (threading.py).
_WAITS = frozenset({"wait", "join", "_wait_for_tstate_lock", "get"})
#: A ThreadPoolExecutor's own threads run this; starting them is part of a submit.
_POOL_WORKER = getattr(futures_thread, "_worker", None)


class _LoopPing:
    """A blocking ``hash_fn``: each call schedules a callback on the loop and waits until
    the loop has run it. Only a loop that is free while ``hash_fn`` blocks can run it; a
    call on the loop's own thread, or a loop thread seen waiting in the learner's code,
    settles it at once. After one unanswered call the later ones stop waiting."""

    def __init__(self, watch: _LoopWatch) -> None:
        self.watch = watch
        self.calls: list[bytes] = []
        self.on_loop_thread = 0
        self.unanswered = 0
        self.blocked_where: str | None = None
        self._lock = threading.Lock()

    def __call__(self, request: bytes) -> bytes:
        with self._lock:
            self.calls.append(request)
            on_loop_thread = self.watch.on_loop_thread()
            if on_loop_thread:
                self.on_loop_thread += 1
        if on_loop_thread or self.unanswered:
            # Certain without waiting: while this call holds the loop's own thread, the
            # loop cannot run the callback (or anything else).
            self.unanswered += 1
            return _digest(request)
        if not self.watch.round_trip():
            self.blocked_where = self.blocked_where or self.watch.blocked_at()
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
        where = (
            f"it was waiting for that thread at {self.blocked_where}"
            if self.blocked_where
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
    seen: list[bytes] = []
    loop_thread = threading.get_ident()
    on_loop = 0

    def sha256(request: bytes) -> bytes:
        nonlocal on_loop
        seen.append(request)
        on_loop += threading.get_ident() == loop_thread
        return _digest(request)

    result = await _run("handle(b'hello', hash_fn)", ex.handle(b"hello", sha256), on_loop=lambda: on_loop)
    exact(result, _digest(b"hello"), "handle(b'hello', sha256) returned")
    expect(
        seen == [b"hello"],
        f"hash_fn was called with {seen!r}; handle should call it exactly once, with the "
        "request it was given.",
    )


@pytest.mark.weight(3)
@pytest.mark.limit(20)
@pytest.mark.hint(1)
async def test_loop_runs_while_handle_blocks(ex):
    """the event loop keeps running while hash_fn blocks inside handle"""
    _require_async(ex)
    watch = _LoopWatch()
    fake = _LoopPing(watch)
    with watch.counting():
        result = await _run("handle(b'ping', hash_fn)", ex.handle(b"ping", fake), on_loop=lambda: fake.on_loop_thread)
    expect(fake.calls == [b"ping"], f"handle called hash_fn with {fake.calls!r}, not once with the request.")
    if fake.unanswered:
        fail(fake.blocked_message("handle(b'ping', hash_fn)"))
    exact(result, _digest(b"ping"), "handle(b'ping', hash_fn) returned")


@pytest.mark.weight(2)
@pytest.mark.limit(20)
@pytest.mark.hint(1)
async def test_loop_runs_while_handle_many_blocks(ex):
    """the event loop keeps running during every hash_fn call of handle_many"""
    _require_async(ex)
    watch = _LoopWatch()
    fake = _LoopPing(watch)
    requests = [b"a", b"b", b"c"]
    with watch.counting():
        result = await _run(
            f"handle_many({requests!r}, hash_fn)", ex.handle_many(requests, fake), on_loop=lambda: fake.on_loop_thread
        )
    expect(
        sorted(fake.calls) == requests,
        f"handle_many({requests!r}, hash_fn) called hash_fn with {sorted(fake.calls)!r}: "
        "every request must be hashed exactly once.",
    )
    if fake.unanswered:
        fail(fake.blocked_message(f"handle_many({requests!r}, hash_fn)"))
    expect(
        type(result) is list and all(type(r) is bytes for r in result),
        f"handle_many must return a list of the bytes hash_fn returned, got {_short(result)}.",
    )


class _MeetAll:
    """A blocking ``hash_fn`` for ``count`` requests: no call returns before all ``count``
    are inside it at once (every request in flight together). Calls wait only while the
    rest can still come: not on the loop's own thread, not while the loop's thread is
    blocked, only if a free loop handed every call to a thread, and not once every worker
    of the pool is busy inside this fake. The first call judges; once it stops waiting,
    so do the others."""

    def __init__(self, watch: _LoopWatch, count: int) -> None:
        self.watch = watch
        self.count = count
        self.all_in = threading.Event()  # set when `count` calls are inside at once
        self.judged = threading.Event()  # set when the first call stopped waiting
        self.arrivals = 0
        self.met = False
        self.on_loop_thread = 0
        self.handed_out: int | None = None  # calls in threads when the first one looked
        self.blocked_where: str | None = None  # where the loop's thread was seen waiting
        self.waiting: list[str] = []  # where the learner's tasks waited, if not all were out
        self.full_width: int | None = None  # workers of a pool seen full, all inside here
        self.threads: set[int] = set()  # every thread a call ran in
        self.inside: set[int] = set()  # threads running a call now
        self._lock = threading.Lock()

    def __call__(self, request: bytes) -> bytes:
        me = threading.get_ident()
        with self._lock:
            self.arrivals += 1
            mine = self.arrivals
            on_loop_thread = self.watch.on_loop_thread()
            if on_loop_thread:
                self.on_loop_thread += 1
            self.threads.add(me)
            self.inside.add(me)
            if len(self.inside) >= self.count:
                self.all_in.set()
        try:
            if mine == 1:
                try:
                    if not on_loop_thread:
                        self._judge()
                finally:
                    self.judged.set()
            elif not on_loop_thread:
                while not (self.all_in.is_set() or self.judged.wait(LOOK_S)):
                    pass
            return _digest(request)
        finally:
            with self._lock:
                self.inside.discard(me)

    def _judge(self) -> None:
        self.handed_out = self.watch.settled_handoffs()
        if self.handed_out is None:
            self.blocked_where = self.watch.blocked_at()
        elif self.handed_out >= self.count:
            self.met = self.watch.wait_for(self.all_in, self.inside)
            if not self.met:
                self.full_width = self.watch.full_pool_width(self.inside)
        elif self.handed_out >= 2:
            self.waiting = self.watch.learner_tasks()


@pytest.mark.weight(2)
@pytest.mark.limit(20)
@pytest.mark.hint(3)
async def test_handle_many_overlaps_calls(ex):
    """handle_many runs all the hash_fn calls at the same time"""
    _require_async(ex)
    watch = _LoopWatch()
    requests = [b"r1", b"r2", b"r3", b"r4"]
    count = len(requests)
    fake = _MeetAll(watch, count)
    what = f"handle_many({requests!r}, hash_fn)"
    with watch.counting():
        result = await _run(what, ex.handle_many(requests, fake), on_loop=lambda: fake.on_loop_thread)
    # Judged on a complete result only: then every call has returned, and what the fake
    # saw is final.
    expect(
        type(result) is list and len(result) == count and all(type(r) is bytes for r in result),
        f"{what} must return a list of the {count} bytes hash_fn returned, got {_short(result)}.",
    )
    expect(fake.arrivals == count, f"hash_fn was called {fake.arrivals} times for {count} requests.")
    if fake.met:
        return
    if fake.on_loop_thread:
        n = fake.on_loop_thread
        which = "The hash_fn calls" if n == count else f"{n} of the {count} hash_fn calls"
        fail(
            f"{which} ran on the event loop's thread, so nothing else could start while "
            f"{'they' if n > 1 else 'it'} ran (the loop was frozen meanwhile). "
            f"{FIX} Then gather the handle() coroutines so the threads run at the same time."
        )
    if fake.handed_out is None:
        seen = (
            f"the event loop's thread was waiting for it at {fake.blocked_where}"
            if fake.blocked_where
            else f"the event loop ran no callback for {WAIT_S:g}s"
        )
        fail(
            f"The first hash_fn call ran in a thread, but meanwhile {seen}, so no other call "
            "could be handed out. Await the result instead of waiting on the loop's thread "
            "(see the check on the loop staying responsive)."
        )
    gather = (
        "Hand each request to a thread of its own, all before waiting for any: "
        "`await asyncio.gather(*(handle(r, hash_fn) for r in requests))`."
    )
    if fake.handed_out < 2:
        if watch.handoffs == 1 and len(fake.threads) == 1:
            fail(
                f"All {count} hash_fn calls ran in one thread, one after another: handle_many "
                "handed a single piece of work to a thread, which made every call itself. The "
                f"loop stayed free, but the requests were not hashed at the same time. {gather}"
            )
        how = (
            " and the next ones were handed out only after it returned (each handle() awaited "
            "before the next was started)"
            if watch.handoffs >= count
            else ""
        )
        fail(
            "While the first hash_fn call ran in a thread, the event loop was free, yet only "
            f"that one call had been handed to a thread{how}: the calls ran one after "
            f"another. {gather}"
        )
    if fake.handed_out < count:
        where = f" (where the tasks of your code waited: {_grouped(fake.waiting)})" if fake.waiting else ""
        fail(
            f"While the first hash_fn call ran in a thread, the event loop was free, yet only "
            f"{fake.handed_out} of the {count} calls had been handed to threads{where}: the "
            "others started only once earlier ones returned. handle_many must handle all the "
            "requests at the same time, however many there are; a cap on how many run at "
            f"once (an `asyncio.Semaphore`, batches) holds the rest back. {gather}"
        )
    if fake.full_width is not None:
        width = fake.full_width
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
        f"once, in vain, although {fake.handed_out} calls had been handed to threads. Make "
        "sure the threads they go to can run them all at the same time: the default pool "
        "(`asyncio.to_thread`) can."
    )


class _FirstFinishesLast:
    """A blocking ``hash_fn`` for requests ``b"r0"``, ``b"r1"``...: the call for ``b"r0"``
    returns only once every other call has returned and the loop has seen them finish,
    so with concurrent calls request 0 completes last. It waits only while the others can
    still come (see :class:`_MeetAll`); request order is what matters here."""

    def __init__(self, watch: _LoopWatch, count: int) -> None:
        self.watch = watch
        self.count = count
        self.others_done = 0
        self.all_others = threading.Event()
        self.finished: list[int] = []
        self.on_loop_thread = 0
        self.inside: set[int] = set()  # threads running a call now
        self._lock = threading.Lock()

    def __call__(self, request: bytes) -> bytes:
        index = int(request[1:])
        me = threading.get_ident()
        with self._lock:
            self.inside.add(me)
            self.on_loop_thread += self.watch.on_loop_thread()
        try:
            return self._call(index, request)
        finally:
            with self._lock:
                self.inside.discard(me)

    def _call(self, index: int, request: bytes) -> bytes:
        if index == 0 and not self.watch.on_loop_thread():
            handed_out = self.watch.settled_handoffs()
            if handed_out is not None and handed_out >= self.count:
                self.watch.wait_for(self.all_others, self.inside)
                # Three trips through the loop's queue: the others' completions, queued by
                # their threads, are processed before this call returns.
                for _ in range(3):
                    if not self.watch.round_trip():
                        break
        result = _digest(request)
        with self._lock:
            self.finished.append(index)
            if index != 0:
                self.others_done += 1
                if self.others_done == self.count - 1:
                    self.all_others.set()
        return result


#: Enough requests that an unordered collection (a set of futures) practically never
#: comes back in request order, as two requests easily do.
ORDER_COUNT = 12


@pytest.mark.weight(1)
@pytest.mark.limit(20)
@pytest.mark.hint(3)
async def test_handle_many_keeps_request_order(ex):
    """handle_many returns results in request order, not completion order"""
    _require_async(ex)
    watch = _LoopWatch()
    fake = _FirstFinishesLast(watch, ORDER_COUNT)
    requests = [b"r%d" % i for i in range(ORDER_COUNT)]
    what = f"handle_many([b'r0', ..., b'r{ORDER_COUNT - 1}'], hash_fn)"
    with watch.counting():
        result = await _run(what, ex.handle_many(requests, fake), on_loop=lambda: fake.on_loop_thread)
    by_digest = {_digest(r): i for i, r in enumerate(requests)}
    if type(result) is list and len(result) == len(requests) and all(
        type(r) is bytes and r in by_digest for r in result
    ):
        order = [by_digest[r] for r in result]
        expected = list(range(ORDER_COUNT))
        if sorted(order) == expected and order != expected:
            if order == fake.finished or (order[-1] == 0 and fake.finished[-1:] == [0]):
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
        empty = await _run("handle_many([], hash_fn)", ex.handle_many([], _digest))
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
        result = await _run("handle(b'bad', hash_fn)", ex.handle(b"bad", broken))
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
