"""The checker's side of a split run: proxies for the learner's objects, and the shared clock.

A check marked ``split`` gets, as ``ex``, a :class:`RemoteModule`: its attributes live in
a worker process (:mod:`grader.split.worker`) that imported the learner's file, and every
use crosses a socket as plain data. The check, pytest, the plugin, the probes and the
channel key stay here, in a process that never runs the learner's code: the learner's
module cannot reach them (no frame, no ``gc`` list, no plugin manager to patch), so the
verdict is the checker's alone.

What crosses:
- ``ex.name`` asks the worker; a coroutine function arrives as a local ``async def`` that,
  awaited, runs the learner's coroutine in the worker and returns its result (so calling
  it without awaiting runs nothing, as in one process);
- ``ex.name = value`` (``monkeypatch.setattr``) sets it there; a callable of the checker's
  arrives as a stub that calls back, so fakes and probes run here and count calls,
  concurrency and time where the learner cannot touch them;
- exceptions cross by value, and come back as the very object when they were ours;
- a coroutine one of our plain functions returns arrives as a coroutine that, awaited,
  runs ours here (never awaited there, it never starts here either);
- a :class:`SharedList` (a log the learner's code fills) arrives as a list whose every
  use asks this one: the check reads what was written, in place.

**Time.** Both processes run on one virtual clock, moved only by :class:`LinkedLoop`,
the checker's loop: it jumps to the next timer (its own or the worker's) only when both
are idle and every message has been read on each side. A worker busy in real time (a
thread, a blocking call) holds the clock still.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import os
import selectors
import signal
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

from grader import monitor, procstate
from grader.loops import GRACE_S, VirtualTimeLoop, _VirtualSelector, learner_threads, tcp_connections
from grader.split import sleeps, wire

#: Real seconds a blocking request waits at a time before looking at its deadline again.
POLL_S = 0.05

#: Real seconds a send to the worker may go without any progress.
SEND_S = 1.0

#: The grace before the clock moves, in real seconds, is this many times the worker's
#: last answer time to a look (at least ``loops.GRACE_S``, at most ``GRACE_MAX_S``): on a
#: machine loaded enough to slow the worker's answers, loopback bytes land later too.
GRACE_PER_SYNC = 4.0
GRACE_MAX_S = 0.2

#: Real seconds the clock may be held at one moment while the kernel still moves bytes
#: between a socket of the checker's and its peer (see ``_LinkedSelector``). Bytes on
#: loopback land within milliseconds on an idle machine; this bounds a kernel that
#: reports motion that never ends.
MOTION_MAX_S = 2.0

#: Real seconds without progress the clock may be held while a retransmission or window
#: probe of the kernel's is still to deliver bytes to a receiver that has read
#: everything: the timer's backoff doubles up to two minutes, the check's own deadline
#: bounds the wait anyway.
TIMER_WAIT_MAX_S = 20.0

#: Characters of the learner's output a check keeps (as the worker is told to, checked here).
OUTPUT_CAP = 64 * 1024

#: CPU seconds the worker's main thread may run without a word to the checker before the
#: checker itself names a spin (the worker's own monitor names one at 0.25 s: this is for
#: a worker that silenced it).
SILENT_SPIN_S = 0.5


class WorkerGone(Exception):
    """The worker died or broke the conversation."""


class RemoteHold:
    """What held the worker's loop, as its monitor told it (``monitor.Hold``'s shape)."""

    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind
        self.text = text

    def message(self) -> str:
        return self.text


class LearnerCallFailed(Exception):
    """A call into the learner's code raised something that cannot be mirrored here."""


@dataclass(frozen=True)
class Caller:
    """Where a call from the worker came from."""

    #: Which of its loops and threads (ids, to compare with each other): its account.
    loop: int
    thread: int
    #: Whether that loop is the one running the checker's call (its account).
    on_check_loop: bool
    #: Threads of the learner's alive, as the worker counts them (its account)...
    threads_said: int
    #: ...and as the kernel counts them: the worker's threads beyond the grader's own
    #: (its main thread, its link reader and its loop monitor). None when unreadable.
    threads_seen: int | None
    #: Cancellations of the calling task pending when it called (its ``cancelling()``:
    #: the worker's account).
    cancelling: int = 0

    @property
    def threads(self) -> int:
        """The larger count: a worker can hide a thread from its own account, not from
        the kernel's."""
        return max(self.threads_said, self.threads_seen or 0)


CALLED_FROM: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("CALLED_FROM", default=None)

#: Threads a worker runs for the grader once it has imported the learner's module
#: (main, link reader, loop monitor).
WORKER_OWN_THREADS = 3
#: Real seconds the worker's main thread may sleep on after its loops were woken before
#: it counts as held elsewhere (:meth:`Link.main_thread_wakes`). Waited out only when the
#: worker said its loop was free and the kernel says otherwise: a liar's cost.
WAKE_PATIENCE_S = 2.0
#: Seconds between two looks at the main thread while waiting for it to wake.
WAKE_LOOK_S = 0.001
#: Seconds the main thread must have slept in one wait before its loop is woken.
SETTLED_S = 0.02


