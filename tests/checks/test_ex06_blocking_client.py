"""Checks for ex06 blocking_client: fix the tutorial's chat client.

Three checks run the learner's file as a script (``python ex06_blocking_client.py HOST
PORT``) in a subprocess whose standard input the check holds open: that is the only
honest way to see ``input()`` freeze the loop, a missing ``flush()`` leave a line
stuck in stdout's buffer, and a thread blocked reading stdin keep the process from
exiting after the server hung up. The others call ``chat()`` in-process with a StreamReader
for stdin (fed by the check) and a recording text stream for ``out``. Everything is
ordered by events (the server pushed, the check waits for that line); the bounds are
generous and only end a check that would otherwise hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from grader.probes import call_learner, exact, expect, fail, loopback_server

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


@dataclass
class _Peer:
    """What the check-side server saw on its (single) connection."""

    connected: asyncio.Event = field(default_factory=asyncio.Event)
    received: bytearray = field(default_factory=bytearray)
    got_data: asyncio.Event = field(default_factory=asyncio.Event)
    eof: bool = False
    error: BaseException | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


Script = Callable[[asyncio.StreamWriter, _Peer], Awaitable[None]]


@contextlib.asynccontextmanager
async def _server(script: Script | None = None, *, read: bool = True) -> AsyncIterator[tuple[str, int, _Peer]]:
    """A chat peer: runs ``script`` (pushes lines) while recording all it receives until
    end of file; yields ``(host, port, peer)``."""
    peer = _Peer()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer.connected.set()
        try:
            pushing = asyncio.ensure_future(script(writer, peer) if script else asyncio.sleep(0))
            try:
                while read and (data := await reader.read(4096)):
                    peer.received += data
                    peer.got_data.set()
                peer.eof = read
                await pushing
            finally:
                pushing.cancel()
                with contextlib.suppress(BaseException):
                    await pushing
        except (ConnectionError, OSError) as exc:
            peer.error = exc
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            peer.done.set()

    async with loopback_server(handler) as (host, port):
        yield host, port, peer


async def _push(writer: asyncio.StreamWriter, line: bytes) -> None:
    writer.write(line)
    await writer.drain()


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


async def _wait(event: asyncio.Event, timeout: float) -> bool:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        return False
    return True


async def _stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(task, 1.0)


# --- the script in a subprocess ---------------------------------------------------------


@dataclass
class _Script:
    proc: asyncio.subprocess.Process
    stderr: IO[bytes]  # a file, not a pipe: a chatty script can never block on it
    stdout: bytearray = field(default_factory=bytearray)

    async def wait_output(self, text: bytes, timeout: float) -> bool:
        """Read the script's stdout until ``text`` shows up, it closes, or ``timeout``."""
        assert self.proc.stdout is not None

        async def scan() -> bool:
            assert self.proc.stdout is not None
            while text not in self.stdout:
                chunk = await self.proc.stdout.read(4096)
                if not chunk:
                    return False
                self.stdout += chunk
            return True

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            return False

    async def wait_exit(self, timeout: float) -> int | None:
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            return None

    async def stderr_tail(self) -> str:
        """The last lines of stderr (kills the script first if it still runs)."""
        await self.kill()
        self.stderr.seek(0)
        data = self.stderr.read()[-4000:]
        lines = data.decode(errors="replace").strip().splitlines()
        return " | ".join(lines[-3:])

    async def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()

    def describe_exit(self, stderr: str) -> str:
        code = self.proc.returncode
        said = f" Its stderr ended with: {stderr}" if stderr else ""
        return f"The script exited with code {code}.{said}"


