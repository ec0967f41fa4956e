"""The untrusted worker: the only process that runs the learner's code.

It holds no key and no pipe to the grader: only its end of a socket pair to the checker,
over which it receives the learner's module as bytes, imports it, and runs the calls the
checker asks for. Callables the checker passes in arrive as stubs that call back; what
the learner's code returns goes back by value or as a reference (:mod:`grader.split.wire`).

Its event loops keep the checker's clock. A worker loop never moves time itself: when it
has nothing ready it tells the checker it is idle (and when its next timer is due), then
waits for the checker's next message; the checker advances time for both processes once
both are idle (:mod:`grader.split.checker`). So "three one-second fetches run together
finish at +1 s" stays exact and costs no real time, across the two processes.

Workers are forked from a *zygote* (:func:`serve_zygote`), a process forked from the
sandboxed child once it is contained and before pytest runs: each check gets a fresh
worker that has never seen another check's objects.
"""

from __future__ import annotations

import _thread
import asyncio
import collections
import concurrent.futures
import contextlib
import gc
import inspect
import io
import os
import selectors
import signal
import socket
import sys
import threading
import time
import types
import warnings
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader import explain, monitor, probes
from grader.loops import GRADER_THREAD_PREFIX, GraderLoop, _quiet, learner_threads
from grader.split import sleeps, wire

#: Bytes of the learner's output forwarded per check (the rest is dropped).
OUTPUT_CAP = 64 * 1024


class Clock:
    """The worker's time: the checker's virtual clock, as of its last message."""

    now = 0.0


class WorkerLoop(GraderLoop):
    """A grader loop on the checker's clock that reports when it is idle."""

    def __init__(self) -> None:
        super().__init__()
        self._selector = _LinkedSelector(self, self._selector._real)
        #: In its selector with nothing ready, waiting for the checker (or outside I/O).
        self.idle_now = False
        #: When its next timer is due (checker's clock), while idle.
        self.deadline: float | None = None
        #: Raise in the learner's code on the next poll (it runs this loop, which stalled).
        self.raise_held = False
        #: Times the loop went round without waiting (something was always ready).
        self.rounds = 0

    def time(self) -> float:
        return Clock.now

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., Any], *args: Any
    ) -> asyncio.Future[Any]:
        # Kept until the pool is done with it (GraderLoop.work_waiting, for _report).
        future = super().run_in_executor(executor, func, *args)
        work = self._record_work(future, executor)
        if work is not None:
            work.add_done_callback(self._work_finished)
        return future

    def _work_finished(self, work: concurrent.futures.Future[Any]) -> None:
        self.executor_work.pop(work, None)

    def run_forever(self) -> None:
        link = LINK[0] if LINK else None
        if link is None:
            return super().run_forever()
        self.thread_native_id = threading.get_native_id()  # known before its first poll
        link.loop_started(self)
        try:
            super().run_forever()
        finally:
            link.loop_stopped(self)


class _LinkedSelector:
    def __init__(self, loop: WorkerLoop, real: selectors.BaseSelector) -> None:
        self._loop = loop
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self._loop
        if loop.thread_native_id is None:
            loop.thread_native_id = threading.get_native_id()
        if loop.raise_held:
            loop.raise_held = False
            raise monitor.LoopHeld("the loop waited for what nothing could bring")
        events = self._real.select(0)
        if events or (timeout is not None and timeout <= 0):
            # The loop went round without waiting (its CPU mark stays: it never waited):
            # counted, so that a stretch of CPU with rounds is told from one without.
            loop.rounds += 1
            return events
        link = LINK[0] if LINK else None
        if link is not None:
            link.loop_idle(loop, None if timeout is None else Clock.now + timeout)
        loop.in_select = True
        try:
            # Only the checker (a reply, time moved: through the self-pipe) or outside I/O
            # wakes it: time does not pass here.
            return self._real.select(None)
        finally:
            loop.in_select = False
            if link is not None:
                link.loop_busy(loop)
            loop.cpu_mark = time.thread_time()


class WorkerPolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return WorkerLoop()


LINK: list[Link] = []


