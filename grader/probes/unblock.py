"""Worker-side probes for blocking work moved off the event loop (exercise 11).

Every fake ``hash_fn`` here really blocks the thread it runs in (``threading.Event.wait``),
so a call made on the loop's own thread, or a loop that waits for a worker thread, freezes
everything. In a split run the learner's ``handle`` runs in the worker, and so do the
threads it hands ``hash_fn`` to: the fakes live there too, beside a :class:`LoopWatch`
that sees the loop from a worker thread (a callback only a free loop runs, the loop
thread's stack, the calls handed to threads). A check opens a :class:`Session` with the
fake it wants (:func:`hash_open`), passes the fake to the learner's code (it crosses back
as the very object), and reads what was seen once the call is over (:func:`hash_close`):
this process's account, as plain data. The digests returned are judged by the checker.

The fakes decide from evidence, not by waiting out a time limit: a call on the loop's
own thread is known to block it at once; from a worker thread, a fake pings the loop and
meanwhile reads the loop thread's stack: a loop thread waiting on a thread primitive
inside the learner's code (``future.result()``, ``thread.join()``...) is blocked, no need
to wait. Calls handed to threads are counted, so a fake waiting for the other calls knows
at once when they were not all handed out, and soon when every worker of the pool is
already inside a call. ``WAIT_S`` bounds only what no evidence settles.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import multiprocessing.pool
import sys
import threading
import time
import types
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import thread as futures_thread
from typing import Any

from grader import probes
from grader.probes.here import _probe

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



def _digest(request: bytes) -> bytes:
    return hashlib.sha256(request).digest()


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


class LoopWatch:
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

        ThreadPoolExecutor.submit = submit  # type: ignore[method-assign,assignment]
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


class LoopPing:
    """A blocking ``hash_fn``: each call schedules a callback on the loop and waits until
    the loop has run it. Only a loop that is free while ``hash_fn`` blocks can run it; a
    call on the loop's own thread, or a loop thread seen waiting in the learner's code,
    settles it at once. After one unanswered call the later ones stop waiting."""

    def __init__(self, watch: LoopWatch, witness: Any = None) -> None:
        self.watch = watch
        #: The checker's witness (:class:`grader.probes.witness.LoopWitness`), called
        #: from inside each call with this fake's own finding; None outside split runs.
        self.witness = witness
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
            self._tell_witness(request, held=True)
            return _digest(request)
        if not self.watch.round_trip():
            self.blocked_where = self.blocked_where or self.watch.blocked_at()
            self.unanswered += 1
            self._tell_witness(request, held=True)
        else:
            self._tell_witness(request, held=False)
        return _digest(request)

    def _tell_witness(self, request: bytes, held: bool) -> None:
        """Call the checker's witness, still inside this call: the calling thread waits
        there while the checker looks at the loop's thread."""
        if self.witness is not None:
            with contextlib.suppress(Exception):
                self.witness(request, held)



class MeetAll:
    """A blocking ``hash_fn`` for ``count`` requests: no call returns before all ``count``
    are inside it at once (every request in flight together). Calls wait only while the
    rest can still come: not on the loop's own thread, not while the loop's thread is
    blocked, only if a free loop handed every call to a thread, and not once every worker
    of the pool is busy inside this fake. The first call judges; once it stops waiting,
    so do the others."""

    def __init__(self, watch: LoopWatch, count: int) -> None:
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


class FirstFinishesLast:
    """A blocking ``hash_fn`` for requests ``b"r0"``, ``b"r1"``...: the call for ``b"r0"``
    returns only once every other call has returned and the loop has seen them finish,
    so with concurrent calls request 0 completes last. It waits only while the others can
    still come (see :class:`MeetAll`); request order is what matters here."""

    def __init__(self, watch: LoopWatch, count: int) -> None:
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



class Plain:
    """A ``hash_fn`` that returns at once: it records each request and whether it was
    called on the loop's own thread."""

    def __init__(self, watch: LoopWatch) -> None:
        self.watch = watch
        self.calls: list[bytes] = []
        self.on_loop_thread = 0
        self._lock = threading.Lock()

    def __call__(self, request: bytes) -> bytes:
        with self._lock:
            self.calls.append(request)
            self.on_loop_thread += self.watch.on_loop_thread()
        return _digest(request)


class Session:
    """One call of the learner's code with a fake ``hash_fn`` (or none: the check passes
    its own), watched from its start (:func:`hash_open`) to its end (:func:`hash_close`)."""

    def __init__(self, kind: str, count: int, witness: Any = None) -> None:
        self.watch = LoopWatch()
        fakes: dict[str, Any] = {
            "none": lambda: None,
            "plain": lambda: Plain(self.watch),
            "ping": lambda: LoopPing(self.watch, witness),
            "meet_all": lambda: MeetAll(self.watch, count),
            "first_last": lambda: FirstFinishesLast(self.watch, count),
        }
        self.fake = fakes[kind]()
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(self.watch.counting())
        self.sent = self._stack.enter_context(_process_pool_calls())

    def close(self) -> dict[str, Any]:
        self._stack.close()
        fake = self.fake
        facts: dict[str, Any] = {"handoffs": self.watch.handoffs, "process_pools": list(self.sent[:5])}
        for name in ("calls", "on_loop_thread", "unanswered", "blocked_where", "arrivals", "met", "handed_out",
                     "waiting", "full_width", "finished"):  # fmt: skip
            if hasattr(fake, name):
                value = getattr(fake, name)
                facts[name] = list(value) if isinstance(value, list) else value
        if isinstance(fake, MeetAll):
            facts["threads"] = len(fake.threads)
        return facts


@_probe
def hash_open(kind: str, count: int = 0, witness: Any = None) -> Session:
    """Start watching a call of the learner's code, with the fake ``kind`` ("none",
    "plain", "ping", "meet_all", "first_last") for ``count`` requests, and the checker's
    ``witness`` (the ping fake calls it). On the loop's thread: that is the thread the
    watch compares callers with."""
    return Session(str(kind), int(count), witness if callable(witness) else None)


@_probe
def hash_fake(session: Session) -> Any:
    """The session's fake ``hash_fn``: the checker passes it on to the learner's code."""
    return session.fake


@_probe
def hash_close(session: Session) -> dict[str, Any]:
    """Stop watching; what the fake and the watch saw (this process's account)."""
    return session.close()
