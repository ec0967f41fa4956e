"""Worker-side probes for work the learner's code sends to process pools (exercise 12).

In a split run the learner's ``crunch_all`` runs in the worker, and so do the pools it
creates: whatever watches them has to be there too. A check opens a :class:`Crunch`
around each call (:func:`crunch_open`, :func:`crunch_close`): it counts the calls handed
to a pool, notes what was handed over and how pools were shut down, and, with a
:class:`~grader.probes.pools.Switchboard` on this process's loop, lets the pool's workers
phone the loop while a thread reads the loop thread's stack. What :func:`crunch_close`
returns is this process's account (plain data); the check judges it beside the values
``crunch_all`` returned.

A loop thread seen running ``fn`` itself, or waiting on a thread primitive inside the
learner's code (``pool.map``, ``future.result()``), cannot answer a worker: the watch
takes their calls off the board's listening socket and hangs up, so each returns
``answered=False`` at once, not after the board's time limit. Calls handed to a pool are
counted, so the first call knows without waiting when no second one was sent; and once
as many calls are held as the pools have workers, no further one can start: a hold stops
waiting then.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import concurrent.futures.process
import contextlib
import functools
import gc
import json
import multiprocessing
import multiprocessing.pool
import os
import socket
import subprocess
import sys
import threading
import types
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from grader import probes, workerprobes
from grader.loops import GRADER_THREAD_PREFIX
from grader.probes.blocking import describe_line
from grader.probes.here import _probe
from grader.probes.pools import Switchboard, collect_safely, pickle_errors_never_hang

#: Seconds between two looks at the loop thread's stack while the workers run.
LOOK_S = 0.02
#: Seconds a hold keeps waiting once as many calls are held as the pools in use have
#: workers (so no further call can start before one is let go): only a pool too narrow
#: for the check waits this.
FULL_GRACE_S = 0.3
#: Where a blocked thread's innermost Python frame sits (threading.py).
_WAITS = frozenset({"wait", "join", "_wait_for_tstate_lock"})
#: What ProcessPoolExecutor.map submits, one chunk of calls at a time.
_PROCESS_CHUNK = getattr(concurrent.futures.process, "_process_chunk", None)
#: The code of the calls that hand many calls to a pool, one at a time.
_HANDING = frozenset(
    {
        getattr(getattr(cls, "map", None), "__code__", None)
        for cls in (concurrent.futures.Executor, ProcessPoolExecutor)
    }
    - {None}
)


class LoopWatch:
    """While the learner's code runs: counts the calls handed to a process pool, and reads
    the loop thread's stack from a thread of the grader's own (see the module's text).
    ``where`` says where the loop's thread was when it was seen blocked."""

    def __init__(self, board: Switchboard | None = None) -> None:
        self.board = board
        self.loop_thread = threading.get_ident()
        self.handoffs = 0
        #: The pools calls were handed to.
        self.pools: list[Any] = []
        self.where: str | None = None
        self.turned_away = 0
        #: The pools' width, when a hold stopped waiting because they were full.
        self.full_width: int | None = None
        #: The calls in each chunk a ``map`` with a chunksize submitted.
        self.chunks: list[int] = []
        #: What was handed to a pool as the function to run, where it is not callable.
        self.not_callable: list[Any] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def watching(self) -> Iterator[LoopWatch]:
        patched = [  # (class, method, calls per use, whether its first argument is the function)
            (ProcessPoolExecutor, "submit", 1, True),
            (multiprocessing.pool.Pool, "apply_async", 1, True),
            (multiprocessing.pool.Pool, "_map_async", 2, False),  # map, starmap...: many at once
        ]
        reals = [(cls, name, getattr(cls, name)) for cls, name, _, _ in patched]
        for (cls, name, count, takes_function), (_, _, real) in zip(patched, reals, strict=True):
            setattr(cls, name, self._counting(real, count, takes_function))
        thread = None
        if self.board is not None:
            thread = threading.Thread(target=self._watch, name=f"{GRADER_THREAD_PREFIX}pool-watch", daemon=True)
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            if thread is not None:
                thread.join(5.0)
            for cls, name, real in reals:
                setattr(cls, name, real)

    def _counting(self, real: Any, count: int, takes_function: bool) -> Any:
        watch = self

        def counted(pool: Any, *args: Any, **kwargs: Any) -> Any:
            calls = count
            function = args[0] if args else None
            if takes_function and args and not callable(function):
                watch.not_callable.append(function)  # fn(n)'s result, say
            if isinstance(function, functools.partial) and function.func is _PROCESS_CHUNK and len(args) > 1:
                # ProcessPoolExecutor.map with a chunksize: one submit carries many calls,
                # which one worker process makes one after another.
                with contextlib.suppress(TypeError):
                    calls = len(args[1])
                    watch.chunks.append(calls)
            with watch._lock:
                watch.handoffs += calls
                if not any(p is pool for p in watch.pools):
                    watch.pools.append(pool)
            return real(pool, *args, **kwargs)

        return counted

    def one_chunk(self) -> int | None:
        """The size of the one chunk every call so far went in (a ``map`` whose chunksize
        holds them all), or None."""
        if len(self.chunks) == 1 and self.chunks[0] == self.handoffs and self.handoffs > 1:
            return self.chunks[0]
        return None

    def pool_width(self) -> int | None:
        """How many calls the pools in use can run at once (their worker processes
        together), or None if some pool's size is unknown."""
        width = 0
        for pool in list(self.pools):
            size = getattr(pool, "_max_workers", None) or getattr(pool, "_processes", None)
            if type(size) is not int:
                return None
            width += size
        return width if self.pools else None

    async def wait_held(self, board: Switchboard, done: Callable[[], Awaitable[bool]], limit: float) -> bool:
        """Await ``done()`` (a short wait on ``board``) until it says True; False after
        ``limit`` s, or once as many calls are held as the pools have workers while more
        were handed out, for ``FULL_GRACE_S``: no further call can start before a held
        one is let go."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        full_since: float | None = None
        while not await done():
            now = loop.time()
            if now > deadline:
                return False
            held = len(board.in_flight)
            width = self.pool_width()
            if width is None or held < width or self.handoffs <= held:
                full_since = None
            elif full_since is None:
                full_since = now
            elif now - full_since >= FULL_GRACE_S:
                self.full_width = width
                return False
        return True

    def handing_out(self) -> bool:
        """Whether a thread other than the loop's is in the middle of handing calls to a
        pool (inside ``Executor.map`` or a pool's ``submit``): more are on their way, the
        count so far is not final (a ``pool.map`` in a thread submits one call at a time,
        and the first may reach the loop before the second is submitted)."""
        for ident, frame in sys._current_frames().items():
            if ident == self.loop_thread:
                continue
            outer: types.FrameType | None = frame
            while outer is not None:
                code = outer.f_code
                if code in _HANDING or (code.co_filename == __file__ and code.co_name == "counted"):
                    return True
                outer = outer.f_back
        return False

    def blocked_at(self) -> str | None:
        frame = sys._current_frames().get(self.loop_thread)
        if frame is None:
            return None
        chain = []
        outer: types.FrameType | None = frame
        while outer is not None:
            chain.append(outer)
            outer = outer.f_back
        mine = probes.learner_location(probes.TARGET_FILE, frame) if probes.TARGET_FILE else None
        if any(f.f_code.co_filename == workerprobes.__file__ for f in chain):
            return mine or "the loop's own thread, running fn"
        if frame.f_code.co_filename != threading.__file__ or frame.f_code.co_name not in _WAITS:
            return None
        if any(f.f_code.co_filename == threading.__file__ and f.f_code.co_name == "start" for f in chain):
            return None  # a thread being started: a pool's submit waits a moment for it
        return mine

    def _watch(self) -> None:
        assert self.board is not None and self.board._server is not None
        listener = socket.socket(fileno=os.dup(self.board._server.sockets[0].fileno()))
        try:
            listener.setblocking(False)  # as the loop's own listening socket already is
            while not self._stop.wait(LOOK_S):
                where = self.blocked_at()
                if where is None:
                    continue
                self.where = self.where or where
                while True:
                    try:
                        conn, _ = listener.accept()
                    except OSError:  # nobody waiting (BlockingIOError) or closed
                        break
                    conn.close()  # hang up: the worker's call returns answered=False
                    self.turned_away += 1
        finally:
            listener.close()


class Crunch:
    """One watched ``crunch_all`` call: the board (if any), the watch (with what was handed
    to pools), the shutdowns that cancel queued calls, and the hold the check chose
    (:func:`crunch_open`)."""

    def __init__(self, hold: dict[str, Any] | None) -> None:
        self.policy = hold
        self.board: Switchboard | None = None
        self.watch: LoopWatch | None = None
        self.cancelled_futures = 0
        #: Calls handed to a pool when the first call reached the loop ("parallel" hold).
        self.handed_out: int | None = None
        #: Then, the size of the one chunk they all went in, if so.
        self.one_chunk: int | None = None
        self._waited = False
        self._stack = contextlib.ExitStack()

    async def hold(self, index: int) -> None:
        """The check's hold, on the board's calls (see :func:`crunch_open`)."""
        policy, watch, board = self.policy or {}, self.watch, self.board
        if watch is None or board is None:
            return
        if policy.get("kind") == "parallel":
            # The first call is not answered before a second one is in flight (or the
            # wait ran out), unless a free loop had handed exactly one call to a pool:
            # then no second one can come while it waits. Later calls go at once.
            if not self._waited:
                self._waited = True
                await _settle()
                self.handed_out = watch.handoffs
                self.one_chunk = watch.one_chunk()
                more = watch.handing_out()
                if self.one_chunk is None and (self.handed_out != 1 or more):
                    await watch.wait_held(board, lambda: board.wait_in_flight(2, LOOK_S), float(policy["wait_s"]))
                    if more:
                        self.handed_out = watch.handoffs  # the count once handing out was over
        elif policy.get("kind") == "finish_last" and index == policy.get("first"):
            # The first number finishes after all the others... unless they are sent only
            # once it is done.
            await _settle()
            # (All in one chunk: the others wait behind this call in the same process.)
            if watch.one_chunk() is None and (watch.handoffs != 1 or watch.handing_out()):
                others = [int(i) for i in policy.get("others", [])]
                await watch.wait_held(
                    board, lambda: board.wait_finished(*others, timeout=LOOK_S), float(policy["wait_s"])
                )

    async def open(self, with_board: bool) -> None:
        # No automatic collection while pools run: see collect_safely, run on close.
        if gc.isenabled():
            gc.disable()
            self._stack.callback(gc.enable)
        self._stack.callback(collect_safely)
        self._stack.enter_context(pickle_errors_never_hang())
        self._stack.enter_context(self._shutdowns())
        if with_board:
            self.board = Switchboard(self.hold if self.policy else None)
            await self.board.__aenter__()
        self.watch = self._stack.enter_context(LoopWatch(self.board).watching())

    async def close(self) -> dict[str, Any]:
        self._stack.close()
        if self.board is not None:
            await self.board.__aexit__(None, None, None)
        watch, board = self.watch, self.board
        return {
            "pid": os.getpid(),
            "handoffs": watch.handoffs if watch else 0,
            "handed_out": self.handed_out,
            "one_chunk": self.one_chunk,
            "where": watch.where if watch else None,
            "full_width": watch.full_width if watch else None,
            "peak_in_flight": dict(board.peak_in_flight) if board else {},
            "not_callable": [[type(value).__name__, value] for value in (watch.not_callable if watch else [])[:5]],
            "cancelled_futures": self.cancelled_futures,
            "pools": [[type(pool).__name__, _shut_down(pool)] for pool in (watch.pools if watch else [])],
            "active_children": len(multiprocessing.active_children()),
        }

    @contextlib.contextmanager
    def _shutdowns(self) -> Iterator[None]:
        """Count the shutdowns that cancel the calls still queued."""
        real_shutdown = ProcessPoolExecutor.shutdown
        crunch = self

        def shutdown(pool: Any, wait: bool = True, *, cancel_futures: bool = False) -> Any:
            if cancel_futures:
                crunch.cancelled_futures += 1
            return real_shutdown(pool, wait, cancel_futures=cancel_futures)

        ProcessPoolExecutor.shutdown = shutdown  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            ProcessPoolExecutor.shutdown = real_shutdown  # type: ignore[method-assign]


async def _settle() -> None:
    """A few turns of the loop: whatever the learner's code sends off at once is sent."""
    for _ in range(10):
        await asyncio.sleep(0)


def _shut_down(pool: Any) -> bool:
    """Whether ``shutdown()`` (a ProcessPoolExecutor) or ``close()``/``terminate()`` (a
    multiprocessing Pool) was called on ``pool``."""
    if isinstance(pool, ProcessPoolExecutor):
        return bool(getattr(pool, "_shutdown_thread", True))
    return getattr(pool, "_state", multiprocessing.pool.CLOSE) != multiprocessing.pool.RUN


# --- the probes ---------------------------------------------------------------------------


@_probe
async def crunch_open(hold: dict[str, Any] | None, with_board: bool) -> Crunch:
    """Start watching a ``crunch_all`` call. ``hold``: None (every call goes at once),
    ``{"kind": "parallel", "wait_s": s}`` (the first call waits for a second one in
    flight) or ``{"kind": "finish_last", "first": i, "others": [...], "wait_s": s}`` (call
    ``first`` waits for the others to finish)."""
    crunch = Crunch(hold)
    await crunch.open(with_board)
    return crunch


@_probe
def crunch_numbers(crunch: Crunch, indices: list[int]) -> list[int]:
    """The board's numbers for calls ``indices`` (see ``Switchboard.number``)."""
    assert crunch.board is not None
    return [crunch.board.number(int(i)) for i in indices]


@_probe
async def crunch_close(crunch: Crunch) -> dict[str, Any]:
    """Stop watching; what was seen (this process's account)."""
    return await crunch.close()


@_probe
def at_least_two_cores() -> None:
    """Default pools size themselves from the core count; show them two or more, so a
    default pool can run two calls at once even on a single-core grading machine (or one
    whose CPU affinity allows a single core: ``os.process_cpu_count`` in 3.13). Set before
    the learner's module is imported: a pool created at import time sees it too."""
    for name in ("cpu_count", "process_cpu_count"):  # the latter is new in 3.13
        real = getattr(os, name, None)
        if real is not None:
            setattr(os, name, lambda real=real: max(2, real() or 1))


@_probe
def start_method(method: str | None) -> str | None:
    """Set multiprocessing's start method (forced; None: unset it); the previous one."""
    previous = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method(method, force=True)
    return previous


@_probe
async def import_side_effect(path: str, name: str) -> list[str] | None:
    """What importing the learner's file in a fresh interpreter does besides defining
    things: ``["call", "slow_square", "file:line: source"]`` for the first call of one of
    its own functions, ``["set_start_method", "spawn", ...]``; None if neither (or if the
    probe could not tell)."""
    found = await asyncio.to_thread(_probe_import, path, name)
    return None if found is None else list(found)


#: Run in a fresh interpreter: import the learner's file and report the first call of one
#: of its own functions (decorators aside) or of ``set_start_method``, then stop at once,
#: so work found at import costs nothing more.
_PROBE = r"""
import ast, importlib.util, json, multiprocessing, os, sys
path, name = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.dirname(path))
tree = ast.parse(open(path, encoding="utf-8").read())
decorating = set()
for node in ast.walk(tree):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        for d in node.decorator_list:
            decorating.update(range(d.lineno, (d.end_lineno or d.lineno) + 1))
        if node.decorator_list:
            decorating.add(node.lineno)
def module_line(frame):
    while frame is not None:
        if frame.f_code.co_filename == path and frame.f_code.co_name == "<module>":
            return frame.f_lineno
        frame = frame.f_back
    return 0
def report(kind, what, frame):
    sys.setprofile(None)
    print(); print("@awaitlings-probe " + json.dumps([kind, what, module_line(frame)]), flush=True)
    os._exit(0)
def set_start_method(method=None, force=False):
    report("set_start_method", method, sys._getframe(1))
multiprocessing.set_start_method = set_start_method
multiprocessing.context.DefaultContext.set_start_method = lambda self, *a, **k: set_start_method(*a, **k)
def profile(frame, event, arg):
    code = frame.f_code
    if event == "call" and code.co_filename == path and code.co_flags & 1:  # CO_OPTIMIZED: a function
        if module_line(frame) not in decorating:
            report("call", code.co_qualname, frame)
spec = importlib.util.spec_from_file_location(name, path)
module = importlib.util.module_from_spec(spec)
sys.modules[name] = module
sys.setprofile(profile)
spec.loader.exec_module(module)
sys.setprofile(None)
print(); print("@awaitlings-probe null", flush=True)
os._exit(0)
"""
#: Seconds the import probe may take: a bound only; past it, no verdict.
PROBE_S = 30.0


def _probe_import(path: str, name: str) -> tuple[str, str, str] | None:
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _PROBE, path, name],
            capture_output=True,
            text=True,
            timeout=PROBE_S,
            env={},
            cwd=os.path.dirname(path),
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = [line for line in done.stdout.splitlines() if line.startswith("@awaitlings-probe ")]
    found = json.loads(lines[-1].split(" ", 1)[1]) if lines else None
    if not found:
        return None
    kind, what, line = found
    return kind, str(what), describe_line(path, int(line)) if line else os.path.basename(path)