_ZYGOTE: list[tuple[socket.socket, int]] = []
_CURRENT: list[Link] = []


def prestart() -> None:
    """Start the workers' zygote now (a fresh interpreter: it takes a moment)."""
    _zygote()


def _zygote() -> socket.socket:
    if not _ZYGOTE:
        from grader.split.worker import start_zygote

        _ZYGOTE[:] = [start_zygote()]
    return _ZYGOTE[0][0]


def current() -> Link | None:
    """The link of the check running now, if it is a split check."""
    return _CURRENT[0] if _CURRENT and not _CURRENT[0].closed else None


def spawn(deadline: float) -> Link:
    """A fresh worker for one check, forked by the zygote."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        socket.send_fds(_zygote(), [b"w"], [theirs.fileno()])
    finally:
        theirs.close()
    try:
        ours.settimeout(max(deadline - time.monotonic(), 0.5))
        watch = sleeps.take_over(ours)
    except OSError as exc:
        ours.close()
        raise WorkerGone(f"the worker did not start ({type(exc).__name__})") from exc
    finally:
        with contextlib.suppress(OSError):
            ours.settimeout(None)
    link = Link(ours, deadline)
    link.sleeps = watch
    hello = link.wait_for(lambda m: m.get("op") == "hello")
    pid = hello.get("pid")
    link.pid = pid if isinstance(pid, int) else None
    if watch is not None:
        watch.main = link.pid
    _CURRENT[:] = [link]
    return link


class Link:
    """The checker's end of the conversation with one worker."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.reader = wire.FrameReader(sock)
        self.codec = wire.Codec(self._proxy, _kind_of, self._mirror_exception)
        self.deadline = deadline
        self.pid: int | None = None
        #: The kernel's account of the worker's sleeps (``grader.split.sleeps``), if any.
        self.sleeps: sleeps.SleepWatch | None = None
        self.sent = 0
        self.next_id = 0
        self.closed = False
        self.broken: str | None = None
        #: The worker's last word on its state: idle (with what it has read), its next timer.
        self.worker_idle = False
        self.worker_seen = 0
        self.worker_deadline: float | None = None
        self.worker_live = False
        #: Characters of the learner's output still accepted for this check.
        self.output_left = OUTPUT_CAP
        #: The worker's main thread's CPU seconds when it last said anything (pid, when read).
        self._cpu_mark: float | None = None
        self._spin_told = False
        self.judge_holds = True
        self.futures: dict[int, asyncio.Future[Any]] = {}
        #: Answers that came while their waiter, just cancelled, had no future out.
        self.early: dict[int, dict[str, Any]] = {}
        self.callbacks: dict[int, asyncio.Task[Any]] = {}
        self.exception_types: dict[str, type[BaseException]] = {}
        self.loop: LinkedLoop | None = None
        #: The shared virtual clock, as the checker's loops last moved it.
        self.clock = time.monotonic()
        #: Called with what held the worker's loop (its monitor's account).
        self.on_held: Any = None
        self.outbox: list[bytes] = []
        #: The worker confirmed it idle since the checker's loop last moved time.
        self.synced = False
        #: When the last such look was asked for, and the grace (real seconds) the loop
        #: gives outside I/O before it moves the clock (see GRACE_PER_SYNC).
        self.sync_sent: float | None = None
        self.grace = GRACE_S
        #: Since when (real time) the kernel has said bytes are moving, with no progress,
        #: while both sides were otherwise quiet (the clock held).
        self.motion_since: float | None = None
        #: The kernel's state at the last look that saw it change (``TcpMotion.state``).
        self.motion_state: tuple[tuple[int, int, int, int], ...] | None = None

    # -- the conversation ----------------------------------------------------------------

    def now(self) -> float:
        return self.clock

    def send(self, message: dict[str, Any]) -> None:
        """Queue ``message``: what one turn of the checker's loop says goes out together
        (:meth:`flush`), so that the worker sees, say, three fakes that fail at the same
        moment fail at the same moment, not one by one."""
        if self.closed:
            raise WorkerGone(self.broken or "the worker has ended")
        message["now"] = self.now()
        self.sent += 1
        self.worker_idle = False
        self.outbox.append(wire.pack(message))

    def flush(self) -> None:
        if not self.outbox or self.closed:
            return
        data, self.outbox = b"".join(self.outbox), []
        view, sent = memoryview(data), 0
        try:
            # A worker that stops reading must not hold the checker (it is killed instead):
            # SEND_S without any progress, never longer than the check may take. A large
            # message to a worker that reads, on a loaded machine, just takes its time.
            while sent < len(view):
                self.sock.settimeout(min(max(self.deadline - time.monotonic(), 0.5), SEND_S))
                sent += self.sock.send(view[sent:])
        except OSError as exc:
            self._break(f"the worker stopped reading what the checks sent ({type(exc).__name__})")

    def _break(self, why: str) -> None:
        """The worker broke the conversation: it is over (the worker is killed), and every
        request still waiting fails with why."""
        if self.broken is None:
            self.broken = why
        for future in self.futures.values():
            if not future.done():
                future.set_exception(WorkerGone(why))
        self.close()

    def watch_cpu(self) -> None:
        """While the worker is at work without a word: if its main thread has run
        ``SILENT_SPIN_S`` of CPU meanwhile, it holds its loop and has silenced its own
        monitor. The kernel's count, read from outside the worker, decides: the check fails
        with a spin and the worker is killed."""
        if self.pid is None or self.closed or self._spin_told or not self.judge_holds:
            return
        cpu = _cpu_seconds(self.pid)
        if cpu is None:
            return
        if self._cpu_mark is None:
            self._cpu_mark = cpu
            return
        used = cpu - self._cpu_mark
        if used >= SILENT_SPIN_S:
            from grader import explain

            self._spin_told = True
            if self.on_held is not None:
                self.on_held(RemoteHold("busy", explain.loop_held("busy", None, None, used)))
            self._break(f"it ran {used:.1f} s of CPU without a word")

    def quiet(self) -> bool:
        """Both sides have read everything and the worker waits for nothing it can bring."""
        return self.worker_idle and self.worker_seen == self.sent and not self.reader.buffer

    def on_readable(self) -> None:
        """Loop callback: read and handle what the worker sent."""
        try:
            self.reader.fill(block=False)
            self._drain()
        except wire.WireError as exc:
            self._break(str(exc))
            if self.loop is not None:
                with contextlib.suppress(Exception):
                    self.loop.remove_reader(self.sock.fileno())

    def _drain(self) -> None:
        while not self.closed:
            message = self.reader.take()
            if message is None:
                return
            self.handle(message)

    def wait_for(self, done: Any) -> dict[str, Any]:
        """Block (no loop) until a message satisfies ``done``; handle the others meanwhile."""
        self.flush()
        while True:
            if self.closed:
                raise WorkerGone(self.broken or "the worker has ended")
            message = self.reader.take()
            if message is not None:
                if done(message):
                    self._note(message)
                    return message
                self.handle(message)
                continue
            self.flush()  # what handling the messages said
            self.watch_cpu()
            if self.closed:
                raise WorkerGone(self.broken or "the worker has ended")
            if time.monotonic() > self.deadline:
                raise WorkerGone("the learner's code did not answer in time")
            try:
                self.reader.fill(block=True, timeout=POLL_S)
            except wire.WireError as exc:
                self._break(str(exc))

    def _note(self, message: dict[str, Any]) -> None:
        if message.get("op") == "idle":
            self.worker_idle = True
        else:
            self.worker_idle = False

    def handle(self, message: dict[str, Any]) -> None:
        self._cpu_mark = None
        op = message.get("op")
        if op == "idle":
            seen, deadline = message.get("seen"), message.get("deadline")
            self.worker_idle = True
            self.worker_seen = seen if isinstance(seen, int) else -1
            self.worker_deadline = float(deadline) if isinstance(deadline, int | float) else None
            self.worker_live = bool(message.get("live"))
            if self.synced and self.sync_sent is not None:
                # How long the worker took to look once more: on a loaded machine, bytes
                # between the processes take longer to land too, so the grace before the
                # clock moves grows with it.
                taken = time.monotonic() - self.sync_sent
                self.grace = min(GRACE_MAX_S, max(GRACE_S, GRACE_PER_SYNC * taken))
                self.sync_sent = None
            return
        self.worker_idle = False
        self.synced = False  # the worker did something: its last look is void
        number = message.get("id")
        if op == "reply" and isinstance(number, int):
            future = self.futures.pop(number, None)
            if future is not None:
                if not future.done():
                    future.set_result(message)
                else:
                    # Its waiter was cancelled in this round and has not yet asked again.
                    self.early[number] = message
            else:
                self._break("the worker answered a request that was never made")
        elif op == "out":
            text = str(message.get("text", ""))
            self.output_left -= len(text)
            if self.output_left < 0:
                # The worker stops forwarding at the cap itself: more is not its output.
                self._break("the worker sent more output than it may")
                return
            stream = sys.stderr if message.get("stream") == "stderr" else sys.stdout
            with contextlib.suppress(Exception):
                stream.write(text)
        elif op == "call" and isinstance(number, int):
            self._call_here(number, message)
        elif op == "cancel" and isinstance(number, int):
            task = self.callbacks.get(number)
            if task is not None:
                # On the loop's next round: a call and its cancel can arrive together, and
                # in one process the called coroutine runs up to its first wait before
                # anything can cancel it (the task's first step is already scheduled).
                task.get_loop().call_soon(task.cancel)
        elif op == "held":
            if self.on_held is not None:
                kind, text = str(message.get("kind", ""))[:20], wire.crop(str(message.get("message", "")), 4000)
                monitor.adopt_proven(message.get("proven"))
                self.on_held(RemoteHold(kind, text))
        elif op == "hello":
            pass
        else:
            self._break(f"the worker sent an unknown message {str(op)[:40]!r}")

    # -- the worker calls the checker's callables -------------------------------------------

    def _call_here(self, number: int, message: dict[str, Any]) -> None:
        try:
            function = self.codec.decode(message.get("target"))
            args = self.codec.decode(message.get("args", []))
            kwargs = self.codec.decode(message.get("kwargs", {"$": "dict", "items": []}))
            awaitable = inspect.isawaitable(function) and not callable(function)
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise wire.WireError("a call of something not callable")
            if not (callable(function) or (awaitable and not args and not kwargs)):
                raise wire.WireError("a call of something not callable")
            where = message.get("from")
            said = (
                [int(n) for n in where]
                if isinstance(where, list) and len(where) == 5 and all(type(n) is int for n in where)
                else None
            )
            seen = _threads_of(self.pid)
            beyond = None if seen is None else max(0, seen - WORKER_OWN_THREADS)
            token_from = CALLED_FROM.set(
                Caller(said[0], said[1], bool(said[2]), max(0, said[3]), beyond, max(0, said[4])) if said else None
            )
            try:
                if callable(function):
                    # A coroutine's task is created below, in this context: it keeps the caller.
                    result = function(*args, **{str(k): v for k, v in kwargs.items()})
                    awaited = _kind_of(function) == "async" or isinstance(function, HeldCall)
                else:
                    # The worker awaits an awaitable of ours (a coroutine a plain function
                    # of ours returned): run it here, once.
                    result, awaited = function, True
                if awaited and inspect.isawaitable(result):
                    task = asyncio.ensure_future(result, loop=asyncio.get_running_loop())
                    self.callbacks[number] = task
                    task.add_done_callback(lambda t: self._callback_done(number, t))
                    return
            finally:
                CALLED_FROM.reset(token_from)
        except wire.WireError as exc:
            self._break(str(exc))
            return
        except Exception as exc:
            self._answer(number, error=exc)
            return
        self._answer(number, value=result)

    def _callback_done(self, number: int, task: asyncio.Future[Any]) -> None:
        # Answered however it ends, a cancel from the worker included: the worker's call
        # waits for the outcome, as awaiting a cancelled task waits for it to end.
        self.callbacks.pop(number, None)
        if task.cancelled():
            self._answer(number, cancelled=True)
        elif task.exception() is not None:
            self._answer(number, error=task.exception())
        else:
            self._answer(number, value=task.result())

    def _answer(
        self, number: int, value: Any = None, error: BaseException | None = None, cancelled: bool = False
    ) -> None:
        if self.closed:
            return
        message: dict[str, Any] = {"op": "reply", "id": number, "ok": error is None and not cancelled}
        if cancelled:
            message["cancelled"] = True
        elif error is not None:
            self.exception_types.setdefault(type(error).__name__, type(error))
            message["error"] = self.codec.encode(error)
        else:
            message["value"] = self.codec.encode(value)
        with contextlib.suppress(WorkerGone):
            self.send(message)

    # -- the checker asks the worker ---------------------------------------------------------

    def _request(self, op: str, **fields: Any) -> int:
        self.next_id += 1
        number = self.next_id
        self.send({"op": op, "id": number, **fields})
        return number

    def ask(self, op: str, **fields: Any) -> dict[str, Any]:
        """A request answered at once (no loop needed on either side)."""
        number = self._request(op, **fields)
        return self.wait_for(lambda m: m.get("op") == "reply" and m.get("id") == number)

    def ask_value(self, op: str, **fields: Any) -> Any:
        return self.result(self.ask(op, **fields))

    async def main_thread_wakes(self, patience: float = WAKE_PATIENCE_S) -> bool | None:
        """Whether the worker's main thread, which runs the learner's event loop, wakes
        when that loop is woken. First it must be asleep in one wait (no context switch
        for ``SETTLED_S``: a thread that just made a call is still on its way into the
        wait); then the worker's reader thread writes to every running loop's self-pipe
        and answers (op ``poke``), and the kernel's account of the main thread says
        whether it ran since. A loop waiting in its selector wakes at once; a thread held
        elsewhere (in a blocking call of the learner's code, or waiting for a thread)
        sleeps on. True: it woke, or never settled (a thread that keeps running is not
        held in a wait); False: it slept on for ``patience`` seconds of real time; None:
        not known (no loop running there, or the kernel's tables cannot be read)."""
        if self.pid is None:
            return None
        switches = await asyncio.to_thread(_settled, self.pid, patience)
        if switches is None:
            return None
        if switches < 0:
            return True  # it never settled: a thread that keeps running is not held in a wait
        try:
            woken = self.ask_value("poke")
        except Exception:
            return None
        if type(woken) is not int or woken <= 0:
            return None
        return await asyncio.to_thread(_wakes, self.pid, switches, patience)

    async def ask_async(self, op: str, **fields: Any) -> Any:
        """A request whose answer may take loop time (the learner's coroutine runs).
        Cancelled, it asks the worker to cancel the call and waits for how the call really
        ended, as awaiting a task does: code that swallows the cancellation and returns
        is seen doing so (its caller is then not cancelled), as in one process."""
        loop = asyncio.get_running_loop()
        number = self._request(op, **fields)
        cancelled = False
        while True:
            # The future itself is awaited (no shield: an answer wakes the caller in the
            # very next round, before what the messages after it set in motion); a cancel
            # cancels it, and a fresh one waits for the same answer.
            if number in self.early:
                answer = self.early.pop(number)
                break
            future: asyncio.Future[dict[str, Any]] = loop.create_future()
            self.futures[number] = future
            try:
                answer = await future
                break
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    raise  # answered in the same round: the cancellation wins, as in one process
                cancelled = True
                try:
                    self.send({"op": "cancel", "id": number})
                except WorkerGone:
                    self.futures.pop(number, None)
                    raise asyncio.CancelledError() from None
        if cancelled and answer.get("cancelled"):
            raise asyncio.CancelledError()
        return self.result(answer)

    def result(self, answer: dict[str, Any]) -> Any:
        if answer.get("cancelled"):
            raise asyncio.CancelledError()
        try:
            if answer.get("ok"):
                return self.codec.decode(answer.get("value"))
            error = self.codec.decode(answer.get("error"))
        except wire.WireError as exc:
            self._break(str(exc))
            raise WorkerGone(str(exc)) from None
        if not isinstance(error, BaseException):
            raise LearnerCallFailed(wire.safe_repr(error))
        at = answer.get("at")
        if isinstance(at, str):
            with contextlib.suppress(Exception):
                error.learner_at = wire.crop(at, 300)  # type: ignore[attr-defined]
        raise error

    def call(self, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *, awaited: bool = False) -> Any:
        fields = {
            "target": self.codec.encode(target),
            "args": self.codec.encode(list(args)),
            "kwargs": self.codec.encode(dict(kwargs)),
            "await": awaited,
        }
        return fields

    def import_module(
        self, name: str, path: str, source: bytes, *, judge_holds: bool = True, session: bool = False
    ) -> RemoteModule | str:
        """Import the learner's module in the worker; the failure's explanation if it fails.
        With ``session`` (an async check), the worker then runs everything in a loop."""
        self.judge_holds = judge_holds
        answer = self.ask(
            "import",
            name=name,
            path=path,
            source=self.codec.encode(source),
            judge_holds=judge_holds,
            session=session,
            # The lines an earlier check's worker was seen spinning on: the same loop
            # entered again is named at once (monitor.PROVEN_LINE_S).
            proven=monitor.proven(),
        )
        if not answer.get("ok") and isinstance(answer.get("message"), str):
            return wire.crop(answer["message"], 4000)
        module = self.result(answer)
        if not isinstance(module, RemoteObject):
            raise WorkerGone("the worker answered an import with something else")
        remote = RemoteModule(self, module._number, module._repr, module._name)
        object.__setattr__(remote, "learner_file", path)
        object.__setattr__(remote, "learner_source", bytes(source))
        self.codec.adopt(remote, module._number)
        return remote

    def here(self, name: str, *args: Any) -> Any:
        """Run the worker-side probe ``name`` (``grader.probes.here``) there, now; its
        answer is the worker's account."""
        return self.ask_value("here", name=name, args=self.codec.encode(list(args)))

    async def here_async(self, name: str, *args: Any) -> Any:
        """The same, for a probe that takes loop time there (a coroutine)."""
        return await self.ask_async("here", name=name, args=self.codec.encode(list(args)))

    def stacks(self) -> list[str]:
        """Where the learner's tasks wait (the worker's account: used for explanations only)."""
        with contextlib.suppress(Exception):
            value = self.ask_value("stacks")
            if isinstance(value, list):
                return [wire.crop(str(line), 400) for line in value[:20]]
        return []

    def problems(self, match: str = "") -> list[dict[str, Any]]:
        """What the worker's loop recorded whose message holds ``match`` (its account), taken."""
        value = self.ask_value("problems", match=match)
        return [p for p in value if isinstance(p, dict)] if isinstance(value, list) else []

    def end(self) -> list[str]:
        """End the check in the worker; what it reports it left behind (hygiene)."""
        if self.closed:
            return []
        hygiene: list[str] = []
        with contextlib.suppress(Exception):
            # A worker still stuck in the learner's code cannot answer: a moment, then it is killed.
            self.deadline = time.monotonic() + 1.0
            value = self.ask_value("end")
            if isinstance(value, list):
                hygiene = [wire.crop(str(text), 1000) for text in value[:20]]
        self.close()
        return hygiene

    def close(self) -> None:
        self.closed = True
        if self.sleeps is not None:
            self.sleeps.stop()
        if self.loop is not None and not self.loop.is_closed():
            with contextlib.suppress(Exception):
                self.loop.remove_reader(self.sock.fileno())
        with contextlib.suppress(OSError):
            self.sock.close()
        if self.pid is not None:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
        if _CURRENT and _CURRENT[0] is self:
            _CURRENT.clear()

    # -- codec hooks ---------------------------------------------------------------------------

    def _proxy(self, number: int, kind: str, text: str, name: str) -> Any:
        if kind == "async":
            return _remote_coroutine_function(self, number, name)
        if kind == "call":
            return RemoteCallable(self, number, text, name)
        if kind == "awaitable":
            return RemoteAwaitable(self, number, text, name)
        return RemoteObject(self, number, text, name)

    def _mirror_exception(self, type_name: str, text: str, args: list[Any], number: int | None) -> BaseException:
        if type_name == "CancelledError":
            return asyncio.CancelledError(text)
        ours = self.exception_types.get(type_name) or wire.builtin_exception(type_name)
        if ours is not None:
            with contextlib.suppress(Exception):
                return ours(*args)
            with contextlib.suppress(Exception):
                return ours(text)
        return _learner_exception_type(type_name)(text)


