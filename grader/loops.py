"""The event loops checks run on: a recording loop and a virtual-time loop.

``GraderLoop`` is a plain selector loop that records what the default exception handler
would only log ("Task exception was never retrieved", "Task was destroyed but it is
pending!", errors in callbacks), so the plugin can turn them into teaching messages.

``VirtualTimeLoop`` fast-forwards its clock: when nothing is ready and the next timer is
``t`` seconds away, it jumps ``t`` instead of sleeping. "Three 1 s sleeps run concurrently
finish at loop time +1, not +3" becomes exact and instant, and ``time.sleep`` shows up
as real time passing while loop time does not. Two guards keep it honest, in the spirit
of trio's autojump clock:

- while sockets other than the loop's self-pipe are registered (or threads other than
  the grader's own are alive), it first waits a short *real* grace period for I/O
  before jumping, so a reply from a peer or a thread is not skipped over;
- while executor futures run (``run_in_executor``, ``asyncio.to_thread``), loop time
  advances 1:1 with real time, so work in threads takes the time it really takes.

We use our own small loop rather than looptime's plugin: looptime jumps over events that
arrive from threads and patches sync tests and loop shutdown (DESIGN.md section 4).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import concurrent.futures.thread
import contextlib
import fcntl
import selectors
import socket
import struct
import sys
import termios
import threading
import time
import types
from collections.abc import Callable, Collection, Iterator
from typing import Any

#: Real seconds the virtual loop waits for outside I/O before jumping its clock.
GRACE_S = 0.02

#: Real seconds the loop's shutdown may take before tasks that ignore cancel are abandoned.
TEARDOWN_GRACE_S = 2.0

#: Threads whose names start with this belong to the grader and never count as "live".
GRADER_THREAD_PREFIX = "awaitlings-"

#: Real seconds the virtual loop waits at a time while bytes are in flight between two
#: sockets of this process.
IN_FLIGHT_STEP_S = 0.05

#: Called (the last one) when a grader loop is about to wait for what nothing can bring:
#: the plugin names the stall and ends the check instead of waiting for its time limit.
STALLED: list[Callable[[GraderLoop], None]] = []

#: Every grader loop created in this process, newest last (the plugin clears it per check).
LOOPS: list[GraderLoop] = []


class GraderLoop(asyncio.SelectorEventLoop):
    """A selector event loop that records the problems the default handler only logs, and
    marks when it waits for I/O (the loop monitor tells a loop that polls from one that
    never gets control back)."""

    def __init__(self, selector: selectors.BaseSelector | None = None) -> None:
        super().__init__(selector)
        self.problems: list[dict[str, Any]] = []
        #: Set by the plugin once the check's own code has finished: from then on the loop
        #: is only being shut down, and that must not hang on a task that ignores cancel.
        self.closing = False
        #: The loop's thread is inside its selector (waiting for I/O or a timer).
        self.in_select = False
        #: CPU seconds the loop's thread had used when it last left its selector: what it
        #: used since then went to callbacks (the learner's code among them).
        self.cpu_mark = time.thread_time()
        #: The native id of the thread running the loop (set when it first polls).
        self.thread_native_id: int | None = None
        #: It was found waiting for what nothing can bring (told once, see ``STALLED``).
        self.stalled = False
        #: The pools' futures behind ``run_in_executor`` calls, each with the id of its
        #: thread pool's work queue (``ANY_POOL`` if that is not known: an executor of
        #: another kind, or one that hands the work on; None for processes), kept by the
        #: loops that judge idleness (see :meth:`_record_work`).
        self.executor_work: dict[concurrent.futures.Future[Any], int | None] = {}
        self._selector: Any = _WatchedSelector(self, self._selector)
        self.set_exception_handler(_record_problem)
        LOOPS.append(self)

    def outside_io_possible(self) -> bool:
        """Could an event still arrive from outside: an open socket or a live thread?"""
        if len(self._selector.get_map()) > 1:  # more than the loop's self-pipe
            return True
        return bool(learner_threads())

    def threads_quiet(self) -> bool:
        """No thread but the loop's own can do anything before the loop does: every other
        thread (the grader's aside) waits in ``Future.result()`` for a coroutine this loop
        runs and has not finished (``asyncio.run_coroutine_threadsafe``), or is an idle
        pool worker whose queue is empty. Read from the futures' and queues' own state
        while this thread holds the GIL, not from the kernel's view of the threads (a
        thread woken a moment ago looks as asleep as one that waits)."""
        waiting = self.work_waiting()
        frames = sys._current_frames()
        return all(
            thread.ident == threading.get_ident() or _quiet(self, frames.get(thread.ident or -1), waiting)
            for thread in learner_threads()
        )

    def work_waiting(self) -> set[int]:
        """The pools (their queues' ids, or ``ANY_POOL``) holding work handed to them
        through this loop that has not started yet. Such work is on its queue, or was
        just taken off it by a worker whose frame does not show it yet (the item is on
        its value stack): a worker of that pool that looks idle may be about to run it."""
        return {
            key
            for future, key in list(self.executor_work.items())
            if key is not None and not future.running() and not future.done()
        }

    def _record_work(self, future: asyncio.Future[Any], executor: Any) -> concurrent.futures.Future[Any] | None:
        """Keep the pool's future behind ``future`` (a ``run_in_executor`` call's) in
        :attr:`executor_work`, with its pool's queue key; that pool's future, or None if it
        cannot be found. Whoever records it removes it once the work is done."""
        work = _source_of(future)
        if work is not None:
            pool = executor if executor is not None else getattr(self, "_default_executor", None)
            self.executor_work[work] = _queue_key(pool)
        return work

    def nothing_can_wake(self) -> bool:
        """Nothing is scheduled and nothing can ever arrive: no socket or pipe but the
        loop's own, no signal handler, no thread that could call it. A loop waiting now
        waits forever (``run_forever`` with nothing left, tasks waiting on each other)."""
        return not self.outside_io_possible() and not getattr(self, "_signal_handlers", None)

    def run_until_complete(self, future: Any) -> Any:
        if not self.closing:
            return super().run_until_complete(future)
        future = asyncio.ensure_future(future, loop=self)
        # Real time, from a thread: a task spinning on `await sleep(0)` never lets a
        # virtual clock reach a timer.
        timer = threading.Timer(TEARDOWN_GRACE_S, self._abandon_threadsafe, args=(future,))
        timer.name = GRADER_THREAD_PREFIX + "teardown"
        timer.daemon = True
        timer.start()
        try:
            return super().run_until_complete(future)
        finally:
            timer.cancel()

    def _abandon_threadsafe(self, future: asyncio.Future[Any]) -> None:
        with contextlib.suppress(RuntimeError):
            self.call_soon_threadsafe(self._abandon, future)

    def _abandon(self, future: asyncio.Future[Any]) -> None:
        stuck = sorted(
            getattr(t.get_coro(), "__qualname__", "task")
            for t in asyncio.all_tasks(self)
            if not t.done() and t is not future
        )
        self.problems.append(
            {"message": f"task {', '.join(stuck) or '?'} ignored cancellation and was still running after the check"}
        )
        # Cancelling a gather() waits for its children, which is what hangs: stop the loop;
        # run_until_complete then raises and the runner closes the loop.
        self.stop()


def _record_problem(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    # A connection handler cancelled while the check shuts its server down logs
    # "Exception in callback ... CancelledError" on 3.11/3.12; that is not the learner's.
    # Nor is the loop monitor's interruption of code that held the loop (already judged).
    if isinstance(exc, asyncio.CancelledError) or type(exc).__name__ == "LoopHeld":
        return
    if isinstance(loop, GraderLoop):
        loop.problems.append(context)


class _WatchedSelector:
    """Wraps the loop's real selector; ``select`` marks the loop as waiting meanwhile."""

    def __init__(self, loop: GraderLoop, real: selectors.BaseSelector) -> None:
        self._loop = loop
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self._loop
        if loop.thread_native_id is None:
            loop.thread_native_id = threading.get_native_id()
        idle = timeout is None and STALLED and not loop.stalled and not getattr(loop, "threads_working", 0)
        if idle and loop.nothing_can_wake():
            loop.stalled = True
            STALLED[-1](loop)  # may raise in the learner's code, or schedule a cancel
            return self._real.select(0)
        loop.in_select = True
        try:
            return self.wait(timeout)
        finally:
            loop.in_select = False
            loop.cpu_mark = time.thread_time()

    def wait(self, timeout: float | None) -> list[tuple[selectors.SelectorKey, int]]:
        return self._real.select(timeout)


