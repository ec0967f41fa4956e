"""The loop monitor: while a check runs, notice at once that the learner's code holds the
event loop's thread, from evidence the kernel keeps, never from how long a check took.

A thread samples the main thread (the one running the check's loop) every few
milliseconds and reports a :class:`Hold` when

- **it spins**: the loop is not waiting in its selector and the thread has used
  ``SPIN_CPU_S`` seconds of CPU (its own CPU clock, ``pthread_getcpuclockid``) since the
  loop last polled. CPU time, not wall time: a loaded machine slows the thread's clock
  down with it, so it cannot make a correct answer look stuck;
- **it reads standard input**: it waits in a read of :class:`IdleTerminal`, the check's
  standard input (a terminal where nobody types): ``input()`` on the loop;
- **it sleeps in a blocking call** made from the learner's code (``time.sleep``, a
  blocking socket, ``future.result()``, ``pool.map``, ``thread.join``) and has not woken
  up for ``ASLEEP_S``: asleep (``S`` in ``/proc``), not merely waiting for a CPU.

Only while the learner's file is on the thread's stack: the check's own code and the
grader's machinery are never blamed. The plugin turns a hold into the check's verdict
and stops the learner's code (a signal raises :class:`LoopHeld` in the main thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import linecache
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grader import explain, procstate
from grader.loops import GRADER_THREAD_PREFIX, LOOPS

#: How often the main thread is sampled (real seconds).
SAMPLE_S = 0.01
#: How often while the learner's code has been seen running without the loop polling
#: (a correct answer's steps are far shorter than ``SAMPLE_S``: it is rarely seen at all).
STRETCH_SAMPLE_S = 0.005
#: CPU seconds of one loop step that make a spin (no correct answer comes near it: the
#: longest any solution or correct alternative held the loop, in one process, was 18 ms).
SPIN_CPU_S = 0.1
#: Real seconds asleep in one blocking call, not woken once, that make a hold.
ASLEEP_S = 0.15
#: Both thresholds, once this child has proven the learner's code holds the loop (the
#: exercise has failed already: the checks after it need not wait as long to say so).
PROVEN_S = 0.05
_PROVEN = False
#: CPU seconds without yielding that make a spin on a line already seen spinning (in an
#: earlier check of this run, for at least ``SPIN_CPU_S`` or ``PROVEN_S``): the same loop,
#: entered again, is named as soon as the monitor sees it run, not after another
#: threshold's worth of CPU. Only a wrong answer has such a line.
PROVEN_LINE_S = 0.01  # counted from when the line was first seen, not from the last poll
#: The lines of the learner's file sampled in a proven spin, each with the line that
#: names that spin (``file:line: source``) and the CPU seconds it ran for.
_proven_lines: dict[int, tuple[str, float]] = {}
#: Rounds a loop must go without waiting, besides a spin's worth of CPU, to be polling.
POLL_ROUNDS = 100
#: At most this many lines are remembered (a spin is a few lines).
_PROVEN_LINES_MAX = 64
#: Once a check has failed from a hold, how often the loop's thread is looked at again
#: (a hundred handlers spinning at end of file each need their own interruption), and for
#: how many such looks an interruption is held back while the thread is inside code that
#: takes locks (threading, concurrent.futures, queue, multiprocessing): an exception raised
#: there can leave a lock held, and the next check, or the pool's own shutdown, then hangs.
HELD_SAMPLE_S = 0.002
CAREFUL_LOOKS = 50
_careful = False
_LOCKING = ("threading.py", "/concurrent/futures/", "/queue.py", "/multiprocessing/")

#: Blocking calls that hold the loop while the learner's code waits in them.
_WAIT_CALLS = frozenset(
    {"read", "readv", "write", "writev", "sendto", "sendmsg", "recvfrom", "recvmsg", "accept",
     "accept4", "connect", "nanosleep",
     "clock_nanosleep", "futex", "futex_waitv", "select", "pselect6", "poll", "ppoll",
     "wait4", "waitid", "pause", "rt_sigtimedwait"}
)  # fmt: skip
#: Library functions that wait legitimately, if briefly, on the loop's thread (starting
#: or shutting down a pool, importing): a sleep inside them is not the learner's wait.
_EXCUSED = frozenset(
    {"shutdown", "__exit__", "_adjust_process_count", "_start_executor_manager_thread",
     "_spawn_process", "_launch", "ensure_running", "_ensure_running", "start", "__init__",
     "_find_and_load", "_bootstrap_inner", "close", "terminate"}
)  # fmt: skip


class LoopHeld(BaseException):
    """Raised in the main thread to stop learner code that holds the loop. A
    BaseException, so ``except Exception`` in the learner's code does not swallow it."""