class _Forward(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` of the worker: text goes to the checker, capped."""

    def __init__(self, link: Link, stream: str) -> None:
        self._link = link
        self._stream = stream

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._link.output(self._stream, text)
        return len(text)


class Link:
    """The worker's end of the conversation.

    A reader thread takes every message off the socket. What only moves state (a reply to
    a call back, time moving, a cancel) it handles at once, waking the loop concerned; an
    operation (import, call, await, ...) goes to the main thread, which runs it at its top
    level or, while one of its loops runs, as a callback of that loop. The worker reports
    itself idle when every running loop waits in its selector with nothing ready and the
    main thread is in one of them or at its top level: then nothing happens here until
    the checker says something or time moves.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = wire.FrameReader(sock)
        self.codec = wire.Codec(self._stub, _kind_of, _mirror_exception)
        self.lock = threading.RLock()
        self.arrived = threading.Condition(self.lock)
        self.inbox: collections.deque[dict[str, Any]] = collections.deque()
        self.seen = 0
        self.next_id = 0
        self.waiting: dict[int, tuple[asyncio.AbstractEventLoop, weakref.ref[asyncio.Future[Any]]] | None] = {}
        self.answers: dict[int, dict[str, Any]] = {}
        self.running: list[WorkerLoop] = []
        self.at_top = False
        self.module: types.ModuleType | None = None
        self.target: str | None = None
        self.session: WorkerLoop | None = None
        self.tasks: dict[int, asyncio.Task[Any]] = {}
        #: Threads the learner's code started: "a thread (NAME) at FILE:LINE: SOURCE".
        self.threads_started: list[str] = []
        #: StreamWriters closed and waited for, once the checker asked (watch_closing).
        self.closing: Any = None
        #: Bytes StreamReader.read returned, once the checker asked (watch_reads).
        self.reads: Any = None
        self.hygiene: list[str] = []
        self.output_left = OUTPUT_CAP
        self.ending = False
        self.blocking: Any = None
        self.blocking_found: list[Any] = []
        self.stdin = monitor.IdleTerminal()
        self.monitor: monitor.LoopMonitor | None = None
        self._last_idle: tuple[int, float | None, bool] | None = None

    # -- sending -------------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        with self.lock:
            self._last_idle = None
            wire.send(self.sock, message)

    def output(self, stream: str, text: str) -> None:
        if self.output_left <= 0 or not text:
            return
        text = text[: self.output_left]
        self.output_left -= len(text)
        with contextlib.suppress(Exception):
            self.send({"op": "out", "stream": stream, "text": text})

    def reply(self, number: int, value: Any = None, error: BaseException | None = None, **extra: Any) -> None:
        message: dict[str, Any] = {"op": "reply", "id": number, "ok": error is None, **extra}
        try:
            if error is None:
                message["value"] = self.codec.encode(value)
            else:
                message["error"] = self.codec.encode(error)
                message["at"] = _learner_line(error, self.target)
        except Exception as exc:  # a value that cannot cross: say so instead
            message = {"op": "reply", "id": number, "ok": False, "error": self.codec.encode(TypeError(str(exc)))}
        self.send(message)

    # -- idleness ------------------------------------------------------------------------

    def loop_started(self, loop: WorkerLoop) -> None:
        with self.lock:
            self.running.append(loop)
            if self.inbox and threading.current_thread() is threading.main_thread():
                # Operations that arrived while the main thread was between its top level
                # and this loop: nobody was there to be woken for them.
                loop.call_soon(self.drain)

    def loop_stopped(self, loop: WorkerLoop) -> None:
        with self.lock:
            if loop in self.running:
                self.running.remove(loop)
            self._report()

    def loop_idle(self, loop: WorkerLoop, deadline: float | None) -> None:
        with self.lock:
            loop.idle_now, loop.deadline = True, deadline
            self._report()

    def loop_busy(self, loop: WorkerLoop) -> None:
        with self.lock:
            loop.idle_now = False

    def _report(self) -> None:
        """Tell the checker this process is idle, if it is (under the lock)."""
        if self.inbox:
            return
        main = threading.main_thread()
        main_id = monitor.main_thread_native_id()  # not main.native_id: stale after a fork
        main_waits = self.at_top
        for loop in self.running:
            if not loop.idle_now or loop._ready:  # type: ignore[attr-defined]
                return
            if loop.thread_native_id == main_id or loop is self.session:
                main_waits = True
        if not main_waits and not self.running:
            return  # the main thread is at work outside any loop
        deadlines = [loop.deadline for loop in self.running if loop.deadline is not None]
        deadline = min(deadlines) if deadlines else None
        # Live: a thread outside the loops (or the main thread outside them, blocked or at
        # work: it cannot be told) may still do something in real time.
        frames = sys._current_frames()
        # Work handed to a pool and not started yet keeps that pool's idle-looking
        # workers live: one may have just taken it off the queue.
        waiting: set[int] = set().union(*(loop.work_waiting() for loop in self.running))
        live = not main_waits or any(
            t is not main
            and not t.name.startswith(GRADER_THREAD_PREFIX)
            and not any(loop.thread_native_id == t.native_id for loop in self.running)
            # An idle pool worker, or a thread waiting in Future.result() for a coroutine
            # a loop here runs, can do nothing before that loop does.
            and not any(_quiet(loop, frames.get(t.ident or -1), waiting) for loop in self.running)
            for t in threading.enumerate()
        )
        state = (self.seen, deadline, live)
        if state != self._last_idle:
            wire.send(self.sock, {"op": "idle", "seen": self.seen, "deadline": deadline, "live": live})
            self._last_idle = state

    # -- receiving -----------------------------------------------------------------------

    def read_forever(self) -> None:
        """The reader thread: what arrives together is applied together."""
        while True:
            try:
                self.sock.settimeout(None)
                data = self.sock.recv(1 << 20)
            except OSError:
                os._exit(0)
            if not data:
                os._exit(0)  # the checker is gone: nothing left to do
            self.reader.buffer += data
            batch: list[dict[str, Any]] = []
            while True:
                try:
                    message = self.reader.take()
                except wire.WireError:
                    os._exit(0)
                if message is None:
                    break
                batch.append(message)
            if batch:
                self._route(batch)

    def _route(self, batch: list[dict[str, Any]]) -> None:
        """Apply ``batch``: the answers a loop waits for reach it in one callback, so that
        what happened at one moment in the checker happens at one moment here."""
        resolved: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], dict[str, Any]]]] = {}
        pokes = [m.get("id") for m in batch if m.get("op") == "poke"]
        if pokes and len(pokes) == len(batch):
            self._poke(pokes)
            return
        with self.lock:
            for message in batch:
                now = message.get("now")
                if isinstance(now, int | float) and now > Clock.now:
                    Clock.now = float(now)
                op = message["op"]
                number = message.get("id")
                if op not in ("reply", "advance", "cancel"):
                    self.inbox.append(message)
                    continue
                if op == "reply" and isinstance(number, int) and number in self.waiting:
                    waiter = self.waiting.pop(number)
                    if waiter is None:
                        self.answers[number] = message
                    else:
                        future = waiter[1]()
                        if future is not None:  # None: its task was collected meanwhile
                            resolved.setdefault(waiter[0], []).append((future, message))
                elif op == "cancel" and isinstance(number, int) and number in self.tasks:
                    task = self.tasks[number]
                    with contextlib.suppress(RuntimeError):
                        task.get_loop().call_soon_threadsafe(task.cancel)
                self.seen += 1
            for loop, items in resolved.items():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_resolve_all, items)
            # Every running loop looks at its timers again (time may have moved) and says
            # it is idle again, with these messages counted.
            for loop in self.running:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_nothing)
            if self.inbox:
                main_loop = self._main_loop()
                if main_loop is not None:
                    with contextlib.suppress(RuntimeError):
                        main_loop.call_soon_threadsafe(self.drain)
            self.arrived.notify_all()
            self._report()

    def _poke(self, numbers: list[Any]) -> None:
        """Reader thread: wake every running loop (a write to its self-pipe) and say so.
        Nothing else is woken: the checker watches, in the kernel's account of the main
        thread, whether that thread woke with its loop (it sleeps in its loop's selector)
        or slept on (it waits somewhere else: in the learner's code)."""
        with self.lock:
            woken = 0
            for loop in self.running:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_nothing)
                    woken += 1
            self.seen += len(numbers)
            for number in numbers:
                if isinstance(number, int):
                    self.send({"op": "reply", "id": number, "ok": True, "value": self.codec.encode(woken)})

    def _main_loop(self) -> WorkerLoop | None:
        main = monitor.main_thread_native_id()
        for loop in reversed(self.running):
            if loop.thread_native_id == main or loop is self.session:
                return loop
        return None

    def drain(self) -> None:
        """Main thread: handle the operations that arrived."""
        while True:
            with self.lock:
                if not self.inbox:
                    return
                message = self.inbox.popleft()
                self.seen += 1
            self.handle(message)

    def serve(self) -> None:
        """The main thread's top level: handle operations, no loop running."""
        while True:
            with self.lock:
                while not self.inbox:
                    self.at_top = True
                    self._report()
                    self.arrived.wait()
                self.at_top = False
                message = self.inbox.popleft()
                self.seen += 1
            self.handle(message)

    def handle(self, message: dict[str, Any]) -> None:
        op = message["op"]
        number = message.get("id")
        try:
            handler = getattr(self, f"op_{op}")
        except AttributeError:
            handler = None
        if handler is None:
            self.reply(number, error=TypeError(f"unknown operation {op!r}"))  # type: ignore[arg-type]
        else:
            handler(number, message)

    # -- operations the checker asks for ---------------------------------------------------

    def op_import(self, number: int, message: dict[str, Any]) -> None:
        name, path = str(message["name"]), str(message["path"])
        source = self.codec.decode(message["source"])
        module = types.ModuleType(name)
        module.__file__ = path
        folder = str(Path(path).parent)
        if folder not in sys.path:
            sys.path.append(folder)
        sys.modules[name] = module
        probes.TARGET_FILE = self.target = path
        # Watch the main thread from here on (the import too): a spin, a blocking call or
        # a read of stdin on the loop is named at once (reported to the checker).
        monitor.adopt_proven(message.get("proven"))
        self.monitor = monitor.LoopMonitor(
            lambda: self.target, self.stdin, self._held, judge_holds=bool(message.get("judge_holds", True))
        )
        self.monitor.start()
        try:
            code = compile(source, path, "exec", dont_inherit=True)
            exec(code, module.__dict__)
        except BaseException as exc:  # the learner's module may raise anything, SystemExit too
            self.send({"op": "reply", "id": number, "ok": False, "message": explain.import_failure(exc, Path(path))})
            return
        self.module = module
        self.reply(number, module)
        if message.get("session") and _running_loop() is None:
            # An async check: from now on everything runs inside a loop, as the check's
            # own code runs inside its loop in one process (a constructor may create tasks).
            self._run_session(self._session_loop())

    def _held(self, hold: monitor.Hold) -> None:
        """Monitor thread: what held the loop, for the checker (its verdict: the check fails)."""
        with contextlib.suppress(Exception):
            self.send({"op": "held", "kind": hold.kind, "message": hold.message(), "proven": monitor.proven()})

    def op_getattr(self, number: int, message: dict[str, Any]) -> None:
        target = self.codec.decode(message["target"])
        try:
            value = getattr(target, str(message["name"]))
        except BaseException as exc:
            self.reply(number, error=_plain(exc))
            return
        self.reply(number, value)

    def op_setattr(self, number: int, message: dict[str, Any]) -> None:
        target = self.codec.decode(message["target"])
        name = str(message["name"])
        try:
            if message.get("delete"):
                delattr(target, name)
            else:
                setattr(target, name, self.codec.decode(message["value"]))
        except BaseException as exc:
            self.reply(number, error=_plain(exc))
            return
        self.reply(number, None)

    def op_call(self, number: int, message: dict[str, Any]) -> None:
        """Call a learner's callable; with ``await``, await what it returns on the session loop."""
        function = self.codec.decode(message["target"])
        args = self.codec.decode(message.get("args", []))
        kwargs = self.codec.decode(message.get("kwargs", {"$": "dict", "items": []}))
        try:
            result = function(*args, **kwargs)
        except BaseException as exc:
            self.reply(number, error=_plain(exc))
            return
        if message.get("await") and inspect.isawaitable(result):
            self._run(number, result)
        else:
            self.reply(number, result)

    def op_await(self, number: int, message: dict[str, Any]) -> None:
        awaitable = self.codec.decode(message["target"])
        if not inspect.isawaitable(awaitable):
            self.reply(number, error=TypeError(f"{wire.safe_repr(awaitable)} is not awaitable"))
            return
        self._run(number, awaitable)

    def op_here(self, number: int, message: dict[str, Any]) -> None:
        """Run one of the grader's worker-side probes (``grader.probes.here.PROBES``) on
        the learner's objects: a server mounting the learner's handler, what a transport of
        this process holds... What it answers is this process's account."""
        from grader.probes.here import PROBES

        probe = PROBES.get(str(message.get("name")))
        if probe is None:
            self.reply(number, error=TypeError(f"no worker-side probe {str(message.get('name'))[:40]!r}"))
            return
        args = self.codec.decode(message.get("args", []))
        try:
            result = probe(*(args if isinstance(args, list) else []))
        except BaseException as exc:
            self.reply(number, error=_plain(exc))
            return
        if inspect.isawaitable(result):
            self._run(number, result)
        else:
            self.reply(number, result)

    def op_blocking(self, number: int, message: dict[str, Any]) -> None:
        """Start (``on``) or stop detecting blocking calls of the learner's module; on stop,
        the calls found, as ``[function, where]`` pairs."""
        if message.get("on"):
            if self.module is not None and self.blocking is None:
                self.blocking = probes.detect_blocking(self.module)
                self.blocking_found = self.blocking.__enter__()
            self.reply(number, None)
            return
        found = [[call.func, call.where] for call in self.blocking_found]
        if self.blocking is not None:
            with contextlib.suppress(Exception):
                self.blocking.__exit__(None, None, None)
            self.blocking = None
        self.reply(number, found)

    def op_stalled(self, number: int, message: dict[str, Any]) -> None:
        """The checker found both processes waiting for what nothing can bring: where this
        one waits. If the learner's own code runs the loop (its ``run_forever``), the loop
        raises there next, as it would in one process."""
        loop = _running_loop()
        at = monitor.learner_line_here(self.target)
        waiting = probes.task_stacks(loop, self.target) if loop is not None else []
        self.reply(number, {"at": at, "waiting": waiting})
        if at is not None and isinstance(loop, WorkerLoop):
            loop.raise_held = True

    def op_stacks(self, number: int, message: dict[str, Any]) -> None:
        stacks: list[str] = []
        if self.session is not None and not self.session.is_closed():
            stacks = probes.task_stacks(self.session, self.target)
        self.reply(number, stacks)

    def op_watch_closing(self, number: int, message: dict[str, Any]) -> None:
        """From now on, record which StreamWriters are closed and waited for."""
        if self.closing is None:
            from grader.probes.network import ClosingLog, _watch_here

            self.closing = _watch_here(ClosingLog(), _SetAttr())
        self.reply(number, None)

    def op_watch_reads(self, number: int, message: dict[str, Any]) -> None:
        """From now on, count the bytes StreamReader.read returns."""
        if self.reads is None:
            from grader.probes.network import ReadCount, _count_here

            self.reads = _count_here(ReadCount(), _SetAttr())
        self.reply(number, None)

    def op_reads(self, number: int, message: dict[str, Any]) -> None:
        self.reply(number, self.reads.total if self.reads is not None else 0)

    def op_unstarted_close(self, number: int, message: dict[str, Any]) -> None:
        """Whether a task of the session loop waits in wait_closed() of a writer nobody
        closed (this process's account)."""
        from grader.probes.tasks import _waits_for_unstarted_close

        session = self.session
        found = session is not None and not session.is_closed() and any(
            _waits_for_unstarted_close(t) for t in asyncio.all_tasks(session)
        )
        self.reply(number, bool(found))

    def op_open_ends(self, number: int, message: dict[str, Any]) -> None:
        """What of this process is bound to ``address`` and not closed (its account)."""
        from grader.probes.network import open_ends

        address = message.get("address")
        found: list[str] = []
        if isinstance(address, list) and len(address) == 2:
            found = open_ends((str(address[0]), int(address[1])))
        self.reply(number, found[:10])

    def op_closing(self, number: int, message: dict[str, Any]) -> None:
        """What the writer bound to ``address`` did about closing (this process's account)."""
        address = message.get("address")
        entry = None
        if self.closing is not None and isinstance(address, list) and len(address) == 2:
            entry = self.closing.of((str(address[0]), int(address[1])))
        self.reply(
            number,
            None if entry is None else {"closed": entry.closed, "waited": entry.waited, "collected": entry.collected},
        )

    def op_threads(self, number: int, message: dict[str, Any]) -> None:
        """The threads the learner's code started so far, each with the line it was
        started from (this process's account)."""
        self.reply(number, list(self.threads_started))

    def op_pending(self, number: int, message: dict[str, Any]) -> None:
        """The learner's tasks still pending on the session loop (the checker's calls
        aside): each one's name and whether it waits in ``asyncio.Queue.get``, and where
        they wait (this process's account)."""
        tasks: list[dict[str, Any]] = []
        stacks: list[str] = []
        session = self.session
        if session is not None and not session.is_closed():
            ours = set(self.tasks.values())
            for task in asyncio.all_tasks(session):
                if task.done() or task in ours:
                    continue
                frames = probes.await_chain(task) or task.get_stack()
                if not any(f.f_code.co_filename == self.target for f in frames):
                    continue
                in_get = any(
                    f.f_code.co_name == "get" and f.f_globals.get("__name__") == "asyncio.queues" for f in frames
                )
                name = getattr(task.get_coro(), "__qualname__", "") or task.get_name()
                tasks.append({"name": wire.crop(str(name), 200), "in_get": in_get})
            stacks = probes.task_stacks(session, self.target)
        self.reply(number, {"tasks": tasks[:1000], "stacks": stacks[:50]})

    def op_problems(self, number: int, message: dict[str, Any]) -> None:
        """What the session loop recorded (a task's exception never retrieved, ...), taken."""
        # The checker's exceptions raised here hold tracebacks whose frames hold the
        # failed tasks: let go of them so the tasks can be collected (and report) now.
        for proxy in self.codec.proxies.values():
            if isinstance(proxy, BaseException):
                proxy.__traceback__ = None
                proxy.__context__ = None
        gc.collect()
        match = str(message.get("match", ""))
        taken: list[dict[str, Any]] = []
        if self.session is not None:
            taken = [p for p in self.session.problems if match in str(p.get("message", ""))]
            for problem in taken:
                self.session.problems.remove(problem)
        self.reply(number, [{"message": str(p.get("message", "")), "exception": p.get("exception")} for p in taken])

    def op_end(self, number: int, message: dict[str, Any]) -> None:
        """The check is over: shut the session loop down, and report what was left."""
        self.ending = True
        session = self.session
        if session is not None and session.is_running():
            session.call_soon(session.stop)
            self._end_number = number
            return
        self._finish(number)

    def _finish(self, number: int) -> None:
        from grader.loops import LOOPS

        if self.monitor is not None:
            self.monitor.stop()
        LOOPS.clear()  # what is left unclosed now warns when collected
        # What the checker was sent is no longer held for it: a coroutine it got back
        # from the learner's code and nobody awaited warns now too.
        self.codec.local.clear()
        self.running.clear()
        with contextlib.suppress(Exception):
            asyncio.set_event_loop(None)
        from grader.probes.pools import collect_safely

        collect_safely()
        if self.session is not None:
            self.hygiene += [explain.loop_problem(p) for p in self.session.problems]
        self.reply(number, self.hygiene)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os._exit(0)

    # -- the session loop ----------------------------------------------------------------

    def _run(self, number: int, awaitable: Any) -> None:
        async def drive() -> Any:
            # An exception is returned, not raised: a task that ends in an exception keeps
            # its traceback, whose frames keep the learner's tasks from being collected.
            try:
                return False, await awaitable
            except Exception as exc:
                return True, exc

        loop = self._session_loop()
        task = loop.create_task(drive())
        self.tasks[number] = task
        task.add_done_callback(lambda t: self._ran(number, t))
        if not loop.is_running():
            self._run_session(loop)

    def _ran(self, number: int, task: asyncio.Task[Any]) -> None:
        self.tasks.pop(number, None)
        if task.cancelled():
            self.reply(number, None, cancelled=True)
        elif task.exception() is not None:
            self.reply(number, error=task.exception())
        else:
            failed, value = task.result()
            if failed:
                self.reply(number, error=value)
                value.__traceback__ = None  # said where it was raised; now let its frames go
            else:
                self.reply(number, value)

    def _session_loop(self) -> WorkerLoop:
        running = _running_loop()
        if isinstance(running, WorkerLoop):
            if self.session is None:
                self.session = running
            return running
        if self.session is None or self.session.is_closed():
            self.session = WorkerLoop()
        return self.session

    def _run_session(self, loop: WorkerLoop) -> None:
        """Top level: run the session loop until the checker ends the check."""
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.closing = True
            with contextlib.suppress(BaseException):
                _cancel_all(loop)
            with contextlib.suppress(BaseException):
                loop.run_until_complete(loop.shutdown_asyncgens())
            with contextlib.suppress(BaseException):
                loop.close()
            asyncio.set_event_loop(None)
        if self.ending:
            self._finish(self._end_number)

    # -- calling back --------------------------------------------------------------------

    def _stub(self, number: int, kind: str, text: str, name: str) -> Any:
        """The worker's stand-in for the checker's object ``number``."""
        link = self
        if kind == "async":

            async def remote(*args: Any, **kwargs: Any) -> Any:
                return await link.call_back(number, args, kwargs)

            remote.__name__ = remote.__qualname__ = _identifier(name)
            return remote
        if kind == "call":

            def remote_sync(*args: Any, **kwargs: Any) -> Any:
                return link.call_back_sync(number, args, kwargs)

            remote_sync.__name__ = remote_sync.__qualname__ = _identifier(name)
            return remote_sync
        if kind == "awaitable":
            # A coroutine of the checker's (what a fake of its returned): here, a coroutine
            # that awaits it there. Never awaited here, it never runs there either.
            async def awaiting() -> Any:
                return await link.call_back(number, (), {})

            awaiting.__name__ = awaiting.__qualname__ = _identifier(name)
            return awaiting()
        if kind == "awaitable-object":
            # An object of the checker's with __await__ that is not a coroutine: here too
            # (code that tells the two apart sees what it would see in one process).
            return CheckerAwaitable(lambda: link.call_back(number, (), {}), text)
        if kind == "list":
            return CheckerList(lambda use, *args: link.call_back_sync(number, (use, *args), {}), text)
        return CheckerObject(text)

    def _request(self, number: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        self.next_id += 1
        call = self.next_id  # under the lock: callers in several threads
        loop = _running_loop()
        self.send(
            {
                "op": "call",
                "id": call,
                # Which loop and thread of this process called (ids, compared with each
                # other), whether that is the loop running the checker's call, how many
                # threads of the learner's are alive, and the calling task's cancelling().
                "from": [
                    id(loop) if loop is not None else 0,
                    threading.get_ident(),
                    int(loop is not None and loop is self.session),
                    len(learner_threads()),
                    _cancelling(loop),
                ],
                "target": {"$": "back", "id": number},
                "args": self.codec.encode(list(args)),
                "kwargs": self.codec.encode(dict(kwargs)),
            }
        )
        return call

    async def call_back(self, number: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Await the checker's callable ``number``. Cancelled, it asks the checker to cancel
        the call and waits for how it really ended, as awaiting a task does: a fake that
        takes its time to clean up (or ignores the cancel) is seen doing so here."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self.lock:
            call = self._request(number, args, kwargs)
            # Held weakly: a task nothing else keeps (the loop holds tasks weakly) may be
            # collected while it waits here, as it would be in one process.
            self.waiting[call] = (loop, weakref.ref(future))
        cancelled = False
        while True:
            try:
                answer = await asyncio.shield(future)
                break
            except GeneratorExit:
                # The awaiting task was collected (its coroutine closed): the checker's
                # call is abandoned, and ends as a cancelled one.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._cancel_call, call)
                raise
            except asyncio.CancelledError:
                if future.done():
                    raise
                # Each cancellation is passed on, on the loop's next round, not now: what
                # the code that cancelled this call does next in the same round (return,
                # raise: the checker's call of it ends) reaches the checker first, as in
                # one process, where the cancelled coroutine runs its cleanup only after.
                loop.call_soon(self._cancel_call, call)
                cancelled = True
        if cancelled and answer.get("cancelled"):
            raise asyncio.CancelledError()
        return self._answer(answer)

    def _cancel_call(self, call: int) -> None:
        with contextlib.suppress(Exception):
            self.send({"op": "cancel", "id": call})

    def call_back_sync(self, number: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with self.lock:
            call = self._request(number, args, kwargs)
            self.waiting[call] = None
            while call not in self.answers:
                self.arrived.wait()
            answer = self.answers.pop(call)
        return self._answer(answer)

    def _answer(self, answer: dict[str, Any]) -> Any:
        if answer.get("cancelled"):
            raise asyncio.CancelledError()
        if answer.get("ok"):
            return self.codec.decode(answer.get("value"))
        error = self.codec.decode(answer.get("error"))
        if not isinstance(error, BaseException):
            error = RuntimeError(wire.safe_repr(error))
        raise error


def _cancelling(loop: asyncio.AbstractEventLoop | None) -> int:
    """How many cancellations of the calling task are pending (its ``cancelling()``)."""
    task = asyncio.current_task(loop) if loop is not None else None
    return task.cancelling() if task is not None else 0


class CheckerAwaitable:
    """The worker's stand-in for an awaitable object of the checker's that is not a
    coroutine: awaiting it awaits that object there."""

    def __init__(self, awaiting: Any, text: str) -> None:
        self._awaiting = awaiting
        self._text = text

    def __await__(self) -> Any:
        return self._awaiting().__await__()

    def __repr__(self) -> str:
        return self._text


class _SetAttr:
    """monkeypatch's shape, for probes patched in the worker (which ends with the check)."""

    @staticmethod
    def setattr(target: Any, name: str, value: Any) -> None:
        setattr(target, name, value)


class CheckerList(list):  # type: ignore[type-arg]
    """A list of the checker's (``grader.split.checker.SharedList``), here: a ``list`` whose
    every use asks the checker, so what the learner's code appends lands in the check's
    own list. Slices, sorting and the like work on a copy."""

    __slots__ = ("_text", "_use")

    def __init__(self, use: Any, text: str) -> None:
        super().__init__()
        self._use = use
        self._text = text

    def append(self, item: Any) -> None:
        self._use("append", item)

    def extend(self, items: Any) -> None:
        self._use("extend", list(items))

    def insert(self, index: Any, item: Any) -> None:
        self._use("insert", int(index), item)

    def pop(self, index: Any = -1) -> Any:
        return self._use("pop", int(index))

    def remove(self, item: Any) -> None:
        self._use("remove", item)

    def clear(self) -> None:
        self._use("clear")

    def index(self, item: Any, *bounds: Any) -> int:
        return int(self.copy().index(item, *bounds))

    def count(self, item: Any) -> int:
        return int(self._use("count", item))

    def copy(self) -> list[Any]:
        items = self._use("copy")
        return items if type(items) is list else []

    def sort(self, *, key: Any = None, reverse: bool = False) -> None:
        items = self.copy()
        items.sort(key=key, reverse=reverse)
        self._use("replace", items)

    def reverse(self) -> None:
        self._use("replace", self.copy()[::-1])

    def __len__(self) -> int:
        return int(self._use("__len__"))

    def __bool__(self) -> bool:
        return len(self) > 0

    def __getitem__(self, index: Any) -> Any:
        if type(index) is int:
            return self._use("__getitem__", index)
        return self.copy()[index]

    def __setitem__(self, index: Any, value: Any) -> None:
        if type(index) is int:
            self._use("__setitem__", index, value)
        else:
            items = self.copy()
            items[index] = value
            self._use("replace", items)

    def __delitem__(self, index: Any) -> None:
        if type(index) is int:
            self._use("__delitem__", index)
        else:
            items = self.copy()
            del items[index]
            self._use("replace", items)

    def __contains__(self, item: Any) -> bool:
        return bool(self._use("__contains__", item))

    def __iter__(self) -> Any:
        return iter(self.copy())

    def __reversed__(self) -> Any:
        return reversed(self.copy())

    def __iadd__(self, items: Any) -> CheckerList:
        self.extend(items)
        return self

    def __add__(self, items: Any) -> list[Any]:
        return self.copy() + list(items)

    def __eq__(self, other: object) -> bool:
        return self.copy() == (other.copy() if isinstance(other, CheckerList) else other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None

    def __repr__(self) -> str:
        return str(self._use("__repr__"))


class CheckerObject:
    """An object of the checker's, opaque here: it keeps its identity and its repr."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


def _kind_of(value: Any) -> str:
    if inspect.iscoroutinefunction(value):
        return "async"
    if isinstance(value, types.ModuleType):
        return "module"
    if inspect.isawaitable(value):
        return "awaitable"
    if callable(value):
        return "call"
    return "object"


_MIRRORS: dict[str, type[Exception]] = {}


def _mirror_exception(type_name: str, text: str, args: list[Any], number: int | None) -> BaseException:
    """The worker's copy of one of the checker's exceptions (the same object each time)."""
    if type_name == "CancelledError":
        return asyncio.CancelledError(*args)
    cls = wire.builtin_exception(type_name)
    if cls is None:
        cls = _MIRRORS.get(type_name)
        if cls is None:
            cls = _MIRRORS[type_name] = type(_identifier(type_name), (Exception,), {"__module__": "checks"})
    try:
        return cls(*args)
    except Exception:
        return cls(text)


def _resolve_all(items: list[tuple[asyncio.Future[Any], dict[str, Any]]]) -> None:
    for future, message in items:
        if not future.done():
            future.set_result(message)


def _nothing() -> None:
    pass


def _plain(exc: BaseException) -> BaseException:
    return exc


def _identifier(name: str) -> str:
    tail = name.rsplit(".", 1)[-1]
    return tail if tail.isidentifier() else "remote"


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def _learner_line(exc: BaseException, target: str | None) -> str | None:
    """Where in the learner's file ``exc`` was raised, as ``file:line: source``."""
    tb = exc.__traceback__
    found = None
    while tb is not None:
        if target and tb.tb_frame.f_code.co_filename == target:
            found = tb
        tb = tb.tb_next
    if found is None or target is None:
        return None
    from grader.probes.blocking import describe_line

    return describe_line(target, found.tb_lineno)


def _capture_warnings(link: Link) -> None:
    original = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:  # fmt: skip
        text = str(message)
        if explain.is_hygiene_warning(category, text):
            link.hygiene.append(text)

    warnings.showwarning = show
    del original


#: Thread starts a worker remembers (more are counted, not described).
THREAD_STARTS_KEPT = 20


def _record_thread_starts(link: Link) -> None:
    """Remember where the learner's code starts threads (the grader's own are named so)."""
    real_start = threading.Thread.start
    real_low = _thread.start_new_thread

    def note(what: str) -> None:
        where = probes.learner_location(link.target or "") or "outside your file"
        if len(link.threads_started) < THREAD_STARTS_KEPT:
            link.threads_started.append(f"{what} at {where}")

    def start(self: threading.Thread) -> None:
        if not self.name.startswith(GRADER_THREAD_PREFIX):
            note(f"a thread ({wire.crop(self.name, 80)})")
        real_start(self)

    def start_new_thread(*args: Any, **kwargs: Any) -> Any:
        note("_thread.start_new_thread")
        return real_low(*args, **kwargs)

    threading.Thread.start = start  # type: ignore[method-assign]
    _thread.start_new_thread = start_new_thread


def _forked() -> None:
    """In a process forked from the worker: leave the conversation to the worker."""
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    for link in LINK:
        with contextlib.suppress(OSError):
            link.sock.close()
    LINK.clear()


def work(sock: socket.socket) -> None:
    """A worker's life: greet the checker, then serve it until the check ends."""
    link = Link(sock)
    LINK[:] = [link]
    _record_thread_starts(link)
    sys.stdout = _Forward(link, "stdout")
    sys.stderr = _Forward(link, "stderr")
    sys.stdin = link.stdin
    # A process the learner's code forks (a process pool's worker) shares this socket: a
    # frame it wrote would interleave with this process's and break the conversation.
    # It writes to the descriptors the worker inherited instead, and closes its copy.
    os.register_at_fork(after_in_child=_forked)
    _capture_warnings(link)
    warnings.simplefilter("default")
    asyncio.set_event_loop_policy(WorkerPolicy())
    monitor.install(lambda: link.target)
    reader = threading.Thread(target=link.read_forever, name=GRADER_THREAD_PREFIX + "link", daemon=True)
    reader.start()
    # The kernel's account of this thread's sleeps goes to the checker (and the learner's
    # threads and processes, started from here, inherit the watch): before any learner code.
    sleeps.hand_over(sock)
    link.send({"op": "hello", "pid": os.getpid()})
    link.serve()


def serve_zygote(control: socket.socket) -> None:
    """Fork one worker per request; each request carries the worker's end of a socket pair."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the kernel
    _die_with_parent()
    # An exec made this process dumpable again: no worker (its child, same uid) may
    # ptrace it or read its memory. Workers inherit the setting.
    from grader.sandbox.child import PR_SET_DUMPABLE, _prctl

    _prctl(PR_SET_DUMPABLE, 0)
    _preload()
    # Every object alive now is out of the collector's reach in each worker: the
    # collections a check makes (to pin warnings on it) scan only what the check made.
    gc.collect()
    gc.freeze()
    while True:
        try:
            _data, fds, _flags, _addr = socket.recv_fds(control, 16, 1)
        except OSError:
            os._exit(0)
        if not fds:
            os._exit(0)  # the checker closed its end
        pid = os.fork()
        if pid == 0:
            try:
                control.close()
                keep = fds[0]
                for fd in range(3, _max_fd()):
                    if fd != keep:
                        with contextlib.suppress(OSError):
                            os.close(fd)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _die_with_parent()
                # The checker and the zygote share this worker's uid: a Landlock domain
                # of the worker's own keeps its signals (and its children's) inside it.
                from grader.sandbox.landlock import scope_signals

                scope_signals()
                work(socket.socket(fileno=keep))
            finally:
                os._exit(0)
        os.close(fds[0])


def _die_with_parent() -> None:
    from grader.sandbox.child import PR_SET_PDEATHSIG, _prctl

    parent = os.getppid()
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(0)


def _preload() -> None:
    """Import, once in the zygote, what the learner's modules and the worker's
    operations commonly import, so that each forked worker does not."""
    import concurrent.futures.process
    import concurrent.futures.thread
    import dataclasses
    import multiprocessing.pool
    import random
    import typing  # noqa: F401

    from grader.probes import blocking, here, tasks  # noqa: F401 (here brings crunch, unblock)
    from grader.probes.network import documented_writelines

    # As the plugin does in the checker for every check (a CPython bug is not the learner's).
    documented_writelines(setattr)

    del concurrent, dataclasses, multiprocessing, random


def _max_fd() -> int:
    with contextlib.suppress(OSError):
        return max(int(name) for name in os.listdir("/proc/self/fd")) + 1
    return 1024


def start_zygote() -> tuple[socket.socket, int]:
    """Start the zygote from this contained process: the checker's end of its control
    socket, and its pid.

    The zygote is a fresh interpreter, not a copy of this process: the
    checker's memory (the channel's key, pytest's session, the plugin) was never in it,
    so no worker can find any of it, however it searches its own memory.
    """
    import subprocess

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    keep = theirs.fileno()
    process = subprocess.Popen(
        # `-c`, not `-m grader.split.worker`: a `__main__` with neither spec nor file tells
        # multiprocessing's spawn and forkserver children of the learner's pools to import
        # no main module. With `-m` each of them imported this module and the grader
        # behind it again (about 200 modules: 40% more CPU per start, which a pool started
        # per call pays on every call).
        [sys.executable, "-I", "-B", "-c", "from grader.split.worker import main; main()", str(keep)],
        pass_fds=[keep],  # and nothing else: every other descriptor is closed in it
        stdin=subprocess.DEVNULL,
    )
    theirs.close()
    return ours, process.pid


def main() -> None:
    """``python -m grader.split.worker FD``: the zygote, serving the control socket ``FD``."""
    fd = int(sys.argv[1])
    serve_zygote(socket.socket(fileno=fd))


if __name__ == "__main__":
    main()
