"""Checks for ex06 blocking_client: fix the tutorial's chat client.

Three checks run the learner's file as a script (``python ex06_blocking_client.py HOST
PORT``) in a subprocess whose standard input the check holds open: that is the only
honest way to see ``input()`` freeze the loop, a missing ``flush()`` leave a line stuck
in stdout's buffer, and a thread blocked reading stdin keep the process from exiting
after the server hung up. They are judged from evidence, not by waiting: while the
script does not do what is expected, the check reads its state from ``/proc``
(``grader.procstate``) and stops as soon as it is conclusive (main thread blocked
reading stdin, idle on its event loop, spinning, exited). The others call ``chat()``
in-process on the virtual-time loop, with a StreamReader for stdin (fed by the check)
and a recording text stream for ``out``. Bounds are generous backstops only.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import io
import os
import re
import signal
import sys
import tempfile
import termios
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from grader import explain, probes, procstate
from grader.probes import Peer, call_learner, exact, expect, fail, here, peer_server, wait_event, watch_closing

#: Bounds on waiting for a correct client: it answers in milliseconds; a subprocess
#: starting Python under load may take a few seconds.
BOUND_S = 5.0
SCRIPT_BOUND_S = 10.0

INPUT_ADVICE = (
    "`input()` (and `sys.stdin.readline()`) block the event loop: while they wait for a "
    "line, no task runs, so nothing from the server is shown. Read input with `await "
    "stdin.readline()` on a StreamReader (`open_stdin()`), and print the server's lines "
    "in a task of its own."
)


@dataclass(eq=False)
class _Peer(Peer):
    """What the check-side server saw on its connection."""

    received: bytearray = field(default_factory=bytearray)
    got_data: asyncio.Event = field(default_factory=asyncio.Event)
    eof: bool = False
    eof_at: float | None = None  # loop time the client's end of file arrived


Script = Callable[[asyncio.StreamWriter, _Peer], Awaitable[None]]


@contextlib.asynccontextmanager
async def _server(script: Script | None = None, *, read: bool = True) -> AsyncIterator[tuple[str, int, _Peer]]:
    """A chat peer: runs ``script`` (pushes lines) while recording all it receives until
    end of file; yields ``(host, port, peer)``."""
    peer = _Peer()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pushing = asyncio.ensure_future(script(writer, peer) if script else asyncio.sleep(0))
        try:
            while read and (data := await reader.read(4096)):
                peer.received += data
                peer.got_data.set()
            peer.eof = read
            peer.eof_at = asyncio.get_running_loop().time() if read else None
            await pushing
        finally:
            pushing.cancel()
            with contextlib.suppress(BaseException):
                await pushing

    async with peer_server(peer, handler) as (host, port):
        yield host, port, peer


async def _push(writer: asyncio.StreamWriter, line: bytes) -> None:
    writer.write(line)
    await writer.drain()


async def _stdin() -> Any:
    """The ``stdin`` chat() reads: a StreamReader where the learner's code runs (the worker,
    in a split check), fed by the check (``here.feed``, ``here.feed_eof``)."""
    return await here.ask("new_stdin")


async def _out(screen: _Screen) -> Any:
    """The ``out`` chat() writes to: a text stream where the learner's code runs whose
    every write reaches ``screen``, here (what is shown is observed by the check)."""
    return await here.ask("screen", screen.write)


def _pending_stacks(before: set[asyncio.Task[Any]]) -> list[str]:
    """Where the learner's tasks still pending wait (in a split check, the worker's
    account); tasks of this loop the learner's code started are cancelled."""
    said = probes.worker_account("pending")
    if isinstance(said, dict):
        stacks = said.get("stacks")
        return [str(line)[:400] for line in stacks[:20]] if isinstance(stacks, list) else []
    for task in probes.new_tasks(before):
        if not task.done():
            task.cancel()
    return probes.task_stacks(asyncio.get_running_loop(), probes.TARGET_FILE)


class _Screen(io.StringIO):
    """The learner's ``out``: records what is written; the check can wait for a text."""

    def __init__(self) -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        with contextlib.suppress(RuntimeError):  # a write after the loop closed
            self._loop.call_soon_threadsafe(self._changed.set)
        return written

    async def wait_for(self, text: str, timeout: float) -> bool:
        async def until_shown() -> None:
            while text not in self.getvalue():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(until_shown(), timeout)
        except TimeoutError:
            return False
        return True


async def _stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(task, 1.0)


# --- the script in a subprocess, judged from evidence -----------------------------------
# A script that does not print the server's line (or does not exit) is not waited out:
# every POLL_S the check reads, from /proc, what the script is doing. Asleep in the same
# call with no CPU time and no context switch for IDLE_S is conclusive (nothing will wake
# it but the check); so is its main thread burning CPU for SPIN_S without printing. The
# bound is only a backstop for states that prove nothing.

POLL_S = 0.01
IDLE_S = 0.1
SPIN_S = 0.5
#: CPU a main thread that never once waited over a whole watch must have used for that to
#: count as spinning (a waiting client uses next to none).
NEVER_WAITED_CPU_S = 0.05