@dataclass(frozen=True)
class Hold:
    """What held the loop's thread, and where."""

    kind: str  # "spin", "poll", "stdin", "sleep", "wait", "io" or "stalled"
    at: str | None  # "ex06_blocking_client.py:12: line = input()"
    call: str | None = None  # the system call it was asleep in
    cpu_s: float | None = None
    waiting: str | None = None  # where each task waits (a stalled loop)
    #: A spin on a line an earlier check saw spin (``cpu_s`` is what it ran for there).
    again: bool = False

    def message(self) -> str:
        if self.kind == "stalled":
            return explain.stalled(self.at, self.waiting)
        return explain.loop_held(self.kind, self.at, self.call, self.cpu_s, again=self.again)


class IdleTerminal(io.TextIOBase):
    """What the learner's code gets as ``sys.stdin`` during a check: a terminal where
    nobody types. Reading waits (forever, until the monitor stops it) and is recorded, so
    ``input()`` on the loop's thread is named at once; ``fileno()`` is a pipe nobody writes
    to, so an asyncio reader on stdin (``connect_read_pipe``) simply waits, as it should."""

    def __init__(self) -> None:
        super().__init__()
        self._read_end, self._write_end = os.pipe()  # the write end stays open, unused
        # Never blocks a writer: code that writes to every pipe it finds gets EAGAIN here.
        os.set_blocking(self._write_end, False)
        #: The thread ids currently reading (a blocking read in progress).
        self.readers: set[int] = set()
        self._never = threading.Event()

    @property
    def name(self) -> str:
        return "<stdin>"

    @property
    def encoding(self) -> str:  # type: ignore[override]  # read-only here: it never changes
        return "utf-8"

    @property
    def buffer(self) -> IdleTerminal:
        return self  # `sys.stdin.buffer.readline()` waits the same way

    def fileno(self) -> int:
        return self._read_end

    def isatty(self) -> bool:
        return False

    def readable(self) -> bool:
        return True

    def _wait(self) -> str:
        me = threading.get_ident()
        self.readers.add(me)
        try:
            self._never.wait()  # interruptible: the monitor's signal raises LoopHeld here
        finally:
            self.readers.discard(me)
        return ""

    def read(self, size: int | None = -1) -> str:
        return self._wait()

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        return self._wait()

    def readlines(self, hint: int = -1) -> list[str]:  # type: ignore[override]
        self._wait()
        return []