@contextlib.asynccontextmanager
async def _run_script(ex_path: Path, host: str, port: int) -> AsyncIterator[_Script]:
    """``python ex06_blocking_client.py HOST PORT`` with stdin, stdout and stderr piped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    with tempfile.TemporaryFile() as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ex_path), host, str(port),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            cwd=str(ex_path.parent),
            env=env,
        )  # fmt: skip
        script = _Script(proc, stderr)
        try:
            yield script
        finally:
            await _end_script(script)


async def _end_script(script: _Script) -> None:
    """Close its input, give it a moment to leave, kill it otherwise; close the pipes."""
    proc = script.proc
    if proc.stdin is not None and not proc.stdin.is_closing():
        proc.stdin.close()
    if await script.wait_exit(2.0) is None:
        await script.kill()
    if proc.stdout is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.stdout.read(), 1.0)
    if proc.stdin is not None:
        with contextlib.suppress(Exception):
            await proc.stdin.wait_closed()


@pytest.mark.weight(3)
@pytest.mark.limit(2 * SCRIPT_BOUND_S + 10)
async def test_prints_server_lines_while_waiting_for_input(ex_path):
    """as a script, prints the server's lines while waiting for input"""
    first, second = b"server: welcome to the chat", b"server: a second line, later"
    push_second = asyncio.Event()

    async def script(writer: asyncio.StreamWriter, peer: _Peer) -> None:
        await _push(writer, first + b"\n")
        await push_second.wait()
        await _push(writer, second + b"\n")

    async with _server(script) as (host, port, peer), _run_script(ex_path, host, port) as client:
        for line in (first, second):
            if not await client.wait_output(line, SCRIPT_BOUND_S):
                exited = await client.wait_exit(1.0) is not None
                stderr = await client.stderr_tail()
                if exited:
                    fail(
                        f"The server sent {line.decode()!r}, but the script never printed it. "
                        f"{client.describe_exit(stderr)}"
                    )
                connected = "" if peer.connected.is_set() else " (it never even connected)"
                fail(
                    f"The server sent {line.decode()!r} and the script, its standard input open "
                    f"and empty, had not printed it after {SCRIPT_BOUND_S:g}s{connected}. "
                    f"{INPUT_ADVICE} If you do print it, flush: stdout into a pipe is "
                    "block-buffered (`print(..., flush=True)` or `out.flush()`)."
                )
            push_second.set()