#: How the check starts the learner's file: as ``python FILE HOST PORT`` does, plus a
#: faulthandler on SIGUSR1, so the check can ask which line the main thread is at, and an
#: exit handler, registered first so it runs last: when the script's own code is over and
#: Python has joined its non-daemon threads, it notes each thread still alive (its kernel
#: id, whether it is a daemon, the script's line it is at) in ``WHERE.exit``.
_LAUNCH = """\
import atexit, faulthandler, os, runpy, signal, sys, threading
from grader.sandbox.landlock import scope_signals
scope_signals()  # no signal from the script reaches the checker (Landlock ABI 6)
_where = open(sys.argv[1], "w")
faulthandler.register(signal.SIGUSR1, file=_where, all_threads=False, chain=False)

def _note_threads(note=sys.argv[1] + ".exit", script=os.path.abspath(sys.argv[2]), open=open):
    frames, lines = sys._current_frames(), []
    for thread in threading.enumerate():
        frame = frames.get(thread.ident)
        if thread is threading.main_thread() or frame is None:
            continue
        line = 0
        while frame is not None and not line:
            line = frame.f_lineno if os.path.abspath(frame.f_code.co_filename) == script else 0
            frame = frame.f_back
        lines.append(f"{thread.native_id} {int(thread.daemon)} {line}\\n")
    with open(note, "w") as out:
        out.writelines(lines)

atexit.register(_note_threads)
sys.argv = sys.argv[2:]
sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
runpy.run_path(sys.argv[0], run_name="__main__")
"""

EXITED, READS_STDIN, THREAD_READS_STDIN, IDLE, SPINNING, SLEEPS, POLLING, UNSURE = (
    "exited", "reads stdin", "a thread reads stdin", "idle", "spinning", "sleeps", "polling", "unsure"
)  # fmt: skip

#: Lines that reach the script's standard input together.
TOGETHER = b"one\ntwo\n"

#: A loop waiting with a timeout this short (ms), woken again and again with nothing to
#: do, is polling on a timer.
POLL_MS = 250


@dataclass
class _Evidence:
    """What the script was doing when the check stopped waiting for it."""

    verdict: str
    state: procstate.ProcessState | None = None
    sockets: list[procstate.TcpSocket] = field(default_factory=list)
    cpu_s: float = 0.0  # CPU seconds used without waiting once (spinning)
    where: str | None = None  # "ex06_blocking_client.py:42: message = input()"
    #: A thread other than the main one blocked reading stdin: whether it is a daemon
    #: (None: unknown) and the script's line it is at.
    reader_daemon: bool | None = None
    reader_where: str | None = None
    #: What the main thread waits for: "exit" (the script's code is over, the interpreter
    #: is shutting down), "executor" (asyncio.run's default executor), "threads" (Python
    #: joining non-daemon threads at exit) or None.
    main_waits: str | None = None

    @property
    def unread(self) -> int:
        """Bytes the server sent that sit unread in the script's socket."""
        return sum(s.rx_queue for s in self.sockets)

    @property
    def call(self) -> str:
        main = self.state.main if self.state else None
        return main.syscall if main and main.syscall else "an unknown call"