class LoopMonitor:
    """Samples the main thread for one check; calls ``on_hold`` once with the first hold
    found (from the monitor's thread), then keeps interrupting while it persists.

    With ``judge_holds`` false only a read of stdin (which never ends) is a hold: a check
    whose own work sets how long a spin or blocking call lasts leaves them to the check
    that judges them with work sized to be seen, so its verdict never depends on a race.
    """

    def __init__(
        self,
        target: Callable[[], str | None],
        terminal: IdleTerminal | None,
        on_hold: Callable[[Hold], None],
        *,
        judge_holds: bool = True,
    ) -> None:
        self.judge_holds = judge_holds
        self.target = target
        self.terminal = terminal
        self.on_hold = on_hold
        self.hold: Hold | None = None
        self._progress: tuple[float, tuple[int, ...]] | None = None  # CPU clock when data last moved
        #: The learner's lines sampled since the loop last polled (``cpu_mark``, counts).
        self._stretch: tuple[float, dict[int, int]] | None = None
        #: The main thread's CPU clock at the previous look, and when the learner's code
        #: was first seen in the current stretch.
        self._last_cpu = 0.0
        self._first_seen = 0.0
        self._own_code_seen = False
        self._innermost: tuple[int, int] | None = None
        #: The loop's count of rounds without waiting when the current stretch began.
        self._rounds: int | None = None
        #: For a loop that counts its rounds: its CPU mark, rounds and data when first seen
        #: busy since it last waited.
        self._poll_mark: tuple[float, int, tuple[int, ...]] | None = None
        self._stop = threading.Event()
        self._main = threading.main_thread()
        self._main_tid = main_thread_native_id()
        self._thread = threading.Thread(target=self._run, name=GRADER_THREAD_PREFIX + "monitor", daemon=True)
        try:
            self._clock: int | None = time.pthread_getcpuclockid(self._main.ident or 0)
        except (AttributeError, OSError):
            self._clock = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(1.0)

    # --- the sampling thread ----------------------------------------------------------

    def _run(self) -> None:
        pid, tid = os.getpid(), self._main_tid
        asleep_since: tuple[float, object] | None = None
        looks = 0
        global _careful
        while not self._stop.wait(
            HELD_SAMPLE_S if self.hold is not None else STRETCH_SAMPLE_S if self._stretch is not None else SAMPLE_S
        ):
            if self.hold is not None:
                # The check has failed already: stop the learner's code wherever it runs
                # on the loop's thread (every handler of a hundred clients, say), at once,
                # carefully at first (see CAREFUL_LOOKS).
                if self._holding_now(tid):
                    looks += 1
                    _careful = looks <= CAREFUL_LOOKS
                    interrupt_main()
                else:
                    looks = 0
                continue
            hold, asleep_since = self._sample(pid, tid, asleep_since)
            if hold is not None:
                self.hold = hold
                global _PROVEN
                _PROVEN = True
                if hold.kind == "spin" and hold.at is not None and self._stretch is not None and not hold.again:
                    prove_lines(self._stretch[1], hold.at, hold.cpu_s or 0.0)
                self.on_hold(hold)
                _careful = False  # the first interruption stops the hold wherever it is
                interrupt_main()

    def _polled(self, tid: int, target: str | None) -> Hold | None:
        """A loop that counts its rounds without waiting (a split run's worker loop) went
        round and round for a spin's worth of CPU since it last waited, with no data
        moving: a task polls instead of awaiting. Seen whatever code a look lands in (a
        poll spends most of its time in the loop's own machinery)."""
        loop = _running_loop_of(tid)
        rounds = getattr(loop, "rounds", None)
        if loop is None or rounds is None or self._clock is None or loop.in_select or not self.judge_holds:
            self._poll_mark = None
            return None
        moved = _io_fingerprint()
        if self._poll_mark is None or self._poll_mark[0] != loop.cpu_mark or self._poll_mark[2] != moved:
            self._poll_mark = (loop.cpu_mark, rounds, moved)
            return None
        used = self._last_cpu - loop.cpu_mark
        if used < (SPIN_CPU_S if not _PROVEN else PROVEN_S) or rounds - self._poll_mark[1] < POLL_ROUNDS:
            return None
        return Hold("poll", most_telling_line(self._main.ident, target), None, used)

    def _holding_now(self, tid: int) -> bool:
        """The learner's code is running on the loop's thread outside the selector."""
        if _learner_frames(self._main.ident, self.target()) is None:
            return False
        loop = _running_loop_of(tid)
        return loop is None or not loop.in_select

    def _sample(
        self, pid: int, tid: int, asleep_since: tuple[float, object] | None
    ) -> tuple[Hold | None, tuple[float, object] | None]:
        previous_cpu = self._last_cpu
        if self._clock is not None:
            self._last_cpu = time.clock_gettime(self._clock)
        target = self.target()
        frames = _learner_frames(self._main.ident, target)
        polled = self._polled(tid, target)
        if polled is not None:
            return polled, None
        if frames is None:
            self._progress = None
            return None, None
        innermost_learner, between = frames
        at = explain.location(innermost_learner.f_code.co_filename, innermost_learner.f_lineno)
        if self.terminal is not None and self._main.ident in self.terminal.readers:
            return Hold("stdin", at, "read"), None
        if not self.judge_holds:
            return None, None
        loop = _running_loop_of(tid)
        if loop is None or loop.in_select:
            self._progress = self._stretch = None
            return None, None
        spin_s, asleep_s = (SPIN_CPU_S, ASLEEP_S) if not _PROVEN else (PROVEN_S, PROVEN_S)
        cpu = self._last_cpu if self._clock is not None else None  # read at the top of this look
        if cpu is not None:
            # CPU spent since the loop last polled, and since data last moved: code that
            # consumes buffered data one byte at a time never yields, but it progresses.
            moved = _io_fingerprint()
            if self._progress is None:
                # First sight of the learner's code in this stretch: it started after the
                # previous look (which did not see it), and after the loop last polled.
                self._progress = (max(loop.cpu_mark, previous_cpu), moved)
                self._first_seen = cpu
            elif self._progress[1] != moved:
                self._progress = (cpu, moved)
                self._stretch = None
                self._first_seen = cpu
            mark = max(loop.cpu_mark, self._progress[0])
            innermost = _innermost_key(self._main.ident)
            if self._stretch is None or self._stretch[0] != mark:
                self._stretch = (mark, {})
                self._own_code_seen = False
                self._innermost = innermost
                self._rounds = getattr(loop, "rounds", None)
            lines = self._stretch[1]
            lines[innermost_learner.f_lineno] = lines.get(innermost_learner.f_lineno, 0) + 1
            # Python code ran: the learner's own (or a C function it called) was the
            # innermost frame, or the innermost frame moved. Not so for one long library
            # call made on the learner's behalf (joining 32 MiB of reads, say).
            self._own_code_seen = self._own_code_seen or not between or innermost != self._innermost
            used = cpu - mark
            proven = _proven_lines.get(innermost_learner.f_lineno)
            # A proven line counts from when it was seen (not from the previous look): the
            # line may also run briefly, and correctly, right after the check's own work.
            if proven is not None and cpu - max(mark, self._first_seen) >= PROVEN_LINE_S:
                return Hold("spin", proven[0], None, proven[1], again=True), None
            if used >= spin_s and self._own_code_seen:
                # A stretch spent wholly inside one library call on the learner's behalf
                # (a 32 MiB join under a loaded machine's page faults) is not a spin.
                telling = _telling(target, lines) if sum(lines.values()) >= 4 else None
                # The loop went round meanwhile (a loop that counts its rounds): tasks did
                # run, but something was always ready, so it never waited: a poll.
                rounds = getattr(loop, "rounds", None)
                kind = "poll" if rounds is not None and rounds != self._rounds else "spin"
                return Hold(kind, telling or most_telling_line(self._main.ident, target) or at, None, used), None
        if any(name in _EXCUSED for name in between):
            return None, None
        # Asleep in the kernel (not waiting for a CPU: a loaded machine shows ``R``), in
        # the same place, without having run at all since the first sample.
        state = procstate.thread_state(pid, tid)
        if state is None or not state.asleep or (state.syscall is not None and state.syscall not in _WAIT_CALLS):
            return None, None
        signature = (cpu, state.switches, at, tuple(between))
        now = time.monotonic()
        if asleep_since is None or asleep_since[1] != signature:
            return None, (now, signature)
        if now - asleep_since[0] < asleep_s:
            return None, asleep_since
        source = innermost_learner.f_code.co_filename
        line = linecache.getline(source, innermost_learner.f_lineno)
        if "sleep" in (state.syscall or "") or (not between and "sleep(" in line):
            kind = "sleep"
        elif between:
            kind = "wait"
        else:
            kind = "io"
        return Hold(kind, at, state.syscall), asleep_since