@pytest.mark.weight(2)
@pytest.mark.limit(2 * SCRIPT_BOUND_S + 10)
async def test_script_exits_zero_when_input_ends(ex_path):
    """as a script, exits with code 0 when its input ends"""
    async with _server() as (host, port, peer), _run_script(ex_path, host, port) as client:
        connected = asyncio.ensure_future(peer.connected.wait())
        exited = asyncio.ensure_future(client.proc.wait())
        try:
            await asyncio.wait({connected, exited}, timeout=SCRIPT_BOUND_S, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await _stop(connected)
            await _stop(exited)
        if not peer.connected.is_set():
            stderr = await client.stderr_tail()
            fail(f"The script never connected to the server. {client.describe_exit(stderr)}")
        assert client.proc.stdin is not None
        client.proc.stdin.close()  # end of input
        code = await client.wait_exit(SCRIPT_BOUND_S)
        if code is None:
            await client.kill()
            fail(
                f"The script's standard input ended, and {SCRIPT_BOUND_S:g}s later it was still "
                "running. `await stdin.readline()` returns b'' at end of input: then stop, "
                "close the connection and return 0 (cancel the task that prints the server's lines)."
            )
        if code != 0:
            stderr = await client.stderr_tail()
            fail(
                f"When its input ended, the script did not exit with code 0. "
                f"{client.describe_exit(stderr)} End of input is the normal way to leave: "
                "close the connection and return 0 from chat()."
            )
        expect(
            await _wait(peer.done, BOUND_S) and peer.eof,
            f"The script exited 0, but the server did not see a clean end of file "
            f"({peer.error!r}). Close the connection before returning: `writer.close()`, then "
            "`await writer.wait_closed()`.",
        )


@pytest.mark.weight(1)
@pytest.mark.limit(2 * SCRIPT_BOUND_S + 10)
async def test_script_exits_zero_when_server_closes_first(ex_path):
    """as a script, exits with code 0 when the server closes first"""
    bye = b"server: closing, bye"

    async def script(writer: asyncio.StreamWriter, peer: _Peer) -> None:
        await _push(writer, bye + b"\n")

    async with _server(script, read=False) as (host, port, peer), _run_script(ex_path, host, port) as client:
        # Its standard input stays open and empty: only the server's close can end it.
        code = await client.wait_exit(SCRIPT_BOUND_S)
        if code is None:
            printed = bye in client.stdout or await client.wait_output(bye, 0.5)
            await client.kill()
            connected = "" if peer.connected.is_set() else " (it never even connected)"
            fail(
                f"The server sent {bye.decode()!r} and closed the connection; "
                f"{SCRIPT_BOUND_S:g}s later the script, its standard input open and empty, "
                f"was still running{connected}"
                + (" although it had printed the line" if printed else "")
                + ". If chat() returned, something kept the process alive: a thread blocked "
                "in `input()` or `sys.stdin.readline()` (`run_in_executor`, `asyncio.to_thread`) "
                "cannot be cancelled, and `asyncio.run` waits for the default executor's "
                "threads at exit, until the user presses Enter. Read stdin on the loop "
                "instead: `stdin, transport = await open_stdin()` (close the transport when "
                "done). Otherwise: when `reader.readline()` returns b'', stop waiting for "
                "input, close the connection and return 0."
            )
        if code != 0:
            stderr = await client.stderr_tail()
            fail(
                f"When the server closed first, the script did not exit with code 0. "
                f"{client.describe_exit(stderr)} A server hanging up is a normal end of "
                "the chat: close the connection and return 0 from chat()."
            )


@pytest.mark.weight(2)
async def test_sends_newline_terminated_lines(ex):
    """sends every input line newline-terminated, then closes"""
    stdin = asyncio.StreamReader()
    lines = ["hello", "  an indented line, with spaces", "h\u00e9llo w\u00f6rld", "no newline at the end"]
    stdin.feed_data("\n".join(lines).encode())
    stdin.feed_eof()
    expected = "".join(line + "\n" for line in lines).encode()
    returned = asyncio.Event()

    async def keep_open(writer: asyncio.StreamWriter, peer: _Peer) -> None:
        # Like a chat server with more to say, this one does not hang up when the
        # client's input ends: it keeps its end open until chat() has returned.
        await returned.wait()

    async with _server(keep_open) as (host, port, peer):
        try:
            result = await call_learner(
                f"chat() with {len(lines)} input lines, then end of input",
                ex.chat(host, port, stdin=stdin, out=_Screen()),
                BOUND_S,
            )
        except pytest.fail.Exception as exc:
            detail = (
                " The server saw your end of file and kept its end open, as a chat server may:"
                " chat() waited for it to hang up."
                if peer.eof
                else ""
            )
            fail(
                f"{exc.msg}{detail} At end of input the chat is over: close the connection "
                "yourself (`writer.close()`, `await writer.wait_closed()`) and return 0. "
                "Half-closing (`write_eof()`) and waiting for the server to close first "
                "hangs against a server that does not."
            )
        finally:
            returned.set()
        exact(result, 0, "chat() at end of input returned")
        server_done = await _wait(peer.done, BOUND_S)
    got = bytes(peer.received)
    if got != expected:
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


@pytest.mark.weight(2)
async def test_never_blocks_the_loop(ex, no_blocking):
    """never blocks the event loop while chatting"""
    stdin = asyncio.StreamReader()
    screen = _Screen()
    news = b"server: news while you think"

    async def script(writer: asyncio.StreamWriter, peer: _Peer) -> None:
        await _push(writer, news + b"\n")

    async with _server(script) as (host, port, peer):
        task = asyncio.ensure_future(ex.chat(host, port, stdin=stdin, out=screen))
        try:
            shown = asyncio.ensure_future(screen.wait_for(news.decode(), BOUND_S))
            await asyncio.wait({shown, task}, return_when=asyncio.FIRST_COMPLETED)
            if not shown.done() or not shown.result():
                await _stop(shown)
                if task.done() and not task.cancelled() and task.exception() is not None:
                    await task  # its error explains more than we can
                fail(
                    f"The server sent {news.decode()!r} while no input came, and after "
                    f"{BOUND_S:g}s it had not been written to `out`"
                    + (" (chat() had already returned)" if task.done() else "")
                    + ". Read the server's lines in a task of its own, concurrently with "
                    "reading input, and write each to `out` as it arrives."
                )
            expect(not task.done(), "chat() returned while its input was still open and the server connected.")
            stdin.feed_data(b"ping\n")
            delivered = await _wait(peer.got_data, BOUND_S)
            expect(
                delivered,
                f"An input line was fed to `stdin` and the server had not received it "
                f"after {BOUND_S:g}s. Forward each line read with `await stdin.readline()`.",
            )
            stdin.feed_eof()
            result = await call_learner("chat() after end of input", task, BOUND_S)
            exact(result, 0, "chat() at end of input returned")
        finally:
            await _stop(task)


@pytest.mark.weight(1)
async def test_returns_zero_when_server_closes_first(ex):
    """returns 0 when the server closes first"""
    stdin = asyncio.StreamReader()  # input stays open: no end of file ever comes
    screen = _Screen()

    async def script(writer: asyncio.StreamWriter, peer: _Peer) -> None:
        await _push(writer, b"server: bye\n")

    async with _server(script, read=False) as (host, port, _peer):
        try:
            result = await call_learner(
                "chat() after the server closed (input still open)",
                ex.chat(host, port, stdin=stdin, out=screen),
                BOUND_S,
            )
        except pytest.fail.Exception as exc:
            fail(
                f"{exc.msg} When the server closes, `reader.readline()` returns b'': the chat "
                "is over even though input is still open. Wait for whichever task ends first "
                "(`asyncio.wait(..., return_when=FIRST_COMPLETED)`), then cancel the other."
            )
    exact(result, 0, "chat() after the server closed returned")
    expect(
        "server: bye" in screen.getvalue(),
        "The server's last line ('server: bye') was not written to `out` before chat() returned.",
    )
