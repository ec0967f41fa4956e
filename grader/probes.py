"""Helpers for writing checks: observe concurrency by ordering and counting, never by
wall-clock races.

- :func:`fail` / :func:`expect`: fail a check with a teaching message (no traceback noise).
- :class:`BarrierProbe`: a fake async callable whose calls wait on an ``asyncio.Barrier``
  with a timeout, so code that calls it one at a time cannot pass.
- :class:`InFlight`: counts calls running at once (``max`` is what a limit check reads).
- :class:`EventLog`: an ordered log for "A happened before B" checks.
- :func:`detect_blocking`: blockbuster scoped to the learner's module; records every
  blocking call made on the loop thread, even when the learner's ``except Exception``
  swallows the error.
- :func:`loopback_server` / :class:`Client`: loopback peers with bounded clean-up.
- :func:`task_stacks`, :func:`learner_location`: where the learner's code is waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import linecache
import socket
import sys
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import pytest

from grader.loops import LOOPS, GraderLoop
from grader.workerprobes import SWITCHBOARD_SLOTS

T = TypeVar("T")

DOCS = "https://docs.python.org/3/library/"

#: Path of the learner's file under test; set by the plugin when it loads the module.
TARGET_FILE: str | None = None


def fail(message: str) -> NoReturn:
    """Fail the current check with ``message`` as its whole explanation."""
    __tracebackhide__ = True
    pytest.fail(message, pytrace=False)


def expect(condition: object, message: str) -> None:
    """Fail the check with ``message`` unless ``condition`` holds."""
    __tracebackhide__ = True
    if not condition:
        fail(message)


def exact(value: object, expected: object, what: str) -> None:
    """Type-strict equality: a rigged ``__eq__`` or a subclass does not pass."""
    __tracebackhide__ = True
    if type(value) is not type(expected):
        fail(f"{what}: expected a {type(expected).__name__}, got {type(value).__name__} {_short(value)}")
    if isinstance(expected, list | tuple):
        assert isinstance(value, list | tuple)
        if len(value) != len(expected):
            fail(f"{what}: expected {len(expected)} items {_short(expected)}, got {len(value)}: {_short(value)}")
        for i, (got, want) in enumerate(zip(value, expected, strict=True)):
            exact(got, want, f"{what}[{i}]")
        return
    if expected != value:  # the trusted, expected side compares
        fail(f"{what}: expected {_short(expected)}, got {_short(value)}")


def _short(value: object, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 15] + f"... ({len(text)} chars)"


async def settle(rounds: int = 5) -> None:
    """Yield to the loop a few times so callbacks that are already due can run."""
    for _ in range(rounds):
        await asyncio.sleep(0)


def current_loop() -> GraderLoop | None:
    """The grader loop created last in this check (``asyncio.run`` inside learner code too)."""
    return LOOPS[-1] if LOOPS else None


# --- concurrency probes ---------------------------------------------------------------


@dataclass
class InFlight:
    """Counts how many calls are running at once; ``max`` is the high-water mark."""

    current: int = 0
    max: int = 0
    total: int = 0

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        self.current += 1
        self.total += 1
        self.max = max(self.max, self.current)
        try:
            yield
        finally:
            self.current -= 1


@dataclass
class EventLog:
    """An ordered list of events with "happened before" helpers."""

    events: list[str] = field(default_factory=list)

    def add(self, event: str) -> None:
        self.events.append(event)

    def __contains__(self, event: str) -> bool:
        return event in self.events

    def before(self, first: str, second: str) -> bool:
        """Both happened and ``first`` came before ``second``."""
        return first in self.events and second in self.events and (
            self.events.index(first) < self.events.index(second)
        )


class BarrierProbe:
    """A fake async callable: each call waits until ``parties`` calls are waiting at once.

    Sequential code (await one call, then the next) never gathers ``parties`` waiters, so
    the barrier times out and the probe records ``broken``. With a virtual-time loop the
    timeout costs no real time. ``result(*args)`` gives each call's return value.
    """

    def __init__(
        self,
        parties: int,
        *,
        timeout: float = 2.0,
        result: Callable[..., Any] = lambda *args: args[0] if args else None,
    ) -> None:
        self.parties = parties
        self.timeout = timeout
        self.result = result
        self.calls: list[tuple[Any, ...]] = []
        self.in_flight = InFlight()
        self.broken = False
        self._barrier: asyncio.Barrier | None = None

    async def __call__(self, *args: Any) -> Any:
        if self._barrier is None:
            self._barrier = asyncio.Barrier(self.parties)
        self.calls.append(args)
        with self.in_flight.track():
            if not self.broken:
                try:
                    async with asyncio.timeout(self.timeout):
                        await self._barrier.wait()
                except (TimeoutError, asyncio.BrokenBarrierError):
                    self.broken = True
                    with contextlib.suppress(Exception):
                        await self._barrier.abort()
        return self.result(*args)


# --- blocking calls ---------------------------------------------------------------------


@dataclass(frozen=True)
class BlockingCall:
    """A blocking call made on the event loop's thread from the learner's code."""

    func: str
    where: str  # "ex01_hello_run.py:12: time.sleep(delay)"

    def __str__(self) -> str:
        return f"{self.func} at {self.where}"


@contextlib.contextmanager
def detect_blocking(module: types.ModuleType) -> Iterator[list[BlockingCall]]:
    """Record blocking calls (``time.sleep``, blocking socket/file I/O, ``input``...) that
    the learner's ``module`` makes on the loop thread while the block runs.

    Names the learner imported before activation (``from time import sleep``) are rebound
    to the detecting wrappers for the duration, then restored.
    """
    from blockbuster import blockbuster as bb

    found: list[BlockingCall] = []
    module_file = module.__file__ or ""

    class BlockingError(bb.BlockingError):
        def __init__(self, func: str) -> None:
            super().__init__(func)
            found.append(BlockingCall(func, learner_location(module_file) or "?"))

    buster = bb.BlockBuster(scanned_modules=[module])
    original_error = bb.BlockingError
    bb.BlockingError = BlockingError  # type: ignore[misc]  # the wrappers look it up here
    buster.activate()
    rebound: dict[str, Any] = {}
    originals = {
        id(f.original_func): f for f in buster.functions.values() if f.original_func is not None
    }
    for name, value in list(vars(module).items()):
        fn = originals.get(id(value))
        if fn is not None and value is fn.original_func:
            rebound[name] = value
            setattr(module, name, getattr(fn.module, fn.func_name))
    try:
        yield found
    finally:
        buster.deactivate()
        bb.BlockingError = original_error  # type: ignore[misc]
        for name, value in rebound.items():
            setattr(module, name, value)


def learner_location(module_file: str, frame: types.FrameType | None = None) -> str | None:
    """``file:line: source`` of the innermost frame in ``module_file`` on the current stack."""
    frame = frame or sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == module_file:
            return _describe(frame.f_code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return None


def _describe(filename: str, lineno: int) -> str:
    line = linecache.getline(filename, lineno).strip()
    short = filename.rsplit("/", 1)[-1]
    return f"{short}:{lineno}: {line}" if line else f"{short}:{lineno}"


def task_stacks(loop: asyncio.AbstractEventLoop, module_file: str | None = None) -> list[str]:
    """Where each pending task is waiting. With ``module_file`` (the learner's file), only
    the tasks running the learner's code, each named by the learner's function and placed
    at its innermost line there: the grader's own tasks and asyncio's internals are not
    the learner's business."""
    lines = []
    for task in asyncio.all_tasks(loop):
        frames = task.get_stack()
        coro = task.get_coro()
        where = None
        # get_stack gives only the task's own coroutine frame; follow cr_await for the rest.
        inner: Any = coro
        chain = []
        while inner is not None:
            frame = getattr(inner, "cr_frame", None) or getattr(inner, "ag_frame", None)
            if frame is None:
                break
            chain.append(frame)
            inner = getattr(inner, "cr_await", None) or getattr(inner, "ag_await", None)
        frames = chain or frames
        learner = [f for f in frames if module_file and f.f_code.co_filename == module_file]
        if module_file and not learner:
            continue
        pick = learner[-1] if learner else (frames[-1] if frames else None)
        if pick is not None:
            where = _describe(pick.f_code.co_filename, pick.f_lineno)
        name = learner[0].f_code.co_qualname if learner else getattr(coro, "__qualname__", repr(coro))
        lines.append(f"task {name}: waiting at {where}" if where else f"task {name}")
    return sorted(lines)


# --- loopback peers -------------------------------------------------------------------


class Client:
    """A loopback client with bounded, failure-proof clean-up."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(
        cls, host: str, port: int, *, rcvbuf: int | None = None, timeout: float = 5.0
    ) -> Client:
        sock = None
        if rcvbuf is not None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
            reader, writer = await asyncio.wait_for(asyncio.open_connection(sock=sock), timeout)
        else:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_all(self, timeout: float = 5.0) -> bytes:
        return await asyncio.wait_for(self.reader.read(), timeout)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)


@contextlib.asynccontextmanager
async def running_server(server: asyncio.AbstractServer) -> AsyncIterator[tuple[str, int]]:
    """Yield ``(host, port)`` of a started server; close it afterwards with a bounded wait
    (since 3.12 ``wait_closed`` waits for open connections)."""
    try:
        sockets = getattr(server, "sockets", None) or ()
        if not sockets:
            fail(
                "start_server() returned a server with no listening socket: create it with "
                "`await asyncio.start_server(handler, host, port)` and return that server."
            )
        host, port = sockets[0].getsockname()[:2]
        yield host, port
    finally:
        server.close()
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 1.0)


@contextlib.asynccontextmanager
async def loopback_server(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[tuple[str, int]]:
    """A check-side server on 127.0.0.1, port 0, closed with a bounded wait afterwards."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    async with running_server(server) as address:
        yield address


async def call_learner(what: str, awaitable: Awaitable[T], timeout: float) -> T:
    """Await learner code with a teaching timeout: where it was stuck, not a bare Timeout."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if task in done:
        return task.result()
    loop = asyncio.get_running_loop()
    stacks = task_stacks(loop, TARGET_FILE)
    task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait({task}, timeout=1.0)
    # Where the learner's code waits is the lesson; the check's own tasks are noise.
    name = TARGET_FILE.rsplit("/", 1)[-1] if TARGET_FILE else None
    learner = [line for line in stacks if name and f"waiting at {name}:" in line]
    detail = "; ".join(learner or stacks) or "no task information"
    fail(f"{what} did not finish within {timeout:g}s (it was waiting: {detail}).")


# --- process-pool probes ------------------------------------------------------------------
# Work sent to a process pool runs in another interpreter: a check cannot hand it a closure,
# only a picklable module-level function and an argument. The functions checks send
# (``report_pid``, ``call_switchboard``) live in ``grader.workerprobes``, which every worker
# can import quickly whatever its start method; spawn and forkserver workers receive the
# parent's ``sys.path``. Here is the loop side.


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


# --- how a learner call ended ---------------------------------------------------------


@dataclass
class Outcome:
    """How one awaited learner call ended (see :func:`outcome_of`).

    ``finished`` is False when the call was still running at the limit; ``where`` then
    says where the tasks were waiting. ``at`` is the loop time the call ended, and
    ``snapshot`` what the check's ``snapshot()`` returned in that very step.
    """

    finished: bool = False
    value: Any = None
    error: BaseException | None = None
    at: float | None = None
    snapshot: Any = None
    where: str = ""


async def outcome_of(
    awaitable: Awaitable[Any],
    limit: float,
    snapshot: Callable[[], Any] | None = None,
) -> Outcome:
    """Await learner code in its own task for at most ``limit`` seconds of loop time and
    record how it ended, never raising: the value, any exception (``CancelledError``
    included), or "still running" (the task is then cancelled, with a bounded wait).

    ``snapshot`` runs in the same step the call ends, before any other task or callback:
    "had the cleanup run when it returned?" is judged at that moment, not one loop
    iteration later when a straggler may have caught up. On a virtual-time loop a large
    ``limit`` costs no real time.
    """
    loop = asyncio.get_running_loop()
    outcome = Outcome()
    recording = True

    async def runner() -> None:
        value: Any = None
        error: BaseException | None = None
        try:
            value = await awaitable
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # recorded for the check to judge
            error = exc
        if recording:
            outcome.finished, outcome.value, outcome.error = True, value, error
            outcome.at = loop.time()
            if snapshot is not None:
                outcome.snapshot = snapshot()

    task = asyncio.ensure_future(runner())
    done, _ = await asyncio.wait({task}, timeout=limit)
    if not done:
        recording = False
        stacks = task_stacks(loop, TARGET_FILE)
        short = TARGET_FILE.rsplit("/", 1)[-1] if TARGET_FILE else None
        marker = f"waiting at {short}:"
        mine = [s.split("waiting at ", 1)[1] for s in stacks if short and marker in s]
        outcome.where = "; ".join(mine or stacks) or "no task information"
        task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait({task}, timeout=1.0)
    elif not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]  # the check's own snapshot failed
    return outcome


def new_tasks(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Pending tasks that are not in ``before`` (a snapshot of ``asyncio.all_tasks()``),
    the current task excluded: what the code under test left running."""
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t not in before and t is not current}


async def cancel_tasks(tasks: set[asyncio.Task[Any]], timeout: float = 1.0) -> set[asyncio.Task[Any]]:
    """Clean-up: cancel ``tasks`` (a few times, for code that swallows one cancellation)
    and wait a bounded time for them to end. Returns those still pending."""
    pending = {t for t in tasks if not t.done()}
    cancelled = set(pending)
    for _ in range(3):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=timeout / 3)
    for task in cancelled:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: a clean-up must not leave "never retrieved" noise
    return pending