def _io_fingerprint() -> tuple[int, ...]:
    """How much data sits in every stream of the grader's loops: what the learner's
    StreamReaders hold unread and what their transports have yet to send. It changes
    whenever the learner's code reads or writes; it stays put in a loop that spins."""
    found: list[int] = []
    for loop in list(LOOPS):
        with contextlib.suppress(Exception):  # read from another thread: best effort
            transports = list(getattr(loop, "_transports", {}).values())
            for transport in transports:
                found.append(transport.get_write_buffer_size())
                reader = getattr(getattr(transport, "_protocol", None), "_stream_reader", None)
                found.append(len(getattr(reader, "_buffer", b"")))
    return tuple(found)


def interrupt_main() -> None:
    """Raise :class:`LoopHeld` in the main thread (through :func:`install`'s handler)."""
    main = threading.main_thread()
    if main.ident is not None:
        with contextlib.suppress(OSError, ValueError):
            signal.pthread_kill(main.ident, _SIGNAL)


def install(target: Callable[[], str | None]) -> None:
    """Install the handler that turns the monitor's signal into :class:`LoopHeld` (call
    from the main thread, before any check runs). It raises only while the learner's
    file (``target()``) is on the interrupted stack: a signal that arrives after the
    learner's code has returned is ignored, so the grader's own code is never hit."""

    def raise_held(signum: int, frame: types.FrameType | None) -> None:
        if _careful and frame is not None and any(part in frame.f_code.co_filename for part in _LOCKING):
            return  # inside code that takes locks: the monitor looks again in a moment
        wanted = target()
        while frame is not None and wanted:
            if frame.f_code.co_filename == wanted:
                _cancel_learner_tasks(wanted)
                raise LoopHeld("the grader stopped code that held the event loop")
            frame = frame.f_back

    signal.signal(_SIGNAL, raise_held)
    # A thread that wants the GIL waits this long before the holder is asked to let go
    # (5 ms by default): the monitor needs it a few times per look, so against a spinning
    # main thread a look took 50 ms, not SAMPLE_S.
    sys.setswitchinterval(SWITCH_S)