@dataclass
class _Script:
    proc: asyncio.subprocess.Process
    stderr: IO[bytes]  # a file, not a pipe: a chatty script can never block on it
    where_file: Path
    path: Path
    stdout: bytearray = field(default_factory=bytearray)
    reading: asyncio.Task[None] | None = None
    #: Proven unable to finish by itself (spinning, blocked...): killed, not waited for.
    stuck: bool = False

    def start_reading(self) -> None:
        async def read() -> None:
            assert self.proc.stdout is not None
            while chunk := await self.proc.stdout.read(4096):
                self.stdout += chunk

        self.reading = asyncio.ensure_future(read())

    def _stdin_inode(self) -> int | None:
        pipe = self.proc.stdin.transport.get_extra_info("pipe") if self.proc.stdin else None
        try:
            return os.fstat(pipe.fileno()).st_ino if pipe is not None else None
        except (OSError, ValueError):
            return None

    def _reads_stdin(self, thread: procstate.ThreadState, stdin: int | None) -> bool:
        if thread.syscall not in ("read", "readv") or thread.fd is None:
            return False
        target = procstate.fd_target(self.proc.pid, thread.fd)
        return stdin is not None and procstate.inode_of(target, "pipe") == stdin

    def _stdout_pending(self) -> bool:
        """Output the script wrote that the check has not read yet."""
        transport: Any = getattr(self.proc, "_transport", None)
        pipe = transport.get_pipe_transport(1) if transport else None
        fileobj = pipe.get_extra_info("pipe") if pipe else None
        if fileobj is None:
            return False
        try:
            waiting = array.array("i", [0])
            fcntl.ioctl(fileobj.fileno(), termios.FIONREAD, waiting)
        except (OSError, ValueError):
            return False
        return waiting[0] > 0

    async def watch(self, done: Callable[[], bool], *, settled: Callable[[], bool] = lambda: True,
                    bound: float = SCRIPT_BOUND_S, polls: bool = False) -> _Evidence | None:  # fmt: skip
        """Wait until ``done()`` (None) or conclusive evidence that it never will be: the
        script exited, or it sits idle or spins. ``judge()`` says when the check's part is
        over (the server has sent or closed): before that, only a main thread blocked reading
        stdin (or an exit) proves something; a script still starting up or connecting
        may be busy or idle for a while."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + bound
        stdin = self._stdin_inode()
        history: list[tuple[float, procstate.ProcessState]] = []
        while True:
            if done():
                return None
            if self.proc.returncode is not None:
                if self.reading is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(asyncio.shield(self.reading), 2.0)
                return None if done() else _Evidence(EXITED)
            state = procstate.process_state(self.proc.pid)
            if state is not None:
                history.append((time.monotonic(), state))
                evidence = self._judge(history, stdin, settled(), polls=polls)
                if evidence is None and polls and loop.time() > deadline and settled():
                    evidence = _never_waited(history)
                if evidence is not None and not self._stdout_pending() and not done():
                    evidence.sockets = procstate.tcp_sockets(self.proc.pid) or []
                    if evidence.verdict in (READS_STDIN, SPINNING, SLEEPS):
                        evidence.where = await self._where()
                    self.stuck = evidence.verdict in (READS_STDIN, SPINNING, SLEEPS)
                    if evidence.verdict in (THREAD_READS_STDIN, IDLE):
                        await self._stdin_reader(evidence, stdin)
                    return evidence
            if loop.time() > deadline:
                return _Evidence(UNSURE, state, procstate.tcp_sockets(self.proc.pid) or [])
            await asyncio.sleep(POLL_S)

    def _judge(
        self,
        history: list[tuple[float, procstate.ProcessState]],
        stdin: int | None,
        settled: bool,
        *,
        polls: bool = False,
    ) -> _Evidence | None:
        now, latest = history[-1]
        main = latest.main
        if main is None:
            return None
        earlier = [s for t, s in history if now - t >= IDLE_S]
        if polls and settled and main.cpu_ns is not None:
            # Nothing is to happen while this watch lasts: a client waiting for it uses no
            # CPU. SPIN_S of CPU since the watch began, however it was interleaved with
            # waits or a loaded machine's queue, is a loop that never waits (a sleep(0)
            # poll, or a spin).
            first = history[0][1].main
            used = (main.cpu_ns - (first.cpu_ns or 0)) / 1e9 if first is not None and first.cpu_ns is not None else 0.0
            if used >= SPIN_S:
                return _Evidence(SPINNING, latest, cpu_s=used)
        if polls and settled and earlier and _timer_wait(main):
            # Waiting on a short timer now, and on one an IDLE_S ago too, having woken up
            # in between (with nothing to do: that is what the caller waits through).
            was = earlier[-1].main
            if was is not None and _timer_wait(was) and was.switches is not None and main.switches != was.switches:
                return _Evidence(POLLING, latest)
        if earlier and latest.idle_since(earlier[-1]):
            if self._reads_stdin(main, stdin):
                return _Evidence(READS_STDIN, latest)
            if not settled:
                return None
            if main.syscall in procstate.EVENT_WAITS:
                return _Evidence(IDLE, latest)
            if any(self._reads_stdin(t, stdin) for t in latest.others):
                return _Evidence(THREAD_READS_STDIN, latest)
            if main.syscall in ("nanosleep", "clock_nanosleep"):
                return _Evidence(SLEEPS, latest)
            return None
        if settled and main.cpu_ns is not None and not main.asleep:
            # Running in every sample since some point, and SPIN_S of CPU used since: CPU
            # time, not a share of wall time, so a loaded machine only makes it later.
            start = main
            for _, earlier_state in reversed(history):
                was = earlier_state.main
                if was is None or was.asleep or was.cpu_ns is None:
                    break
                start = was
            used = (main.cpu_ns - (start.cpu_ns or 0)) / 1e9
            if used >= SPIN_S:
                return _Evidence(SPINNING, latest, cpu_s=used)
        del history[1 : max(1, len(history) - 200)]  # the first sample stays: the watch began there
        return None

    async def _stdin_reader(self, evidence: _Evidence, stdin: int | None) -> None:
        """A thread other than the main one is blocked reading stdin: find out which, where,
        and what the main thread waits for. The exit handler's note says the script's code
        is over; without it, the main thread's stack says whether asyncio.run waits for its
        executor or Python for its non-daemon threads."""
        readers = [t.tid for t in evidence.state.others if self._reads_stdin(t, stdin)] if evidence.state else []
        if not readers:
            return
        note = self.where_file.with_name(self.where_file.name + ".exit")
        with contextlib.suppress(OSError, ValueError):
            for line in note.read_text().splitlines():
                tid, daemon, at = (int(word) for word in line.split())
                if tid in readers:
                    evidence.reader_daemon = bool(daemon)
                    evidence.reader_where = explain.location(str(self.path), at) if at else None
            evidence.main_waits = "exit"
            # The interpreter is shutting down and waits for that thread: it cannot end
            # by itself (a daemon's read holds stdin's lock until a line arrives).
            self.stuck = True
            return
        stack = await self._stack()
        if re.search(r"asyncio/runners\.py.*in close", stack):
            # asyncio.run has finished the main coroutine and, with the loop idle, waits
            # for its default executor: the only threads it waits for.
            evidence.main_waits = "executor"
        elif re.search(r"threading\.py.*in _shutdown", stack):
            evidence.main_waits = "threads"

    async def _stack(self) -> str:
        """The main thread's Python stack, as faulthandler dumps it on SIGUSR1 ("" when
        it could not be had). The dump is written a line at a time, by the main thread in
        its signal handler: it is whole once that thread has run and is asleep again, or
        once it reaches the launcher's own frame (``File "<string>"``, the outermost while
        the script's code runs), or says there is no frame, or is cut short ("...")."""
        pid = self.proc.pid
        before = procstate.thread_state(pid, pid)
        with contextlib.suppress(OSError):
            self.where_file.write_text("")
            os.kill(pid, signal.SIGUSR1)
        for _ in range(100):  # a backstop: the dump is written at once
            text = self.where_file.read_text(errors="replace") if self.where_file.exists() else ""
            if text.endswith("\n"):
                if "<no Python frame>" in text or 'File "<string>"' in text or text.rstrip().endswith("..."):
                    return text
                now = procstate.thread_state(pid, pid)
                if now and now.asleep and before and now.switches not in (None, before.switches):
                    return text
            await asyncio.sleep(POLL_S)
        return ""

    async def _where(self) -> str | None:
        """The learner's line the main thread is at."""
        for match in re.finditer(r'File "(.+)", line (\d+)', await self._stack()):
            if Path(match.group(1)).name == self.path.name:
                return explain.location(str(self.path), int(match.group(2)))
        return None

    async def wait_exit(self, timeout: float) -> int | None:
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            return None

    def stderr_tail(self, lines: int = 3) -> str:
        self.stderr.seek(0)
        data = self.stderr.read()[-4000:]
        kept = data.decode(errors="replace").strip().splitlines()
        return " | ".join(kept[-lines:])

    async def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()

    async def end_input(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()

    def describe_exit(self) -> str:
        """How it exited, in words; what Python said last if it was not a clean exit."""
        code = self.proc.returncode
        stderr = self.stderr_tail()
        self.stderr.seek(0)
        whole = self.stderr.read()[-8000:].decode(errors="replace")
        if code == -signal.SIGABRT and "daemon thread" in whole and "<stdin>" in whole:
            return (
                'It was aborted by Python at exit (SIGABRT, "Fatal Python error: could not '
                "acquire lock for <stdin> at interpreter shutdown, possibly due to daemon "
                'threads"): a daemon thread was still inside a read of stdin when the '
                "interpreter shut down. Read stdin on the event loop instead "
                "(`stdin, transport = await open_stdin()`), where a pending read can simply "
                "be cancelled."
            )
        if code is not None and code < 0:
            said = f" Its stderr ended with: {stderr}" if stderr else ""
            return f"It was killed by signal {signal.Signals(-code).name}.{said}"
        said = f" Its stderr ended with: {stderr}" if stderr else ""
        return f"It exited with code {code}.{said}"


def _never_waited(history: list[tuple[float, procstate.ProcessState]]) -> _Evidence | None:
    """At the end of a watch in which nothing was to happen: the main thread was never
    once seen asleep in the same wait for IDLE_S, as a waiting client is at once, and it
    used CPU. On a machine loaded enough that it did not get SPIN_S of CPU in the whole
    watch, that is the evidence of a loop that never waits (a ``sleep(0)`` poll)."""
    first, latest = history[0][1].main, history[-1][1]
    main = latest.main
    if first is None or main is None or first.cpu_ns is None or main.cpu_ns is None:
        return None
    used = (main.cpu_ns - first.cpu_ns) / 1e9
    return _Evidence(SPINNING, latest, cpu_s=used) if used >= NEVER_WAITED_CPU_S else None


def _timer_wait(thread: procstate.ThreadState) -> bool:
    """Asleep in its event loop's wait with a short timeout (a timer due soon)."""
    return (
        thread.asleep
        and thread.syscall in procstate.EVENT_WAITS
        and thread.timeout_ms is not None
        and 0 < thread.timeout_ms <= POLL_MS
    )


def _uses(path: Path, text: str) -> bool:
    with contextlib.suppress(OSError):
        return text in path.read_text(encoding="utf-8", errors="replace")
    return False


def _at(evidence: _Evidence) -> str:
    return f" (at {evidence.where})" if evidence.where else ""


def _reading_stdin(evidence: _Evidence, path: Path) -> str:
    """The main thread is blocked in a read of stdin: say so, and name `input()` only when
    the line it is at (or, without one, the file) shows it."""
    at = evidence.where or ""
    if "input(" in at or (not at and _uses(path, "input(")):
        call = "`input()`"
    elif "readline(" in at or "read(" in at:
        call = "a blocking read of `sys.stdin`"
    else:
        call = "a blocking read"
    return f"its main thread is blocked reading stdin, in {call}{_at(evidence)}"


def _spinning(evidence: _Evidence) -> str:
    return (
        f"its main thread was running non-stop ({evidence.cpu_s:.1f} s of CPU without "
        f"waiting once){_at(evidence)}: a loop that never waits keeps the event loop "
        "from running anything else. At end of file `await reader.readline()` returns b'' "
        "at once, without waiting: a `while True:` read loop must stop there "
        "(`if not line: break`)."
    )


def _observed(evidence: _Evidence) -> str:
    """A neutral account of a state that proves nothing in particular."""
    if evidence.state is None or evidence.state.main is None:
        return "its state could not be read"
    main = evidence.state.main
    doing = "running" if main.state == "R" else f"asleep in `{main.syscall or 'an unknown call'}`"
    return f"its main thread was {doing}"


@contextlib.asynccontextmanager
async def _run_script(ex_path: Path, host: str, port: int) -> AsyncIterator[_Script]:
    """``python ex06_blocking_client.py HOST PORT`` with stdin, stdout and stderr piped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as stderr:
        where = Path(tmp) / "where.txt"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _LAUNCH, str(where), str(ex_path), host, str(port),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            cwd=str(ex_path.parent),
            env=env,
        )  # fmt: skip
        script = _Script(proc, stderr, where, ex_path)
        script.start_reading()
        try:
            yield script
        finally:
            await _end_script(script)


async def _end_script(script: _Script) -> None:
    """Close its input, give it a moment to leave, kill it otherwise; close the pipes."""
    proc = script.proc
    await script.end_input()
    if not script.stuck and proc.returncode is None:
        # Not waited out: a script that is proven idle (or stuck) now is killed at once.
        await script.watch(lambda: proc.returncode is not None, bound=2.0)
    await script.kill()
    if script.reading is not None:
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(script.reading, 1.0)
    if proc.stdin is not None:
        with contextlib.suppress(Exception):
            await proc.stdin.wait_closed()


async def _input_ended_exit(client: _Script) -> _Evidence | None:
    """End the script's input and watch it exit (or prove it will not)."""
    await client.end_input()
    evidence = await client.watch(
        lambda: client.proc.returncode is not None and client.reading is not None and client.reading.done()
    )
    if evidence is not None and evidence.verdict == IDLE:
        client.stuck = True  # idle with its input ended: it will not exit by itself either
    return evidence


@pytest.mark.weight(3)
@pytest.mark.hint(2)
@pytest.mark.limit(2 * SCRIPT_BOUND_S + 10)
async def test_prints_server_lines_while_waiting_for_input(ex_path):
    """as a script, prints the server's lines while waiting for input"""
    first, second = b"server: welcome to the chat", b"server: a second line, later"
    push_second = asyncio.Event()
    pushed: list[bytes] = []

    async def script(writer: asyncio.StreamWriter, peer: _Peer) -> None:
        await _push(writer, first + b"\n")
        pushed.append(first)
        await push_second.wait()
        await _push(writer, second + b"\n")
        pushed.append(second)

    async with _server(script) as (host, port, peer), _run_script(ex_path, host, port) as client:
        for line in (first, second):
            evidence = await client.watch(
                lambda line=line: line in client.stdout,
                settled=lambda line=line: line in pushed,
            )
            if evidence is not None:
                fail(await _not_printed(client, peer, line, evidence))
            push_second.set()
        # Both lines are shown; nothing more comes until the user types or the server
        # speaks. A client waiting for either sleeps in its event loop; one that polls
        # keeps a CPU busy meanwhile.
        evidence = await client.watch(lambda: False, polls=True)
        if evidence is not None and evidence.verdict == POLLING:
            timeout = evidence.state.main.timeout_ms if evidence.state and evidence.state.main else None
            fail(
                "The script showed both of the server's lines; then, with nothing to do "
                "until input or the server's next line, its event loop kept waking up: it "
                f"waited with a timer due in {timeout} ms, woke, printed nothing, and waited "
                "on such a timer again. It polls on a timer (an `asyncio.sleep`, or a `wait_for`/`wait` "
                "timeout, in a loop) instead of waiting for what it needs. Wait for input and "
                "for the server at the same time, with nothing to time out: "
                "`await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)`."
            )
        if evidence is not None and evidence.verdict == SPINNING:
            polls = " (`await asyncio.sleep(0)` in a loop)" if evidence.where and "sleep(0" in evidence.where else ""
            # A line inside the running loop's own call (asyncio.run) says nothing.
            at = _at(evidence) if evidence.where and "asyncio.run(" not in evidence.where else ""
            fail(
                "The script showed both of the server's lines, then, with nothing more to "
                f"do until input or the server's next line, its main thread kept working "
                f"({evidence.cpu_s:.1f} s of CPU, where a waiting client uses none){at}: it "
                f"polls{polls} instead of waiting, and keeps a CPU busy for as long as the "
                "chat lasts. Wait for what you need: `await asyncio.wait(tasks, "
                "return_when=asyncio.FIRST_COMPLETED)`, or await the tasks themselves."
            )


async def _not_printed(client: _Script, peer: _Peer, line: bytes, evidence: _Evidence) -> str:
    """Why the server's ``line`` never reached the script's stdout, from the evidence."""
    sent = f"The server sent {line.decode()!r} ({len(line) + 1} bytes with its newline)"
    if not peer.connected.is_set():
        if evidence.verdict == READS_STDIN:
            return (
                f"The script never connected to the server: {_reading_stdin(evidence, client.path)}, "
                f"before it even connected. {INPUT_ADVICE}"
            )
        if evidence.verdict == EXITED:
            return f"The script never connected to the server. {client.describe_exit()}"
    if evidence.verdict == EXITED:
        return f"{sent}, but the script never printed it. {client.describe_exit()}"
    if evidence.verdict == READS_STDIN:
        unread = (
            f" while the server's {len(line) + 1}-byte line sits unread in its socket"
            if evidence.unread >= len(line) + 1
            else ""
        )
        return (
            f"{sent} and the script, its standard input open and empty, printed nothing: "
            f"{_reading_stdin(evidence, client.path)}{unread}. {INPUT_ADVICE}"
        )
    if evidence.verdict == SPINNING:
        return f"{sent} and the script printed nothing: {_spinning(evidence)}"
    if evidence.verdict == IDLE:
        unread = evidence.unread
        # Nothing will happen until its input ends: end it, and see what comes out.
        gone = await _input_ended_exit(client)
        if line in client.stdout:
            return (
                f"{sent} and the script, idle on its event loop, printed nothing; the line "
                "only appeared on its stdout when its input ended and it exited. It was "
                "written into stdout's buffer and never flushed: stdout into a pipe (not "
                "a terminal) is block-buffered. Flush after each line: "
                "`print(..., flush=True)` or `out.flush()`."
            )
        where = (
            f"the server's line sits unread in its socket ({unread} bytes)"
            if unread
            else "the line had been read from its socket (no byte of it was left there) and "
            "was not written to stdout, not even when its input ended"
        )
        ended = "" if gone is None else f" {client.describe_exit()}" if gone.verdict == EXITED else ""
        return (
            f"{sent} while the script, its standard input open and empty, sat idle on its "
            f"event loop: {where}.{ended} No task printed the server's lines while it waited "
            "for input. Print them in a task of their own, as they arrive (`await "
            "reader.readline()`, then write and flush), concurrently with the task that "
            "forwards input."
        )
    if evidence.verdict == SLEEPS:
        return (
            f"{sent} and the script printed nothing: its main thread is in `time.sleep`{_at(evidence)}, "
            "which blocks the event loop. Use `await asyncio.sleep(...)`."
        )
    return f"{sent} and the script had not printed it after {SCRIPT_BOUND_S:g}s ({_observed(evidence)})."


@pytest.mark.weight(2)
@pytest.mark.hint(3)
@pytest.mark.limit(2 * SCRIPT_BOUND_S + 10)
async def test_script_exits_zero_when_input_ends(ex_path):
    """as a script, exits with code 0 when its input ends"""
    async with _server() as (host, port, peer), _run_script(ex_path, host, port) as client:
        evidence = await client.watch(peer.connected.is_set, settled=lambda: False)
        if evidence is not None:
            if evidence.verdict == READS_STDIN:
                fail(
                    f"The script never connected to the server: {_reading_stdin(evidence, client.path)}. {INPUT_ADVICE}"
                )
            if evidence.verdict == EXITED:
                fail(f"The script never connected to the server. {client.describe_exit()}")
            fail(f"The script never connected to the server ({_observed(evidence)}).")
        # Two lines at once (pasted, or piped in): each must reach the server while the
        # input is still open.
        assert client.proc.stdin is not None
        client.proc.stdin.write(TOGETHER)
        evidence = await client.watch(lambda: bytes(peer.received) == TOGETHER)
        if evidence is not None and evidence.verdict == IDLE:
            client.stuck = True
            fail(
                f"Two lines arrived at once on the script's standard input ({TOGETHER!r}) "
                f"and its input stayed open; the server received {bytes(peer.received)!r} and "
                "the script then sat idle on its event loop, with input it had been given "
                "still unsent. Each line must reach the server as soon as it arrives, however many "
                "arrive together and whether or not the server answers: forward input in a "
                "task of its own, reading it through a StreamReader (`open_stdin()`, then "
                "`await stdin.readline()`), which hands out every line it has received."
            )
        evidence = await _input_ended_exit(client)
        if evidence is not None and evidence.verdict != EXITED:
            await client.kill()
            if evidence.verdict == SPINNING:
                fail(f"The script's standard input ended and it did not exit: {_spinning(evidence)}")
            detail = "it sat idle on its event loop" if evidence.verdict == IDLE else _observed(evidence)
            fail(
                f"The script's standard input ended, and it did not exit: {detail}. "
                "`await stdin.readline()` returns b'' at end of input: then stop, close the "
                "connection and return 0 (cancel the task that prints the server's lines)."
            )
        code = client.proc.returncode
        if code != 0:
            fail(
                f"When its input ended, the script did not exit with code 0. "
                f"{client.describe_exit()} End of input is the normal way to leave: "
                "close the connection and return 0 from chat()."
            )
        expect(
            await wait_event(peer.done, BOUND_S) and peer.eof,
            f"The script exited 0, but the server did not see a clean end of file "
            f"({peer.error!r}). Close the connection before returning: `writer.close()`, then "
            "`await writer.wait_closed()`.",
        )
        got = bytes(peer.received)
        if got != TOGETHER:
            fail(
                f"Two lines arrived at once on the script's standard input "
                f"({TOGETHER!r}), then its end; the server received {got!r}. Each line must "
                "reach the server, however many arrive together. Read standard input through "
                "a StreamReader (`open_stdin()`, then `await stdin.readline()` until b''), which "
                "hands out every line it has received."
            )


@pytest.mark.weight(1)
@pytest.mark.hint(3)
@pytest.mark.limit(2 * SCRIPT_BOUND_S + 10)
async def test_script_exits_zero_when_server_closes_first(ex_path):
    """as a script, exits with code 0 when the server closes first"""
    bye = b"server: closing, bye"

    async def script(writer: asyncio.StreamWriter, peer: _Peer) -> None:
        await _push(writer, bye + b"\n")

    async with _server(script, read=False) as (host, port, peer), _run_script(ex_path, host, port) as client:
        # Its standard input stays open and empty: only the server's close can end it.
        evidence = await client.watch(
            lambda: client.proc.returncode is not None and client.reading is not None and client.reading.done(),
            settled=peer.done.is_set,
        )
        if evidence is not None and evidence.verdict != EXITED:
            fail(await _not_exited(client, peer, evidence))
        code = client.proc.returncode
        if code != 0:
            fail(
                f"When the server closed first, the script did not exit with code 0. "
                f"{client.describe_exit()} A server hanging up is a normal end of "
                "the chat: close the connection and return 0 from chat()."
            )


async def _not_exited(client: _Script, peer: _Peer, evidence: _Evidence) -> str:
    head = (
        "The server sent its last line and closed the connection; the script, its standard "
        "input open and empty, did not exit:"
    )
    if not peer.connected.is_set():
        head = "The script never connected to the server, and did not exit:"
    if evidence.verdict == READS_STDIN:
        return f"{head} {_reading_stdin(evidence, client.path)}, so the loop never saw the server close. {INPUT_ADVICE}"
    if evidence.verdict == SPINNING:
        return f"{head} {_spinning(evidence)}"
    holds = [s for s in evidence.sockets if s.state != "LISTEN"]
    thread_reads = evidence.verdict == THREAD_READS_STDIN or (
        evidence.state is not None and any(client._reads_stdin(t, client._stdin_inode()) for t in evidence.state.others)
    )
    on_loop = "Read stdin on the loop instead: `stdin, transport = await open_stdin()` (close the transport when done)."
    if thread_reads and evidence.main_waits == "exit":
        daemon = "a daemon thread" if evidence.reader_daemon else "a thread"
        at = f" (at {evidence.reader_where})" if evidence.reader_where else ""
        return (
            f"{head} its code had run to the end, but {daemon} is still blocked reading "
            f"stdin{at}. A read blocked in a thread cannot be cancelled, and the "
            "interpreter cannot shut down while that thread holds stdin's lock: CPython "
            'waits one second for it, then aborts the process ("Fatal Python error: could '
            f'not acquire lock for <stdin> at interpreter shutdown"). {on_loop}'
        )
    if thread_reads and evidence.main_waits in ("executor", "threads"):
        who = (
            "`asyncio.run` waits at exit for its default executor's threads (`asyncio.to_thread`, "
            "`run_in_executor(None, ...)`)"
            if evidence.main_waits == "executor"
            else "Python waits at exit for every non-daemon thread"
        )
        await _input_ended_exit(client)
        after = (
            f" When its input was then closed, it ended badly. {client.describe_exit()}"
            if client.proc.returncode not in (None, 0)
            else ""
        )
        return (
            f"{head} {who}, and one of them is blocked reading stdin: a read blocked in a "
            "thread cannot be cancelled, so the script ends only when the user presses "
            f"Enter.{after} {on_loop}"
        )
    if thread_reads:
        # What happens once the user presses Enter (or input ends) is the rest of the story.
        await _input_ended_exit(client)
        after = (
            f" When its input was then closed, it ended badly. {client.describe_exit()}"
            if client.proc.returncode not in (None, 0)
            else ""
        )
        connection = "it had closed its connection, but " if not holds else ""
        return (
            f"{head} {connection}a thread other than the main one is blocked reading stdin "
            "(`input()` or `sys.stdin.readline()` in `asyncio.to_thread`, `run_in_executor` "
            "or a `threading.Thread`), and the process cannot end before that read returns, "
            "when the user presses Enter: a thread blocked in a read cannot be cancelled, "
            "`asyncio.run` waits for the executor's threads at exit, and the interpreter's "
            f"shutdown cannot take stdin's lock from a daemon thread.{after}"
            + (
                ""
                if after
                else " Read stdin on the loop instead: `stdin, transport = await open_stdin()` "
                "(close the transport when done)."
            )
        )
    if evidence.verdict == IDLE:
        waiting = (
            " (its socket is in CLOSE_WAIT: the end of file arrived and nothing acted on it)"
            if any(s.state == "CLOSE_WAIT" for s in holds)
            else ""
        )
        return (
            f"{head} it sat idle on its event loop{waiting}. When the server closes, "
            "`reader.readline()` returns b'': the chat is over even though input is still "
            "open. Wait for whichever task ends first (`asyncio.wait(..., "
            "return_when=FIRST_COMPLETED)`), cancel the other, close and return 0."
        )
    return f"{head} after {SCRIPT_BOUND_S:g}s {_observed(evidence)}."


@pytest.mark.weight(2)
@pytest.mark.hint(2)
@pytest.mark.virtual_time
@pytest.mark.split
async def test_sends_newline_terminated_lines(ex, monkeypatch):
    """sends every input line newline-terminated, then closes"""
    closes = watch_closing(monkeypatch)
    stdin = await _stdin()
    long_line = "a long line " + "x" * 1500  # longer than a typical read's chunk
    lines = ["hello", "  an indented line, with spaces", "", "trailing spaces   ", "h\u00e9llo w\u00f6rld",
             long_line, "no newline at the end"]  # fmt: skip
    await here.ask("feed", stdin, "\n".join(lines).encode())
    await here.ask("feed_eof", stdin)
    expected = "".join(line + "\n" for line in lines).encode()
    returned = asyncio.Event()

    async def keep_open(writer: asyncio.StreamWriter, peer: _Peer) -> None:
        # Like a chat server with more to say, this one does not hang up when the
        # client's input ends: it keeps its end open until chat() has returned.
        await returned.wait()

    async with _server(keep_open) as (host, port, peer):
        started = asyncio.get_running_loop().time()
        try:
            result = await call_learner(
                f"chat() with {len(lines)} input lines, then end of input",
                ex.chat(host, port, stdin=stdin, out=await _out(_Screen())),
                BOUND_S,
            )
        except pytest.fail.Exception as exc:
            detail = (
                " The server saw your end of file and kept its end open, as a chat server may:"
                " chat() waited for it to hang up."
                " Half-closing (`write_eof()`) and waiting for the server to close first "
                "hangs against a server that does not."
                if peer.eof_at is not None and peer.eof_at < started + BOUND_S
                else ""
            )
            fail(
                f"{exc.msg}{detail} At end of input the chat is over: close the connection "
                "yourself (`writer.close()`, `await writer.wait_closed()`) and return 0."
            )
        finally:
            returned.set()
        exact(result, 0, "chat() at end of input returned")
        server_done = await wait_event(peer.done, BOUND_S)
    got = bytes(peer.received)
    if got != expected and long_line.encode() not in got and long_line.encode() in got.replace(b"\n", b""):
        fail(
            f"A {len(long_line):,}-byte input line reached the server cut into pieces, each "
            "ended with b'\\n': the input was read in fixed-size chunks and each chunk sent as "
            "a line. Read it line by line (`await stdin.readline()`), whatever its length."
        )
    if got != expected:
        before_blank = "".join(line + "\n" for line in lines[: lines.index("")]).encode()
        if got == before_blank:
            fail(
                f"The server received {got!r} and then your end of file: the chat stopped at "
                "the empty input line. An empty line is a line too (readline() returns "
                "b'\\n'); only b'' means the input has ended. Forward it, and stop only on b''."
            )
        if got == expected.replace(b"\n\n", b"\n"):
            fail(
                f"The server received {got!r}: the empty input line was not forwarded. "
                "An empty line is a line too: send it (b'\\n') like any other."
            )
        if got == b"".join(line.rstrip() + b"\n" for line in expected.splitlines()):
            fail(
                f"The server received {got!r}: the spaces at the end of a line were "
                "stripped. Forward each line as it was typed; only add b'\\n' when it is missing."
            )
        if got.replace(b"\n", b"") == expected.replace(b"\n", b""):
            fail(
                f"The server received {got!r}: the text is right but the line ends are not "
                f"({expected!r} was expected). A server reading lines needs each one "
                "terminated by b'\\n' (`input()` strips it; a last line may lack one): add it "
                "when it is missing."
            )
        fail(
            f"The server received {got!r}, expected {expected!r}: forward every line read "
            "from `stdin` as it is (no `strip()`), in order, each ending with b'\\n'."
        )
    expect(
        server_done and peer.eof and peer.error is None,
        f"The server did not see a clean end of file after the last line ({peer.error!r}): "
        "at end of input, close the connection (`writer.close()`, `await writer.wait_closed()`).",
    )
    mine = closes.of(peer.peername)
    expect(
        mine is None or not mine.closed or mine.waited,
        "chat() called `writer.close()` but returned without `await writer.wait_closed()`. "
        "close() only starts closing (the buffer is flushed, then the socket closed); "
        "wait_closed() waits until that has happened, so chat() returns with the connection "
        "really closed.",
    )


@pytest.mark.weight(2)
@pytest.mark.hint(1)
@pytest.mark.virtual_time
@pytest.mark.split
async def test_never_blocks_the_loop(ex, no_blocking, monkeypatch):
    """never blocks the event loop while chatting"""
    stdin = await _stdin()
    screen = _Screen()
    stray = _Screen()  # the process's own stdout, for lines written there instead of `out`
    monkeypatch.setattr(sys, "stdout", stray)
    news = b"server: news while you think"

    async def script(writer: asyncio.StreamWriter, peer: _Peer) -> None:
        await _push(writer, news + b"\n")

    async with _server(script) as (host, port, peer):
        task = asyncio.ensure_future(ex.chat(host, port, stdin=stdin, out=await _out(screen)))
        try:
            shown = asyncio.ensure_future(screen.wait_for(news.decode(), BOUND_S))
            await asyncio.wait({shown, task}, return_when=asyncio.FIRST_COMPLETED)
            if not shown.done() or not shown.result():
                await _stop(shown)
                if task.done() and not task.cancelled() and task.exception() is not None:
                    await task  # what it raised, and where, explains more than we can
                if news.decode() in stray.getvalue():
                    fail(
                        f"The server sent {news.decode()!r} and chat() wrote it to the "
                        "process's standard output (`sys.stdout`), not to the `out` it was "
                        "given. Write every line to `out`: `out.write(...)` (or "
                        "`print(..., file=out)`), with `out = sys.stdout` only when none is given."
                    )
                fail(
                    f"The server sent {news.decode()!r} while no input came, and after "
                    f"{BOUND_S:g}s it had not been written to `out`"
                    + (" (chat() had already returned)" if task.done() else "")
                    + ". Read the server's lines in a task of its own, concurrently with "
                    "reading input, and write each to `out` as it arrives."
                )
            if task.done() and not task.cancelled() and task.exception() is not None:
                await task  # what it raised, and where, is the explanation
            expect(
                not task.done(),
                f"chat() returned {task.result() if task.done() and not task.cancelled() else None!r} "
                "while its input was still open and the server still connected: the chat "
                "ends when input ends or the server closes.",
            )
            await here.ask("feed", stdin, b"ping\n")
            delivered = await wait_event(peer.got_data, BOUND_S)
            expect(
                delivered,
                f"An input line was fed to `stdin` and the server had not received it "
                f"after {BOUND_S:g}s. Forward each line read with `await stdin.readline()`.",
            )
            await here.ask("feed_eof", stdin)
            result = await call_learner("chat() after end of input", task, BOUND_S)
            exact(result, 0, "chat() at end of input returned")
        finally:
            await _stop(task)


@pytest.mark.weight(1)
@pytest.mark.hint(3)
@pytest.mark.virtual_time
@pytest.mark.split
async def test_returns_zero_when_server_closes_first(ex):
    """returns 0 when the server closes first"""
    stdin = await _stdin()  # input stays open: no end of file ever comes
    screen = _Screen()

    async def script(writer: asyncio.StreamWriter, peer: _Peer) -> None:
        await _push(writer, b"server: hello\nserver: bye\n")

    before = set(asyncio.all_tasks())
    async with _server(script, read=False) as (host, port, _peer):
        try:
            result = await call_learner(
                "chat() after the server closed (input still open)",
                ex.chat(host, port, stdin=stdin, out=await _out(screen)),
                BOUND_S,
            )
        except pytest.fail.Exception as exc:
            fail(
                f"{exc.msg} When the server closes, `reader.readline()` returns b'': the chat "
                "is over even though input is still open. Wait for whichever task ends first "
                "(`asyncio.wait(..., return_when=FIRST_COMPLETED)`), then cancel the other."
            )
        await probes.settle()  # tasks that are just finishing get to finish
        stacks = _pending_stacks(before)
    exact(result, 0, "chat() after the server closed returned")
    if stacks:
        fail(
            f"chat() returned 0 while {len(stacks)} task(s) it started were still pending "
            f"({'; '.join(stacks[:2])}). When one side of the chat ends, cancel the other "
            "task and await it (`task.cancel()`, then `await asyncio.gather(task, "
            "return_exceptions=True)`): a task left pending is still waiting when chat() "
            "has returned, and is destroyed unfinished when the loop closes."
        )
    shown = screen.getvalue()
    expect(
        "server: bye" in shown,
        "The server's last line ('server: bye') was not written to `out` before chat() returned.",
    )
    sent = "server: hello\nserver: bye\n"
    if shown != sent:
        doubled = shown.replace("\n\n", "\n") == sent
        extra = (
            " Each line already ends with its newline: `print(line)` adds a second one; write "
            "it as it is (`out.write(line.decode())`, or `print(..., end='')`)."
            if doubled
            else ""
        )
        fail(
            f"The server sent {sent!r}; `out` shows {shown!r}. "
            f"Write each line as the server sent it, once, and nothing else.{extra}"
        )