_LEARNER_TYPES: dict[str, type[Exception]] = {}


def _learner_exception_type(name: str) -> type[Exception]:
    """A class named like the learner's exception class (always an ``Exception``)."""
    cls = _LEARNER_TYPES.get(name)
    if cls is None:
        ident = name if name.isidentifier() else "LearnerError"
        cls = _LEARNER_TYPES[name] = type(ident, (Exception,), {"__module__": "learner"})
    return cls


def _kind_of(value: Any) -> str:
    if isinstance(value, SharedList):
        return "list"
    if isinstance(value, HeldCall):
        return "call"  # a plain call there, a coroutine here (see HeldCall)
    call = vars(type(value)).get("__call__")  # an instance whose __call__ is async (BarrierProbe)
    if inspect.iscoroutinefunction(value) or inspect.iscoroutinefunction(call):
        return "async"
    if callable(value):
        return "call"
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return "awaitable"
    if inspect.isawaitable(value):
        return "awaitable-object"  # an object with __await__ that is not a coroutine
    return "object"


class SharedList(list):  # type: ignore[type-arg]
    """A list of the check's that the learner's code fills in place (ex02's ``log``).

    In one process it is a plain list. In a split run it crosses as a reference, not as a
    copy: the worker holds a list-like stand-in whose every use (``append``, ``len``,
    iterating...) asks this one, so the check reads what the learner's code wrote, and the
    same object comes back when the learner passes it to a fake of ours (``log is
    passed_log`` holds). The worker may only call the list methods named in ``USES``.
    """

    USES = frozenset(
        {
            "append", "extend", "insert", "pop", "remove", "clear", "index", "count", "copy",
            "replace", "__len__", "__getitem__", "__setitem__", "__delitem__", "__contains__",
            "__repr__",
        }
    )  # fmt: skip

    def __call__(self, use: str, *args: Any) -> Any:
        """One use of the list by the worker's stand-in."""
        if use not in self.USES:
            raise TypeError(f"a shared list cannot be used with {str(use)[:40]!r}")
        if use == "copy":
            return list(self)
        if use == "replace":
            (items,) = args
            self[:] = list(items)
            return None
        if use == "__repr__":
            return list.__repr__(self)
        if use in ("__getitem__", "__setitem__", "__delitem__") and (not args or type(args[0]) is not int):
            raise TypeError("a shared list is indexed with integers only")
        return getattr(self, use)(*args)