def _cancel_learner_tasks(target: str) -> None:
    """The check has failed from a hold: cancel the other tasks running the learner's
    code on this loop, so that each does not hold the loop in turn and wait to be stopped
    (a hundred handlers spinning at end of file). Cancelled where they wait, they run
    their clean-up; the task being stopped gets :class:`LoopHeld`."""
    with contextlib.suppress(Exception):
        loop = asyncio.get_running_loop()
        current = asyncio.current_task(loop)
        for task in asyncio.all_tasks(loop):
            code = getattr(task.get_coro(), "cr_code", None)
            if task is not current and code is not None and code.co_filename == target:
                task.cancel()


_SIGNAL = signal.SIGUSR2
#: The interpreter's switch interval while checks run (see :func:`install`).
SWITCH_S = 0.001


def learner_line_here(target: str | None) -> str | None:
    """``file:line: source`` of the innermost frame of the learner's file on the calling
    thread's own stack, if any."""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None and target:
        if frame.f_code.co_filename == target:
            return explain.location(target, frame.f_lineno)
        frame = frame.f_back
    return None


def main_thread_native_id() -> int:
    """The kernel's id of the main thread, right in a forked process too (the sandbox's
    runs are forked): ``threading.main_thread().native_id`` keeps the id of the thread
    that forked, in the parent, on every supported Python. Called on the main thread (as
    the plugin does, per check) it asks the kernel; else, in the main thread of a process
    that was not forked, the main thread's own id is its pid."""
    if threading.current_thread() is threading.main_thread():
        return threading.get_native_id()
    return os.getpid()