class _VirtualSelector(_WatchedSelector):
    """The virtual loop's selector: jumps the clock instead of waiting, unless something
    can still happen in real time (see the module docstring)."""

    _loop: VirtualTimeLoop

    def _timed(self, timeout: float | None) -> list[tuple[selectors.SelectorKey, int]]:
        start = time.monotonic()
        events = self._real.select(timeout)
        self._loop.advance(time.monotonic() - start)
        return events

    def wait(self, timeout: float | None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self._loop
        if timeout is not None and timeout <= 0:
            return self._real.select(timeout)
        if loop.threads_working and not loop.threads_quiet():
            # Executor work running: time passes 1:1, looked at again every GRACE_S (a
            # thread that starts to wait for this loop does not wake it up to say so).
            return self._timed(GRACE_S if timeout is None else min(timeout, GRACE_S))
        events = self._real.select(0)
        if events:
            return events
        if bytes_in_flight():
            # Bytes sit in a socket's send queue and its peer (in this process) is
            # reading: the kernel delivers them in real time (at worst on a TCP timer), so
            # wait for them for real instead of jumping over their arrival.
            return self._timed(IN_FLIGHT_STEP_S if timeout is None else min(timeout, IN_FLIGHT_STEP_S))
        if timeout is None:
            # Nothing scheduled: wait for I/O for real.
            return self._timed(None)
        if loop.outside_io_possible() and not (len(self.get_map()) <= 1 and loop.threads_quiet()):
            events = self._real.select(min(timeout, GRACE_S))
            if events:
                return events
        loop.advance(timeout)
        return []


_FUTURES_BASE = concurrent.futures._base.__file__
_THREAD_POOL = concurrent.futures.thread.__file__


def _quiet(
    loop: asyncio.AbstractEventLoop, frame: types.FrameType | None, work_waiting: Collection[int | None] = ()
) -> bool:
    """The thread whose innermost frame is ``frame`` can do nothing until ``loop`` runs:
    it waits in ``Future.result()`` for a coroutine ``loop`` runs and has not finished, or
    it is a thread pool's worker waiting for work on an empty queue, holding none, while
    no work handed to its pool through ``loop`` waits to start (``work_waiting``: the
    ids of those pools' queues, or ``ANY_POOL`` for work handed to a pool whose queue is
    not known)."""
    if frame is None:
        return False
    if frame.f_code.co_filename == _THREAD_POOL and frame.f_code.co_name == "_worker":
        # An item just taken off the queue (leaving it empty) is about to run, though the
        # innermost frame is still _worker: bound to work_item, or not yet (on the stack).
        local = frame.f_locals
        queue = local.get("work_queue")
        if queue is None or id(queue) in work_waiting or ANY_POOL in work_waiting:
            return False
        return local.get("work_item") is None and bool(queue.empty())
    depth = 0
    while frame is not None and depth < 8:
        if frame.f_code.co_filename == _FUTURES_BASE and frame.f_code.co_name == "result":
            future = frame.f_locals.get("self")
            return any(
                isinstance(source, asyncio.Future) and source.get_loop() is loop and not source.done()
                for source in _closed_over(getattr(future, "_done_callbacks", ()))
            )
        frame = frame.f_back
        depth += 1
    return False


def _closed_over(callbacks: Any) -> Iterator[Any]:
    """What the closures of ``callbacks`` hold (a future's callbacks: functions, or
    (function, context) pairs), where a chained future keeps the one it is chained to."""
    for callback in list(callbacks or ()):
        function = callback[0] if isinstance(callback, tuple) else callback
        for cell in getattr(function, "__closure__", None) or ():
            with contextlib.suppress(ValueError):  # an empty cell
                yield cell.cell_contents


def _source_of(future: asyncio.Future[Any]) -> concurrent.futures.Future[Any] | None:
    """The pool's future an asyncio future wraps (``asyncio.wrap_future`` keeps it in the
    closure of the callback that passes a cancel on), if it can be found."""
    held = _closed_over(getattr(future, "_callbacks", ()))
    return next((value for value in held if isinstance(value, concurrent.futures.Future)), None)


#: Work handed to a pool whose queue is not known: any pool's worker may be about to run it.
ANY_POOL = 0  # never an id()


def _queue_key(pool: Any) -> int | None:
    """Which workers may take work handed to ``pool``: its queue's id for a plain thread
    pool; ``ANY_POOL`` for an executor that may hand it to another (a wrapper, a subclass
    with its own ``submit``); None for a process pool (no thread of this process runs it)."""
    if isinstance(pool, concurrent.futures.ProcessPoolExecutor):
        return None
    queue = getattr(pool, "_work_queue", None)
    plain = isinstance(pool, concurrent.futures.ThreadPoolExecutor)
    if queue is None or not plain or type(pool).submit is not concurrent.futures.ThreadPoolExecutor.submit:
        return ANY_POOL
    return id(queue)


class VirtualTimeLoop(GraderLoop):
    """A grader loop whose clock jumps over idle time (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._virtual_now = time.monotonic()
        self.threads_working = 0
        self._selector = _VirtualSelector(self, self._selector._real)

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (never back)."""
        if seconds > 0:
            self._virtual_now += seconds

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., Any], *args: Any
    ) -> asyncio.Future[Any]:
        future = super().run_in_executor(executor, func, *args)
        self.threads_working += 1
        work = self._record_work(future, executor)
        if work is None:
            future.add_done_callback(lambda _future: self._thread_done(None))
            return future
        # Counted until the pool is done with it, not until the awaiting side is: a call
        # cancelled while it runs (a wait_for around to_thread) goes on in its thread.
        work.add_done_callback(self._work_finished)
        return future

    def _work_finished(self, work: concurrent.futures.Future[Any]) -> None:
        """In the pool's thread (or this one): the work is done, let the loop know."""
        with contextlib.suppress(RuntimeError):  # the loop was closed meanwhile
            self.call_soon_threadsafe(self._thread_done, work)

    def _thread_done(self, work: concurrent.futures.Future[Any] | None) -> None:
        self.threads_working -= 1
        if work is not None:
            self.executor_work.pop(work, None)

    async def shutdown_default_executor(self, *args: Any) -> None:
        """Join the executor's threads on the real clock: on 3.12+ the wait runs in a thread
        of its own, not through ``run_in_executor``, and its 300 s time limit would
        otherwise be skipped over at once ("The executor did not finish joining...")."""
        self.threads_working += 1
        try:
            await super().shutdown_default_executor(*args)
        finally:
            self.threads_working -= 1


class GraderLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """Makes ``asyncio.run`` inside the learner's code use a grader loop too."""

    def __init__(self) -> None:
        super().__init__()
        self.loop_class: type[GraderLoop] = GraderLoop

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return self.loop_class()


def learner_threads() -> list[threading.Thread]:
    """The live threads other than the main one and the grader's own: the learner's, or
    the pools' and libraries' it started."""
    return [
        t
        for t in threading.enumerate()
        if t is not threading.main_thread() and not t.name.startswith(GRADER_THREAD_PREFIX)
    ]


def bytes_in_flight() -> bool:
    """Are bytes on their way between two connected sockets of this process, with the
    receiving one being read? (A socket's send queue holds bytes its peer has not yet
    received; while the peer's transport is reading, they will arrive.)

    Only stream transports of grader loops are looked at; a peer outside this process
    (or a socket used without a transport) is left to the grace period.
    """
    ends: dict[tuple[Any, Any], tuple[int, bool]] = {}
    for loop in LOOPS:
        if loop.is_closed():
            continue
        transports: Any = getattr(loop, "_transports", {})
        for transport in list(transports.values()):
            sock = transport.get_extra_info("socket")
            if sock is None or sock.type != socket.SOCK_STREAM or transport.is_closing():
                continue
            try:
                name, peer = sock.getsockname(), sock.getpeername()
                queued = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
            except (OSError, ValueError):
                continue
            reading = bool(getattr(transport, "is_reading", lambda: False)())
            ends[(_key(name), _key(peer))] = (queued, reading)
    for (name, peer), (queued, _) in ends.items():
        if queued > 0:
            other = ends.get((peer, name))
            if other is not None and other[1]:
                return True
    return False


def tcp_connections(loop: asyncio.AbstractEventLoop) -> list[tuple[tuple[str, int], tuple[str, int]]]:
    """``(local, remote)`` of every connected TCP socket ``loop`` has a transport for, or
    watches with ``add_reader``/``add_writer``: what :func:`grader.procstate.tcp_motion`
    asks the kernel about."""
    found: dict[int, socket.socket] = {}
    for transport in list(getattr(loop, "_transports", {}).values()):
        sock = transport.get_extra_info("socket")
        if sock is not None:
            found[sock.fileno()] = sock
    selector = getattr(loop, "_selector", None)
    with contextlib.suppress(Exception):
        for key in list(selector.get_map().values()) if selector is not None else ():
            if hasattr(key.fileobj, "getpeername"):
                found.setdefault(key.fd, key.fileobj)
    connections = []
    for sock in found.values():
        if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
            continue
        with contextlib.suppress(OSError, ValueError):
            local, remote = sock.getsockname(), sock.getpeername()
            connections.append(((local[0], local[1]), (remote[0], remote[1])))
    return connections


def _key(address: Any) -> Any:
    return tuple(address) if isinstance(address, list | tuple) else address
