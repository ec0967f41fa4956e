"""Process-pool probes: the loop side of work sent to pool processes.

Work sent to a process pool runs in another interpreter: a check cannot hand it a closure,
only a picklable module-level function and an argument. The functions checks send
(``report_pid``, ``call_switchboard``) live in :mod:`grader.workerprobes`, which every
worker can import quickly whatever its start method; spawn and forkserver workers receive
the parent's ``sys.path``. Here is the loop side (:class:`Roll`, which reads from the kernel which process made a
call; :class:`Switchboard`, which lets the check order them), and :func:`collect_safely`: the
garbage collection a process that ran pools needs on CPython 3.12.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import secrets
import socket
import struct
import sys
import traceback
import types
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import process as _process
from typing import Any

from grader.workerprobes import ROLL_SLOTS, SWITCHBOARD_SLOTS, roll_address

#: Seconds a pool's feeder thread waits for the pool's shutdown lock before it reports a
#: call that could not be pickled without waking the manager (see :func:`pickle_errors_never_hang`).
FEEDER_LOCK_S = 0.1


@contextlib.contextmanager
def pickle_errors_never_hang() -> Iterator[None]:
    """While it is open, a ``ProcessPoolExecutor`` whose call cannot be pickled (a lambda,
    a nested function) fails that call and never deadlocks.

    CPython (3.11 to 3.13 at least) can deadlock there: the pool's feeder thread reports
    the pickling error under the pool's shutdown lock, which the pool's manager thread may
    already hold while it waits for the feeder thread to end (``join_executor_internals``).
    The learner's ``with ProcessPoolExecutor() as pool:`` then hangs in its shutdown, about
    one run in fifteen, and a check would wait out its time limit for a mistake it can name
    at once: the error the call raised. Here the feeder thread waits ``FEEDER_LOCK_S`` for
    the lock, then fails the call without the wake-up (the manager holding the lock is
    shutting down, or wakes up on its own next look)."""
    queue = getattr(_process, "_SafeQueue", None)
    real = getattr(queue, "_on_queue_feeder_error", None)
    call_item = getattr(_process, "_CallItem", None)
    if queue is None or real is None or call_item is None:
        yield
        return

    def on_feeder_error(self: Any, e: BaseException, obj: object) -> None:
        lock = getattr(self, "shutdown_lock", None)
        if not isinstance(obj, call_item) or lock is None:
            real(self, e, obj)
            return
        tb = traceback.format_exception(type(e), e, e.__traceback__)
        e.__cause__ = _process._RemoteTraceback('\n"""\n{}"""'.format("".join(tb)))  # type: ignore[arg-type]
        work_item = self.pending_work_items.pop(obj.work_id, None)
        if lock.acquire(timeout=FEEDER_LOCK_S):
            try:
                self.thread_wakeup.wakeup()
            finally:
                lock.release()
        if work_item is not None:
            work_item.future.set_exception(e)

    queue._on_queue_feeder_error = on_feeder_error
    try:
        yield
    finally:
        queue._on_queue_feeder_error = real


def collect_safely() -> None:
    """``gc.collect()``, without letting the collector break the cycles that would crash
    CPython 3.12 (3.12.1 segfaults, after "SystemError: deallocated BytesIO object has
    exported buffers"): a pool's threads leave frames of ``multiprocessing.connection``
    in garbage cycles, holding a ``BytesIO`` and a view of its buffer, and the collector
    may clear the buffer's owner before the view. Here the garbage is kept aside first,
    its frames are cleared (the views are released before what they view, by reference
    counting), and only then is it collected. (3.13 prints "BufferError: Existing exports
    of data" for the same cycles instead of crashing.)"""
    flags = gc.get_debug()
    gc.set_debug(flags | gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        garbage = list(gc.garbage)
        gc.garbage.clear()
    finally:
        gc.set_debug(flags)
    # Release the views first (a view another view was made of is released once that
    # one is), then clear the frames: what remains holds no export the collector could
    # trip on.
    views = [item for item in garbage if isinstance(item, memoryview)]
    while views:
        left = []
        for view in views:
            try:
                view.release()
            except BufferError:
                left.append(view)
        if len(left) == len(views):
            break
        views = left
    for frame in [item for item in garbage if isinstance(item, types.FrameType)]:
        with contextlib.suppress(RuntimeError):  # a frame still running
            frame.clear()
    del garbage, views
    gc.collect()


class Roll:
    """Which process ran each call of :func:`grader.workerprobes.report_pid`, from the
    kernel, never from what the call returns.

    Pass ``roll.number(i)`` as the numbers; each call connects to the roll (a Unix socket
    served by the check's loop), which reads the caller's pid from the kernel (the
    socket's peer credentials) and answers a fresh random token. The call returns
    ``(i, token)``, and :meth:`caller` maps a token back to ``(i, pid)``: a result that
    was made up, or copied, maps to nothing. Use it as ``async with Roll() as roll:``.
    """

    def __init__(self) -> None:
        self.id = secrets.randbits(40) | 1
        #: token -> (index, pid or None where the kernel cannot say)
        self._issued: dict[int, tuple[int, int | None]] = {}
        self._server: asyncio.AbstractServer | None = None

    def number(self, index: int) -> int:
        """The argument that makes ``report_pid`` report to this roll as call ``index``."""
        if not 0 <= index < ROLL_SLOTS:
            raise ValueError(f"index must be in [0, {ROLL_SLOTS})")
        return -(self.id * ROLL_SLOTS + index)

    def caller(self, token: object) -> tuple[int, int | None] | None:
        """``(index, pid)`` of the call the roll gave ``token`` to; None if it gave none."""
        return self._issued.get(token) if type(token) is int else None

    async def __aenter__(self) -> Roll:
        self._server = await asyncio.start_unix_server(self._serve, path=roll_address(self.id))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 1.0)
        if not roll_address(self.id).startswith("\0"):
            with contextlib.suppress(OSError):
                os.unlink(roll_address(self.id))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            index = int(line.strip())
            if not 0 <= index < ROLL_SLOTS:
                return
            token = secrets.randbits(62) | 1
            self._issued[token] = (index, _peer_pid(writer.get_extra_info("socket")))
            writer.write(f"{token}\n".encode())
            await writer.drain()
        except (OSError, ValueError):
            return
        finally:
            writer.close()


def _peer_pid(sock: Any) -> int | None:
    """The pid of the process that connected ``sock``, as the kernel recorded it."""
    try:
        if sys.platform.startswith("linux"):
            pid, _, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            return int(pid)
        if sys.platform == "darwin":
            (pid,) = struct.unpack("i", sock.getsockopt(0, 2, 4))  # SOL_LOCAL, LOCAL_PEERPID
            return int(pid)
    except (OSError, AttributeError, struct.error):
        pass
    return None


class Switchboard:
    """Lets work in pool processes wait on the event loop, and the check decide when each
    call may finish -- cross-process ordering without wall-clock races.

    Pass ``board.number(i)`` to code that calls
    :func:`grader.workerprobes.call_switchboard` in its workers. Each
    call connects to the board (a loopback server on the check's loop); the loop
    acknowledges it at once -- a blocked loop cannot, so the call returns
    ``answered=False`` -- then awaits ``hold(i)`` (default: nothing) and says "go".
    ``arrivals`` lists ``(i, pid)`` in the order calls reached the loop, ``in_flight`` the
    calls waiting for their "go" (the check's ``hold`` decides when), ``peak_in_flight``
    the most that ever waited at once. Use it as ``async with Switchboard(hold) as board:``;
    leaving the block closes every connection, even ones the loop accepted late.
    """

    def __init__(self, hold: Callable[[int], Awaitable[None]] | None = None) -> None:
        self.hold = hold
        self.port = 0
        self.arrivals: list[tuple[int, int]] = []
        #: Calls that have arrived and not yet been told "go": index -> pid.
        self.in_flight: dict[int, int] = {}
        #: ``in_flight`` when it was largest (the first time it reached that size).
        self.peak_in_flight: dict[int, int] = {}
        self._finished: dict[int, asyncio.Event] = {}
        self._changed: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.BaseTransport] = set()
        self._answers: set[asyncio.Task[None]] = set()

    def number(self, index: int) -> int:
        """The argument that makes ``call_switchboard`` call this board as call ``index``.

        It is negative, so a CPU-heavy function called with it by mistake (say, a
        ``range(n)`` loop) returns at once instead of burning the check's time."""
        if not 0 <= index < SWITCHBOARD_SLOTS:
            raise ValueError(f"index must be in [0, {SWITCHBOARD_SLOTS})")
        return -(self.port * SWITCHBOARD_SLOTS + index)

    async def wait_in_flight(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` calls have been in flight at once (arrived, not yet told
        "go"), now or earlier; False if ``timeout`` passed first."""
        try:
            async with asyncio.timeout(timeout):
                while len(self.peak_in_flight) < count:
                    assert self._changed is not None, "use the board inside `async with`"
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    async def wait_finished(self, *indices: int, timeout: float) -> bool:
        """Wait until every call in ``indices`` has been told "go"; False if ``timeout``
        passed first."""
        try:
            async with asyncio.timeout(timeout):
                for index in indices:
                    await self._event(index).wait()
        except TimeoutError:
            return False
        return True

    def _event(self, index: int) -> asyncio.Event:
        return self._finished.setdefault(index, asyncio.Event())

    async def __aenter__(self) -> Switchboard:
        self._changed = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _BoardLine(self), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._answers:
            task.cancel()
        if self._answers:
            await asyncio.wait(list(self._answers), timeout=2.0)
        for transport in list(self._transports):
            transport.close()
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 1.0)

    def _arrive(self, line: bytes, transport: asyncio.Transport) -> None:
        """A call said who it is: acknowledge it now, answer "go" after ``hold``."""
        words = line.split()
        try:
            index, pid = int(words[0]), int(words[1])
        except (IndexError, ValueError):
            transport.close()
            return
        self.arrivals.append((index, pid))
        self.in_flight[index] = pid
        if len(self.in_flight) > len(self.peak_in_flight):
            self.peak_in_flight = dict(self.in_flight)
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()
        transport.write(b"ack\n")
        task = asyncio.get_running_loop().create_task(self._answer(index, transport))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _answer(self, index: int, transport: asyncio.Transport) -> None:
        try:
            if self.hold is not None:
                await self.hold(index)
            if not transport.is_closing():
                transport.write(b"go\n")
        finally:
            self.in_flight.pop(index, None)
            self._event(index).set()
            transport.close()  # after the reply is flushed


class _BoardLine(asyncio.Protocol):
    """One connection to a :class:`Switchboard`: reads the caller's line, once."""

    def __init__(self, board: Switchboard) -> None:
        self.board = board
        self.buffer = b""
        self.heard = False  # one line per connection
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.board._transports.add(transport)

    def data_received(self, data: bytes) -> None:
        if self.transport is None or self.heard:
            return
        self.buffer += data
        if b"\n" in self.buffer:
            self.heard = True
            self.board._arrive(self.buffer.split(b"\n", 1)[0], self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.board._transports.discard(self.transport)