def _running_loop_of(tid: int) -> Any:
    for loop in reversed(list(LOOPS)):
        if loop.thread_native_id == tid and loop.is_running() and not loop.is_closed():
            return loop
    return None


def _innermost_key(ident: int | None) -> tuple[int, int] | None:
    """Which frame the thread is innermost in, and at which instruction."""
    frame = sys._current_frames().get(ident or -1)
    return None if frame is None else (id(frame), frame.f_lasti)


def _learner_frames(ident: int | None, target: str | None) -> tuple[types.FrameType, list[str]] | None:
    """The innermost frame of the learner's file on the main thread's stack, and the names
    of the functions called from it down to the innermost frame (empty when the learner's
    frame is the innermost: a C function such as ``time.sleep`` called from it)."""
    if ident is None or not target:
        return None
    frame = sys._current_frames().get(ident)
    between: list[str] = []
    while frame is not None and frame.f_code.co_filename != target:
        between.append(frame.f_code.co_name)
        frame = frame.f_back
    if frame is None:
        return None
    return frame, between


def prove_lines(lines: dict[int, int], at: str, cpu_s: float) -> None:
    """Remember the lines sampled in a spin the monitor named (see ``PROVEN_LINE_S``)."""
    for number in list(lines)[: max(0, _PROVEN_LINES_MAX - len(_proven_lines))]:
        _proven_lines.setdefault(number, (at, cpu_s))


def adopt_proven(found: object) -> None:
    """Take what :func:`proven` said elsewhere (a split run's worker tells its checker, the
    checker tells the next check's worker), as plain data checked here: a worker that
    lies can only make its own later checks fail sooner."""
    global _PROVEN
    if not isinstance(found, dict):
        return
    if found.get("held") is True:
        _PROVEN = True  # the learner's code has held the loop in this run
    lines = found.get("lines")
    if not isinstance(lines, dict):
        return
    for key, value in list(lines.items())[:_PROVEN_LINES_MAX]:
        if len(_proven_lines) >= _PROVEN_LINES_MAX:
            return
        if not (isinstance(key, str) and key.isdigit() and isinstance(value, list) and len(value) == 2):
            continue
        at, cpu = value
        if isinstance(at, str) and isinstance(cpu, (int, float)) and not isinstance(cpu, bool) and 0 <= cpu < 1e6:
            _proven_lines.setdefault(int(key), (at[:400], float(cpu)))


def proven() -> dict[str, object]:
    """What this run has proven so far, as plain data: whether the learner's code has held
    the loop, and the lines seen spinning (with the line that names each spin and its CPU
    seconds)."""
    return {"held": _PROVEN, "lines": {str(line): [at, cpu] for line, (at, cpu) in _proven_lines.items()}}


def most_telling_line(ident: int | None, target: str | None, samples: int = 8, pause: float = 0.005) -> str | None:
    """A spinning loop is caught on any of its lines: sample a few and keep the most
    telling one (a read, the loop that spins at end of file; else an ``await``; else the
    commonest)."""
    seen: dict[int, int] = {}
    for _ in range(samples):
        found = _learner_frames(ident, target)
        if found is not None:
            seen[found[0].f_lineno] = seen.get(found[0].f_lineno, 0) + 1
        time.sleep(pause)
    return _telling(target, seen)


def _telling(target: str | None, seen: dict[int, int]) -> str | None:
    if not seen or not target:
        return None
    lines = {number: linecache.getline(target, number) for number in seen}
    chosen = (
        next((n for n in seen if ".read" in lines[n]), None)
        or next((n for n in seen if "await " in lines[n]), None)
        or max(seen, key=lambda n: seen[n])
    )
    return explain.location(target, chosen, lines[chosen])