class RemoteObject:
    """One of the worker's objects, seen from the checker."""

    def __init__(self, link: Link, number: int, text: str, name: str) -> None:
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_number", number)
        object.__setattr__(self, "_repr", text)
        object.__setattr__(self, "_name", name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        link: Link = object.__getattribute__(self, "_link")
        try:
            return link.ask_value("getattr", target=link.codec.encode(self), name=name)
        except AttributeError as exc:
            raise AttributeError(str(exc), name=name, obj=self) from None

    def __setattr__(self, name: str, value: Any) -> None:
        link: Link = object.__getattribute__(self, "_link")
        if link.closed:
            return  # the worker has ended (a monkeypatch undone after the check): nothing to restore
        link.ask_value("setattr", target=link.codec.encode(self), name=name, value=link.codec.encode(value))

    def __delattr__(self, name: str) -> None:
        link: Link = object.__getattribute__(self, "_link")
        if link.closed:
            return
        link.ask_value("setattr", target=link.codec.encode(self), name=name, delete=True)

    def __repr__(self) -> str:
        return str(object.__getattribute__(self, "_repr"))


class RemoteModule(RemoteObject):
    """The learner's module, imported in the worker."""


class RemoteCallable(RemoteObject):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        link: Link = object.__getattribute__(self, "_link")
        fields = _call_fields(link, self, args, kwargs, awaited=False)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # No loop here: run one on the shared clock while the learner's code runs
            # there, so that the fakes it calls back (coroutines here) can run too.
            loop = LinkedLoop()
            try:
                return loop.run_until_complete(link.ask_async(**fields))
            finally:
                loop.close()
        # Inside the check's loop (a sync function called from an async check): wait
        # for the answer here, handling plain calls back meanwhile.
        return link.ask_value(**fields)


class RemoteAwaitable(RemoteObject):
    def __await__(self) -> Any:
        link: Link = object.__getattribute__(self, "_link")
        return link.ask_async("await", target=link.codec.encode(self)).__await__()


def _call_fields(
    link: Link, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *, awaited: bool
) -> dict[str, Any]:
    for value in (*args, *kwargs.values()):
        if isinstance(value, BaseException):
            link.exception_types.setdefault(type(value).__name__, type(value))
    return {"op": "call", **link.call(target, args, kwargs, awaited=awaited)}


def _remote_coroutine_function(link: Link, number: int, name: str) -> Any:
    """A learner's ``async def``, here: calling it runs nothing; awaiting it runs it there."""
    holder = RemoteObject(link, number, f"<function {name}>", name)

    async def remote(*args: Any, **kwargs: Any) -> Any:
        return await link.ask_async(**_call_fields(link, holder, args, kwargs, awaited=True))

    ident = name.rsplit(".", 1)[-1]
    remote.__name__ = ident if ident.isidentifier() else "remote"
    remote.__qualname__ = name or remote.__name__
    remote.__module__ = "learner"
    link.codec.adopt(holder, number)
    # The function itself is what the checker holds: sending it back sends the learner's.
    link.codec.adopt(remote, number)
    return remote


_Event = tuple[selectors.SelectorKey, int]


class _LinkedSelector(_VirtualSelector):
    """The checker loop's selector: time jumps only when the worker is quiet too."""

    _loop: LinkedLoop

    def wait(self, timeout: float | None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self._loop
        link = loop.attach()
        if link is None:
            return super().wait(timeout)
        link.flush()
        if link.reader.buffer and not link.closed:
            # What a blocking request (wait_for) read past its answer is already off the
            # socket, which will not turn readable for it: handle it now.
            link._drain()
            link.flush()
        if timeout is not None and timeout <= 0:
            link.synced = False  # callbacks are ready here: something happens
            return self._real.select(timeout)
        events = self._real.select(0)
        if events:
            return self._happened(link, events)
        if not link.quiet():
            # The worker is at work, or has not read everything yet: wait for it, for real.
            link.watch_cpu()
            return self._happened(link, self._real.select(POLL_S))
        if link.worker_live:
            # Threads of the worker's are at work outside its loops: time passes 1:1, as
            # in one process, looked at again every GRACE_S.
            start = time.monotonic()
            events = self._real.select(GRACE_S if timeout is None else min(timeout, GRACE_S))
            loop.advance(time.monotonic() - start)
            link.clock = loop.time()
            with contextlib.suppress(WorkerGone):
                link.send({"op": "advance"})
            return self._happened(link, events)
        if loop.outside_io_possible():
            events = self._real.select(link.grace)
            if events:
                return self._happened(link, events)
        if not link.synced:
            # Sockets of ours may talk to the worker's: bytes we sent it may be waiting,
            # readable, in its socket while its last "idle" predates them, or our reading
            # may have let it write again. Before time moves, have every loop of the
            # worker look once more (an advance that moves nothing): it says idle again
            # only once it has nothing ready, having read what there was and sent what
            # it answered (which we see before we go on). Always, not only while a socket
            # of ours is registered: one that reached end of file, or paused reading, is
            # no longer, and the worker may still be at work on what it last did.
            link.synced = True
            link.sync_sent = time.monotonic()
            with contextlib.suppress(WorkerGone):
                link.send({"op": "advance"})
                link.flush()
            return []
        if self._bytes_moving(link):
            # Both sides are idle, but bytes between a socket of ours and its peer are
            # still on their way (sent, not yet received: on loopback the kernel hands
            # them over in its own time, late on a loaded machine). Their arrival is
            # something happening: wait for it for real, then have the worker look again.
            link.synced = False
            return self._happened(link, self._real.select(GRACE_S))
        link.synced = False
        now = loop.time()
        targets = [t for t in (None if timeout is None else now + timeout, link.worker_deadline) if t is not None]
        if not targets:
            return self._real.select(POLL_S)  # nothing can happen: the stall rule decides
        target = max(min(targets), now)
        loop.advance(target - now)
        link.clock = loop.time()
        with contextlib.suppress(WorkerGone):
            link.send({"op": "advance"})
        return []

    def _bytes_moving(self, link: Link) -> bool:
        """The kernel's account, read here (never the worker's word): bytes between a
        TCP socket of this loop's and its peer are still moving. Held for at most
        ``MOTION_MAX_S`` without the kernel making progress, or, while one of its
        retransmission or window-probe timers is still to send bytes to a receiver that
        has read everything (and does not leave unread what that receiver sends it),
        ``TIMER_WAIT_MAX_S``."""
        connections = tcp_connections(self._loop)
        look = procstate.tcp_look(connections) if connections else None
        if look is None or not look.moving:
            link.motion_since = link.motion_state = None
            return False
        now = time.monotonic()
        if link.motion_since is None or look.state != link.motion_state:
            # Progress since the last look (or the first look): the kernel is at work.
            link.motion_since, link.motion_state = now, look.state
        held = now - link.motion_since
        if held < MOTION_MAX_S:
            return True
        # No progress meanwhile: what sends the rest is a timer of the kernel's (on a
        # loaded machine, a window probe whose backoff grew while the receiver did not
        # read, seen here at 1.6 s and more). Wait for it rather than jump the clock
        # over bytes a reading receiver is about to get.
        return look.due_s is not None and held < TIMER_WAIT_MAX_S

    @staticmethod
    def _happened(link: Link, events: list[_Event]) -> list[_Event]:
        """I/O of this loop's own (not the worker's word on the link) voids the worker's
        last look: it may predate what that I/O sends it."""
        if any(key.fd != link.sock.fileno() for key, _ in events):
            link.synced = False
        return events


class LinkedLoop(VirtualTimeLoop):
    """The virtual-time loop of a split check: shares its clock with the worker's loops."""

    def __init__(self) -> None:
        super().__init__()
        self._selector = _LinkedSelector(self, self._selector._real)
        self._attached: Link | None = None

    def attach(self) -> Link | None:
        link = current()
        if link is not self._attached:
            if link is not None and not self.is_closed():
                link.loop = self
                self._virtual_now = max(self._virtual_now, link.clock)
                link.clock = self._virtual_now
                self.add_reader(link.sock.fileno(), link.on_readable)
            self._attached = link
        return link

    def outside_io_possible(self) -> bool:
        link = self._attached
        registered = len(self._selector.get_map()) - (1 if link is not None and not link.closed else 0)
        return registered > 1 or _threads_alive()

    def nothing_can_wake(self) -> bool:
        link = self.attach()
        if link is None:
            return super().nothing_can_wake()
        return link.quiet() and link.worker_deadline is None and not link.worker_live and not self.outside_io_possible()

    def remote_stall(self) -> tuple[str | None, list[str]]:
        """Both processes wait for what nothing can bring: where the worker waits (its
        account: the learner's line that runs its loop, and where its tasks wait)."""
        link = self._attached
        if link is None or link.closed:
            return None, []
        try:
            found = link.ask_value("stalled")
        except Exception:
            return None, []
        if not isinstance(found, dict):
            return None, []
        at = found.get("at")
        waiting = found.get("waiting")
        lines = [wire.crop(str(line), 400) for line in waiting[:20]] if isinstance(waiting, list) else []
        return (wire.crop(at, 400) if isinstance(at, str) else None), lines

    def remote_stacks(self) -> list[str] | None:
        link = self._attached
        return link.stacks() if link is not None and not link.closed else None

    def close(self) -> None:
        link = self._attached
        if link is not None and not link.closed and not self.is_closed():
            with contextlib.suppress(Exception):
                self.remove_reader(link.sock.fileno())
            link.loop = None
        super().close()


def _threads_of(pid: int | None) -> int | None:
    """How many threads process ``pid`` has, as the kernel lists them."""
    if pid is None:
        return None
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return None


class HeldCall:
    """A callable of the checker's that the worker calls as a plain function (the calling
    thread there waits for the answer) while it runs here as a coroutine: the checker
    can look at the worker, in the kernel's account, while the learner's thread is held
    in the call. Subclasses define ``async def __call__``."""


def _settled(pid: int, patience: float) -> int | None:
    """A thread of the checker's: the context switches of ``pid``'s main thread once it
    has been asleep, not switching, for ``SETTLED_S``; -1 if it did not settle within
    ``patience`` seconds; None if the kernel's tables cannot be read."""
    deadline = time.monotonic() + patience
    last = procstate.thread_run_state(pid, pid)
    since = time.monotonic()
    while last is not None:
        time.sleep(WAKE_LOOK_S)
        now, at = procstate.thread_run_state(pid, pid), time.monotonic()
        if now is None:
            return None
        if now[0] == "R" or now != last:
            last, since = now, at
        elif at - since >= SETTLED_S:
            return now[1]
        if at > deadline:
            return -1
    return None


def _wakes(pid: int, switches: int, patience: float) -> bool:
    """A thread of the checker's: whether ``pid``'s main thread runs, or has switched
    since it had ``switches``, within ``patience`` seconds."""
    deadline = time.monotonic() + patience
    while True:
        now = procstate.thread_run_state(pid, pid)
        if now is None or now[0] == "R" or now[1] != switches:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(WAKE_LOOK_S)


def thread_activity(pid: int, tid: int) -> tuple[int, int] | None:
    """The kernel's count of what thread ``tid`` of ``pid`` did: its context switches
    (voluntary and not) and its CPU ticks. Unchanged between two looks: it stood still."""
    try:
        with open(f"/proc/{pid}/task/{tid}/status", encoding="ascii", errors="replace") as fh:
            status = dict(line.split(":", 1) for line in fh if ":" in line)
        switches = int(status["voluntary_ctxt_switches"]) + int(status["nonvoluntary_ctxt_switches"])
        with open(f"/proc/{pid}/task/{tid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return switches, int(fields[11]) + int(fields[12])
    except (OSError, KeyError, IndexError, ValueError):
        return None


def _cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user and system) of ``pid``'s main thread, from the kernel."""
    try:
        with open(f"/proc/{pid}/task/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _threads_alive() -> bool:
    return bool(learner_threads())
