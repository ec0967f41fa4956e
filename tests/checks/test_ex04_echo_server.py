"""Checks for ex04 echo_server: the seed tutorial's echo server, done right.

The learner's code runs in a worker process (split checks); the checks talk to it over
loopback, so what a client sends and receives, and when, is observed here, where the
learner's code cannot reach. Two ways in. ``handle_echo`` is mounted on a server of the
worker's (``probes.serve_handler``), which also reports the server end of the connection
(its account, used to explain what the client saw): whether the handler returned or
raised, the transport's write buffer and reading state, whether it waits in ``drain()``
or ``wait_closed()`` (the instance's methods are wrapped; the writer stays a real
StreamWriter). ``start_server`` is judged from outside only, so a server built on
``asyncio.Protocol`` and ``loop.create_server`` passes as well as one built on streams.

Everything is decided by ordering and counting: a piece must come back before the next
is sent (a handler waiting for a newline or for more data never echoes it); flow control
is "the handler is inside ``drain()`` with the transport paused and the server has
stopped reading" versus "megabytes piled up in the write buffer" or "the server took all
16 MiB" (small socket buffers, reader limit and high-water marks make the difference
show after a few hundred KiB); many clients is "100 clients, all connected, each got its
echo" — a one-at-a-time server can serve only the first. Waits are bounded on progress
(no bytes for a few seconds), so a slow but correct echo is never failed for being slow,
and only "never happens" becomes a failure. Each long check observes, names a verdict,
then fails with that verdict's lesson (``LESSONS``).

Two CPython bugs in ``writelines`` are neutralised for every check by the grader's
plugin (``grader.plugin._documented_writelines``), so a learner is never graded on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from grader import explain, probes
from grader.probes import (
    Client,
    Flood,
    call_learner,
    docs,
    exchange,
    expect,
    fail,
    first_difference,
    here,
    learner_waiting,
    logged_error,
    open_client,
    open_clients,
    read_while_progress,
    receive,
    serve_handler,
    set_socket_buffers,
    settle,
    show_bytes,
    wait_event,
)

STREAMS = "library/asyncio-stream"
#: Flow-control check: socket buffers (see ``probes.set_socket_buffers``), the server's
#: StreamReader limit (it stops reading at twice that) and both transports' high-water
#: marks. Small, so a correct handler is paused after a few hundred KiB and even an echo
#: that reads one byte at a time gets through the rest of the check quickly.
SMALL_BUF = 32 * 1024
SMALL_LIMIT = 16 * 1024
#: Small too because, from 3.12, a transport sums its buffered chunks on every write: an
#: echo that writes one byte at a time is quadratic in the number of chunks buffered.
HIGH_WATER = 1024
#: A correct handler's write buffer stays below its high-water mark plus one read (at most
#: a few hundred KiB, whatever size it reads); one that never waits buffers megabytes.
OVERFLOW = 2 * 1024 * 1024
#: What the client sends without reading in the flow-control check.
FLOOD = 16 * 1024 * 1024
FLOOD_CHUNK = 8 * 1024  # each ends in a newline: a line shorter than SMALL_LIMIT
#: Seconds without progress after which a wait for something a correct server does in
#: milliseconds fails (waits are on progress: a slow echo is not a stuck one).
PROMPT_S = 3.0
#: Loop seconds a client stays silent in the middle of a session (a user thinking).
QUIET_CLIENT_S = 600.0
#: The same, for the flood: how long it may make no progress at all.
STALL_S = 10.0
#: Bytes the flood sends between two looks at the server end (each asks the worker).
LOOK_EVERY = 256 * 1024
#: Clients connected at once in the many-clients check.
CLIENTS = 100
#: The half-close check's last piece: more than the two sockets hold while the client's
#: transport does not read (128 KiB with SMALL_BUF), so the rest of its echo waits in the
#: server's write buffer (LATE_HIGH_WATER: the handler is never paused). Not much more:
#: from 3.12 an echo that writes one byte at a time is quadratic in the chunks buffered.
LAST = 160 * 1024
LATE_HIGH_WATER = 4 * LAST

pytestmark = [pytest.mark.virtual_time, pytest.mark.usefixtures("no_blocking"), pytest.mark.split]

#: How a server stops reading from a client that does not read.
FLOW_HOW = (
    " With streams: serve with handle_echo, which awaits `writer.drain()` after each write; "
    "with a Protocol: `pause_reading()` in `pause_writing()`, `resume_reading()` in "
    "`resume_writing()`."
)

#: What each verdict teaches; the checks fill in what they observed.
LESSONS = {
    # an echo of one piece
    "changed": (
        "Sent {what} ({size}); the echo differs from byte {at}: sent {sent}, got back {got}. "
        "An echo server sends back exactly the bytes it received. Decoding and re-encoding "
        "changes or breaks bytes that are not valid UTF-8 on their own (a character split "
        "between two reads, binary data): write back `data` itself."
    ),
    "closed early": "Sent {what} ({size}); got {n} bytes back, then the connection was closed. {why}",
    "stalled": (
        "Sent {what} ({size}) and got {n} of them back, then nothing for {PROMPT_S:g}s while "
        "the connection stayed open ({where}). An echo server writes back what it has as soon "
        "as it has it. `reader.readline()`, `async for line in reader` (it reads lines) and "
        "`readexactly(n)` wait for more data; `reader.read()` with no size waits for end of "
        "file. Use `data = await reader.read(n)`: it returns whatever has arrived, at most n "
        "bytes."
    ),
    "held back": (
        "Sent {what} ({size}) and got {n} of them back, then nothing for {PROMPT_S:g}s while "
        "the connection stayed open. handle_echo had taken every byte that arrived from its "
        "reader, had nothing waiting to be sent, and was reading again ({where}): the rest "
        "of what it read was never written back. An echo server writes back each chunk as "
        "soon as it has read it, not once a newline or more data has arrived: "
        "`writer.write(data)` right after each `data = await reader.read(n)`."
    ),
    # the flood
    "overflow": (
        "No flow control: {state}, and growing. `writer.write()` never waits, it only appends "
        "to a buffer in memory; a client that does not read makes that buffer grow without "
        "limit. After each write, `await writer.drain()`: it pauses the handler while the "
        "buffer is above its high-water mark (and the handler stops reading meanwhile). "
    )
    + docs(STREAMS, "asyncio.StreamWriter.drain"),
    "took everything": (
        "The client sent all {FLOOD:,} bytes, and the server took them all "
        "({state}). It kept reading while it could not write back, so the data piled up in the "
        "handler's memory instead (reading to end of file, or queueing chunks for another "
        "task). Read, write, `await writer.drain()`, in one loop: while drain waits, nothing "
        "is read, and TCP slows the client down."
    ),
    "handler ended": "The connection closed while the client was still sending ({state}). {why}",
    "stuck": (
        "For {STALL_S:g}s nothing moved, and the echo was neither paused in drain nor buffering "
        "({state}; in drain: {in_drain}; still reading: {reading}; {where})."
    ),
    "no resume": (
        "The handler paused correctly, but once the client started reading, only {n:,} of the "
        "{sent:,} bytes it had sent came back, then nothing for {STALL_S:g}s ({where}). After "
        "`drain()` returns, go on reading and writing."
    ),
    "gave up": (
        "The handler paused in drain() as it should, but while the client went on not "
        "reading (nothing else happened: only loop time passed), handle_echo closed the "
        "connection within {after:g}s ({where}). A client that reads slowly is still a client: "
        "TCP already slows it down, and the contract is to serve it until it half-closes. No "
        "timeout around `drain()` (or anything else in the handler)."
    ),
    "resumed changed": (
        "The {sent:,} bytes came back changed (first difference at byte {at:,}). Write back "
        "exactly the bytes you read, in order."
    ),
    # the half-close
    "cannot half-close": "The client could not send its last piece and half-close. {why}",
    "wait_closed before close": (
        "After the client half-closed, handle_echo awaited `writer.wait_closed()` without "
        "calling `writer.close()` first, so it waits forever ({where}): wait_closed() only "
        "waits for a close that has been started, it does not start one. Call "
        "`writer.close()`, then `await writer.wait_closed()`. "
    )
    + docs(STREAMS, "asyncio.StreamWriter.wait_closed"),
    "wait_closed hangs": (
        "After the client half-closed, handle_echo called writer.close() but `await "
        "writer.wait_closed()` never finished: the transport could not flush what was written "
        "({where}). Is something still written after the client stopped reading, or written "
        "after close()?"
    ),
    "no end of file": (
        "The client sent its last piece and half-closed (write_eof), read what came back, "
        "then waited {PROMPT_S:g}s for end of file; the connection stayed open ({where}). "
        "When `await reader.read(n)` returns b'' the client has finished sending: leave the "
        "loop and close the connection."
    ),
    "reset": "After its half-close the client's connection was reset ({exc}) instead of closed. {why}",
    "no return": "The client got end of file, but handle_echo did not return ({where}). After closing, return.",
    "raised": "{why}",
    "rest lost": (
        "The client sent its last {size:,} bytes, half-closed, and read the echo only later; it "
        "received {n:,} of them before end of file{differs}: echo everything that arrived "
        "before end of file, then close."
    ),
    "aborted": (
        "The client sent its last {size:,} bytes, half-closed, and read the echo only later; it "
        "received {n:,} of them, then end of file. handle_echo ended the connection with "
        "`transport.abort()` while {buffered:,} bytes of the echo were still in its write "
        "buffer: abort() throws them away. `writer.close()` sends what is buffered, then "
        "closes; `await writer.wait_closed()` waits until it has. "
    )
    + docs(STREAMS, "asyncio.StreamWriter.close"),
    "not closed": (
        "handle_echo returned without closing the connection, so the client, which had "
        "half-closed, never got end of file: a real server would keep such a socket open "
        "forever (one leaked connection per client). End with `writer.close()` and `await "
        "writer.wait_closed()`, in a finally block. "
    )
    + docs(STREAMS, "asyncio.StreamWriter.close"),
    "close not awaited": (
        "handle_echo called writer.close() but did not `await writer.wait_closed()`. close() "
        "only starts closing (the buffer is flushed, then the socket closed); wait_closed() "
        "waits until that has happened, so the handler returns with the connection really "
        "closed. "
    )
    + docs(STREAMS, "asyncio.StreamWriter.wait_closed"),
    # cancelled
    "not closed when cancelled": (
        "handle_echo was cancelled while it waited for data (what happens to it when the "
        "program shuts the server down) and ended without closing its connection. "
        "Close in a `finally:` block: it runs on every path out of the handler, cancellation "
        "included (CancelledError is not an Exception: `except Exception` does not see it). "
    )
    + docs(STREAMS, "asyncio.StreamWriter.close"),
    "kept running when cancelled": (
        "handle_echo was cancelled while it waited for data (what happens to it when the "
        "program shuts the server down) and was still running {PROMPT_S:g}s later ({where}). "
        "Let CancelledError through: close in a `finally:` block, and do not swallow it."
    ),
    # start_server, from outside
    "outside overflow": (
        "A client of the server start_server() returned sent data and read little or none "
        "of the echo, and the server went on taking it: it held more than {OVERFLOW:,} bytes of "
        "that client's data, read and not written back (it never stopped reading from that "
        "client, so the echo piled up in its memory). While a client does not read, the server must "
        "stop reading from it." + FLOW_HOW
    ),
    "outside took everything": (
        "A client of the server start_server() returned sent all {FLOOD:,} bytes and read "
        "little or none of the echo, and the server took them all: nothing slowed that client "
        "down. While a client does not read, the server must stop reading from it." + FLOW_HOW
    ),
    "outside closed": (
        "A client of the server start_server() returned sent data without reading the echo, "
        "and the connection was closed under it. A client that reads slowly is still a "
        "client: stop reading from it (flow control) and wait."
    ),
    # many clients at once
    "mixed up": (
        "Client {i} sent {sent!r} and got {got!r}: each connection must get its own echo (keep "
        "per-connection state in the handler's local variables, not in globals)."
    ),
    "none, raised": "None of the {CLIENTS} clients got its echo. {why}",
    "none, closed": (
        "None of the {CLIENTS} clients got its echo: the server closed every connection without writing anything back."
    ),
    "none, silent": (
        "None of the {CLIENTS} clients got its echo (b'hello from client ...\\n') while connected "
        "({silent} connections stayed open, silent): the server did not write back what arrived "
        "(waiting for end of file or for more data?). The other checks show where."
    ),
    "one at a time": (
        "Only {n} of {CLIENTS} clients got their echo while all {CLIENTS} were connected. The "
        "server serves one client at a time: a lock, a shared flag or a loop around the handler "
        "makes every other client wait until the current one disconnects. "
        "asyncio.start_server already runs one handle_echo task per connection; let them run "
        "side by side."
    ),
    "blocked by one": (
        "All {CLIENTS} clients got their first echo. Then one more client sent data without "
        "reading the echo, until the server stopped taking it (its sending stalled), and of "
        "the next message of the {CLIENTS} others only {n} came back within {wait:g}s: one "
        "client that does not read held up the others. Each handler may wait in `drain()` "
        "for its own client only: nothing shared between connections (a lock, a global "
        "queue) may be held while it waits."
    ),
}


def _lesson(verdict: str, **observed: Any) -> str:
    return LESSONS[verdict].format(
        PROMPT_S=PROMPT_S, STALL_S=STALL_S, FLOOD=FLOOD, CLIENTS=CLIENTS, OVERFLOW=OVERFLOW, **observed
    )


# --- what the learner's handler did ----------------------------------------------------


def _where(conn: Any) -> str:
    """Where the learner's handler is waiting, from the task stacks."""
    if conn is not None and conn.done.is_set():
        return "it had already returned"
    at = learner_waiting("handle_echo")
    return f"it was waiting: {at}" if at else ""


def _handler_error(conn: Any) -> str:
    """What the learner's handler raised: seen by the check-side server (``conn``), or
    logged by the loop when the learner's own server ran it."""
    exc = conn.error if conn is not None else logged_error()
    if exc is None:
        return ""
    if type(exc).__name__ == "BlockingError":  # the no_blocking fixture stopped a blocking call
        return "handle_echo: " + explain.unexpected_exception(exc, exc.__traceback__, probes.TARGET_FILE)
    text = f"handle_echo raised {type(exc).__name__}: {exc}."
    if isinstance(exc, UnicodeError):
        text += (
            " It decoded a chunk of bytes as text. A read can end in the middle of a "
            "multi-byte character (and binary data is not text at all): write back the "
            "bytes you read, never `data.decode()`."
        )
    elif isinstance(exc, ValueError) and "limit" in str(exc):
        text += (
            " That is readline() (or `async for` over the reader, which reads lines) "
            "hitting the reader's line length limit: data without a newline is not a line. "
            "Echo chunks with `await reader.read(n)`."
        )
    elif isinstance(exc, TypeError) and ("context manager" in str(exc) or "__aenter__" in str(exc)):
        text += (
            " A StreamWriter is not an async context manager: close it with "
            "`writer.close()` then `await writer.wait_closed()` in a finally block."
        )
    return text


def _closed_early(conn: Any) -> str:
    if conn is None:
        return _handler_error(None) or "The server closed the connection before the client half-closed."
    return _handler_error(conn) or (
        "handle_echo returned before the client had half-closed: keep reading until `read()` returns b'' (end of file)."
    )


async def _expect_echo(client: Client, piece: bytes, what: str, conn: Any = None) -> None:
    """Read exactly ``piece`` back promptly, while the connection stays open."""
    echo = await receive(client.reader, len(piece), idle=PROMPT_S, stop=conn.done if conn is not None else None)
    got, closed = echo.data, echo.closed or (conn is not None and conn.done.is_set())
    size = f"{len(piece)} bytes" + ("" if piece.endswith(b"\n") else ", not ending in a newline")
    if got[: len(piece)] != piece[: len(got)]:
        at = first_difference(got, piece)
        sent, back = show_bytes(piece[at : at + 16]), show_bytes(got[at : at + 16])
        fail(_lesson("changed", what=what, size=size, at=at, sent=sent, got=back))
    if len(got) == len(piece):
        return
    if closed:
        fail(_lesson("closed early", what=what, size=size, n=len(got), why=_closed_early(conn)))
    where = _where(conn) or "the server was still running"
    held_back = await here.ask("held_back") is True  # the worker's account, for the lesson
    fail(_lesson("held back" if held_back else "stalled", what=what, size=size, n=len(got), where=where))


# --- the learner's start_server --------------------------------------------------------


async def _start(ex: Any, stack: contextlib.AsyncExitStack, *args: Any) -> tuple[dict[str, Any], str, int]:
    """Call the learner's start_server; return what it returned, as the worker describes
    it (``here.server_info``), and the (host, port) it listens on. Closed at exit."""
    what = f"start_server({', '.join(map(repr, args))})"
    try:
        server = await call_learner(what, ex.start_server(*args), 5.0)
    except OSError as exc:
        fail(
            f"{what} raised {type(exc).__name__}: {exc}. Bind the host and port you are "
            "given: port 0 asks the system for a free port, so two servers never clash."
        )
    info = await here.ask("server_info", server)
    stack.push_async_callback(here.ask, "close_server", server)
    if not isinstance(info, dict) or info.get("server") is not True:
        fail(
            f"{what} returned {server!r}, not a server. Return what `await "
            "asyncio.start_server(handle_echo, host, port)` gives you."
        )
    sockets = [tuple(name) for name in info.get("sockets") or () if isinstance(name, list) and len(name) == 2]
    if not sockets:
        # A server that start_server made always listens until it is closed.
        fail(
            "start_server() returned a server that was already closed (it has no listening "
            "socket left): `async with server:` closes the server when its block ends, and "
            "so does `server.close()`. Return the server itself, still open: the caller "
            "decides when to close it."
        )
    expect(
        info.get("serving") is True,
        f"{what} returned a server that is not accepting yet (is_serving() is False): "
        "do not pass start_serving=False; the caller expects it to accept connections as "
        "soon as start_server returns (and serve_forever is for the caller to call, if "
        "ever).",
    )
    host, port = sockets[0]
    return info, str(host), int(port)


async def _reachable(host: str, port: int) -> bool:
    """Whether a connection to ``host``:``port`` is accepted (from outside: the kernel
    says so), closed at once."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), PROMPT_S)
    except (OSError, TimeoutError):
        return False
    writer.transport.abort()
    await settle()
    return True


# --- checks ---------------------------------------------------------------------------


@pytest.mark.weight(2)
@pytest.mark.hint(3)
async def test_start_server_listens_on_loopback(ex):
    """start_server() returns a server already accepting on 127.0.0.1, port 0 honoured"""
    async with contextlib.AsyncExitStack() as stack:
        first, host, port = await _start(ex, stack)
        second, _, port2 = await _start(ex, stack, "127.0.0.1", 0)
        for info, at in ((first, port), (second, port2)):
            names = [tuple(name) for name in info["sockets"]]
            # Seen from outside: 127.0.0.2 is loopback too, but not the host it was given.
            elsewhere = await _reachable("127.0.0.2", at)
            expect(
                all(name[0] == "127.0.0.1" for name in names) and not elsewhere,
                f"The server listens on {names}"
                + (" (it accepted a connection to 127.0.0.2)" if elsewhere else "")
                + "; it must listen on the host it is given (127.0.0.1 by default), not on "
                "every interface.",
            )
        expect(
            0 not in (port, port2) and port != port2,
            f"Two servers started with port 0 got ports {port} and {port2}: pass the port "
            "argument through, so port 0 lets the system pick a free port for each.",
        )
        for address in ((host, port), ("127.0.0.1", port2)):
            async with open_client(*address) as client:
                await client.send(b"ping\n")
                await _expect_echo(client, b"ping\n", "b'ping\\n' to a fresh server")


@pytest.mark.weight(3)
@pytest.mark.hint(1)
async def test_echoes_raw_bytes(ex):
    """echoes raw bytes unchanged, each piece as soon as it arrives"""
    pieces = [
        ("all 256 byte values", bytes(range(256))),
        ("invalid UTF-8", b"\xff\xfe\x00\xc3\x28\xed\xa0\x80\x80\xc0\xaf"),
        (
            "100 KiB of binary without a newline",
            random.Random(4).randbytes(100 * 1024).replace(b"\n", b"\x00"),
        ),
        ("a newline alone", b"\n"),
    ]
    async with serve_handler(ex.handle_echo) as (conn, client):
        for what, piece in pieces:
            await client.send(piece)
            await _expect_echo(client, piece, what, conn)


@pytest.mark.weight(2)
@pytest.mark.hint(1)
async def test_split_utf8_character_survives(ex):
    """a UTF-8 character split across reads survives"""
    text = "café naïve 🐍 日本!"
    pieces = [
        b"caf\xc3",
        b"\xa9 na\xc3",
        b"\xafve \xf0\x9f",
        b"\x90",
        b"\x8d \xe6\x97",
        b"\xa5\xe6\x9c\xac!",
    ]
    assert b"".join(pieces) == text.encode()
    async with serve_handler(ex.handle_echo) as (conn, client):
        for piece in pieces:
            await client.send(piece)
            await _expect_echo(client, piece, f"{piece!r} (part of {text!r}, cut inside a character)", conn)


@pytest.mark.weight(4)
@pytest.mark.limit(60)
@pytest.mark.hint(2)
async def test_flow_control_with_drain(ex):
    """pauses in drain() and stops reading while the client does not read"""
    # Every chunk ends with a newline, so a line-by-line echo is judged here on flow
    # control alone (it has its own failing checks).
    rng = random.Random(7)
    payload = b"".join(rng.randbytes(FLOOD_CHUNK - 1) + b"\n" for _ in range(FLOOD // FLOOD_CHUNK))
    small = serve_handler(ex.handle_echo, buffers=SMALL_BUF, high_water=HIGH_WATER, limit=SMALL_LIMIT)
    async with small as (conn, client):
        async with Flood(client.writer, payload, FLOOD_CHUNK, client.reader) as flood:
            verdict, now = await _watch_flood(conn, flood)
            held = _held(flood, now)
            state = f"client sent {flood.sent:,} bytes and {_read(flood)}; {held:,} of them held by the server"
            if verdict == "handler ended":
                await wait_event(conn.done, PROMPT_S)
            if verdict != "paused":
                why, where = _closed_early(conn), _where(conn)
                fail(
                    _lesson(verdict, state=state, why=why, in_drain=now.in_drain > 0, reading=now.reading, where=where)
                )
            # Paused properly. The client goes on not reading for a while (loop time, so
            # free): a correct handler just stays paused, and takes no more data.
            after = await _closes_within(conn, QUIET_CLIENT_S)
            if flood.done and not flood.failed:
                fail(_lesson("took everything", state=f"client sent {flood.sent:,} bytes and {_read(flood)}"))
            if after is not None:
                fail(_lesson("gave up", after=after, where=_where(conn)))
        # Then the client stops sending and reads: every byte it sent (whole
        # chunks: write() buffers a chunk entirely) must come back, intact and in order.
        rest = await read_while_progress(client.reader, flood.sent - len(flood.read_back), idle=STALL_S)
        echoed = bytes(flood.read_back) + rest.data
        if len(echoed) < flood.sent:
            fail(_lesson("no resume", n=len(echoed), sent=flood.sent, where=_where(conn)))
        if echoed != payload[: flood.sent]:
            fail(_lesson("resumed changed", sent=flood.sent, at=first_difference(echoed, payload)))


async def _closes_within(conn: Any, seconds: float) -> float | None:
    """Within how many loop seconds the handler returned while nothing else happened (or,
    not having returned, had its connection closing by then); None if neither. One wait
    on the handler's end, not a poll: each jump of the clock costs real time while
    sockets are open."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        await asyncio.wait_for(conn.done.wait(), seconds)
    except TimeoutError:
        return seconds if conn.snapshot().closing else None
    return loop.time() - start


async def _until(condition: Any, seconds: float) -> bool:
    """Wait (loop time) until ``condition()`` holds, for at most ``seconds``, looking at
    it at growing intervals (each jump of the clock costs real time while sockets are
    open)."""
    loop = asyncio.get_running_loop()
    end, step = loop.time() + seconds, 0.01
    while not condition() and loop.time() < end:
        await asyncio.sleep(min(step, end - loop.time()))
        step *= 2
    return bool(condition())


async def _watch_flood(conn: Any, flood: Flood) -> tuple[str, here.HandlerState]:
    """Watch the flood until its outcome is clear, with the server end's last state (the
    worker's account). "paused": the client's sending stalled for STALL_S and the kernel
    shows the server end leaving the bytes that arrived unread (both the check's own
    observations), with the handler inside drain() (the worker's account); "stuck":
    stalled otherwise; "overflow" (the server holds more than OVERFLOW bytes: the
    kernel's account of the connection, or the worker's of its write buffer), "took
    everything", "handler ended". A stall during which the server end goes on reading
    what arrives is the bytes' transit (a loaded machine), not the server: the watch
    goes on."""
    looked_at = -1
    while True:
        if flood.done:
            # All sent (the server took everything), or the connection broke under it.
            return ("handler ended" if flood.failed else "took everything"), conn.snapshot()
        if flood.sent - looked_at >= LOOK_EVERY or looked_at < 0:
            looked_at, now = flood.sent, conn.snapshot()
            if _held(flood, now) > OVERFLOW:
                return "overflow", now
            if now.done or now.closing:
                return "handler ended", now
        if not await flood.moved(STALL_S):
            # Nothing sent for STALL_S: the server stopped taking the client's data.
            now = conn.snapshot()
            if _held(flood, now) > OVERFLOW:
                return "overflow", now
            if now.done or now.closing:
                return "handler ended", now
            stopped = await flood.server_stopped_reading(_look)
            if stopped is False:
                continue
            # Judged on the server's state once it has had its turns: bytes that reached
            # its socket while it said it was idle (on a loaded machine, its loop is woken
            # only later) still move it, into drain() say.
            now = conn.snapshot()
            if _held(flood, now) > OVERFLOW:
                return "overflow", now
            if now.done or now.closing:
                return "handler ended", now
            not_reading = stopped if stopped is not None else not now.reading
            return ("paused" if now.paused_in_drain() and not_reading else "stuck"), now


def _read(flood: Flood) -> str:
    """What the flooding client read of the echo, said for a learner."""
    if not flood.read_back:
        return "read none"
    return (
        f"read only {len(flood.read_back):,} of the echo (what its own buffers held, when TCP could not "
        "deliver the server's bytes to a client that reads nothing)"
    )


def _held(flood: Flood, now: here.HandlerState) -> int:
    """The bytes the server holds of the flood: the kernel's account (what was sent, less
    what is on its way), or the worker's of its write buffer if that says more."""
    return max(flood.held_by_server() or 0, now.write_buffer)


async def _look() -> None:
    """Give the server's process its turns (it reads what arrived, if it reads at all)."""
    await here.ask("turns", 3)


@pytest.mark.closing
@pytest.mark.weight(3)
@pytest.mark.limit(30)
@pytest.mark.hint(3)
async def test_closes_after_half_close(ex):
    """after the client half-closes: the rest of the echo, then end of file, writer closed"""
    last = random.Random(5).randbytes(LAST)
    late = serve_handler(
        ex.handle_echo, buffers=SMALL_BUF, high_water=LATE_HIGH_WATER, limit=SMALL_LIMIT, close_at_return=False
    )
    async with late as (conn, client):
        await client.send(b"first\x00")
        await _expect_echo(client, b"first\x00", "b'first\\x00'", conn)
        # A client that says nothing for a long while (a user thinking; loop time, so
        # free) is still a client: the connection stays until it half-closes.
        await asyncio.sleep(QUIET_CLIENT_S)
        if conn.done.is_set() or client.reader.at_eof():
            fail(
                f"After {QUIET_CLIENT_S:g} s without a byte from the client (loop time), "
                + ("the connection was closed" if client.reader.at_eof() else "handle_echo returned")
                + ", though the client had not half-closed. The contract is to serve until the "
                "client half-closes: wait for its data as long as it takes (no timeout around the read)."
            )
        rest, verdict, observed = await _half_close(conn, client, last)
        if verdict:
            fail(_lesson(verdict, **observed))
        now = conn.snapshot()
        if rest != last:
            if now.aborts and len(rest) < len(last):
                fail(_lesson("aborted", size=len(last), n=len(rest), buffered=max(now.aborts)))
            at = first_difference(rest, last)
            differs = f" (first difference at byte {at:,})" if at < min(len(rest), len(last)) else ""
            fail(_lesson("rest lost", size=len(last), n=len(rest), differs=differs))
        if not now.closing_at_return:
            fail(_lesson("not closed"))
        if not now.wait_closed_done:
            fail(_lesson("close not awaited"))


async def _half_close(conn: Any, client: Client, last: bytes) -> tuple[bytes, str, dict[str, Any]]:
    """Send ``last``, half-close, read to end of file and wait for the handler to return:
    what came back, and a verdict ("" if all that happened) with what it was based on.
    The client reads late: its transport reads nothing until the handler has started
    closing (or returned, or PROMPT_S went by), so the end of the echo is still in the
    handler's write buffer when it closes (more than the sockets hold: see LAST)."""
    try:
        client.writer.transport.pause_reading()
        client.writer.write(last)
        client.writer.write_eof()
    except OSError:
        return b"", "cannot half-close", {"why": _closed_early(conn)}
    await _until(lambda: conn.done.is_set() or conn.snapshot().closing, PROMPT_S)
    client.writer.transport.resume_reading()
    rest = bytearray()
    while True:
        try:
            chunk = await asyncio.wait_for(client.reader.read(65536), PROMPT_S)
        except TimeoutError:
            # No end of file (the check's own observation); the server end says why.
            now, where = conn.snapshot(), {"where": _where(conn)}
            if now.in_wait_closed and not now.closing:
                return bytes(rest), "wait_closed before close", where
            if now.done and not now.closing_at_return:
                return bytes(rest), "not closed", where
            return bytes(rest), "wait_closed hangs" if now.in_wait_closed else "no end of file", where
        except ConnectionError as exc:
            return bytes(rest), "reset", {"exc": exc, "why": _handler_error(conn)}
        if not chunk:
            break
        rest += chunk
    if not await wait_event(conn.done, PROMPT_S):
        return bytes(rest), "no return", {"where": _where(conn)}
    if conn.error is not None:
        return bytes(rest), "raised", {"why": _handler_error(conn)}
    return bytes(rest), "", {}


@pytest.mark.closing
@pytest.mark.weight(1)
@pytest.mark.hint(3)
async def test_closes_when_cancelled(ex):
    """closes its connection when it is cancelled"""
    async with serve_handler(ex.handle_echo, close_at_return=False) as (conn, client):
        await client.send(b"hello\n")
        await _expect_echo(client, b"hello\n", "b'hello\\n'", conn)
        conn.cancel()  # waiting in its read: as a server shutting down cancels it
        if not await wait_event(conn.done, PROMPT_S):
            fail(_lesson("kept running when cancelled", where=_where(conn)))
        # Closed: the client sees end of file (its own observation), and the handler had
        # started closing when it ended (the server end's account).
        try:
            await asyncio.wait_for(client.reader.read(), PROMPT_S)
            closed = True
        except TimeoutError:
            closed = False
        except ConnectionError:
            closed = True  # reset: closed all the same
        if not closed or not conn.snapshot().closing_at_return:
            fail(_lesson("not closed when cancelled"))


@pytest.mark.weight(4)
@pytest.mark.limit(30)
@pytest.mark.hint(3)
async def test_serves_many_clients_at_once(ex):
    """serves 100 clients at once; one that does not read is slowed down, not the others"""
    payloads = [f"hello from client {i:03d}\n".encode() for i in range(CLIENTS)]
    async with contextlib.AsyncExitStack() as stack:
        _, host, port = await _start(ex, stack)
        async with open_clients(host, port, CLIENTS, eof_s=PROMPT_S) as clients:
            replies = await exchange(clients, payloads, timeout=5.0)
            served = [i for i, reply in enumerate(replies) if isinstance(reply, bytes)]
            mixed_up = [i for i in served if replies[i] != payloads[i]]
            if mixed_up:
                i = mixed_up[0]
                fail(_lesson("mixed up", i=i, sent=payloads[i], got=replies[i]))
            if not served:
                closed = sum(isinstance(reply, BaseException) for reply in replies)
                why = _handler_error(None)
                verdict = "none, raised" if why else "none, closed" if closed == CLIENTS else "none, silent"
                fail(_lesson(verdict, why=why, silent=CLIENTS - closed))
            if len(served) < CLIENTS:
                fail(_lesson("one at a time", n=len(served)))
            # One more client sends without reading: the server must stop taking its data
            # (flow control, seen from outside: a Protocol server passes as well), and
            # still serve the others.
            async with _outside_flood(host, port) as verdict:
                if verdict != "paused":
                    fail(_lesson(f"outside {verdict}"))
                again = [payload.replace(b"hello", b"again") for payload in payloads]
                replies = await exchange(clients, again, timeout=5.0)
                served = [i for i, reply in enumerate(replies) if reply == again[i]]
                if len(served) < CLIENTS:
                    fail(_lesson("blocked by one", n=len(served), wait=5.0))


@contextlib.asynccontextmanager
async def _outside_flood(host: str, port: int) -> AsyncIterator[str]:
    """A client of the learner's server that sends and does not read, both ends with the
    flow-control check's small buffers: yields "paused" (nothing moved for STALL_S: the
    server stopped taking its data, and the kernel shows the bytes that arrived unread at
    its end), "overflow" (the server held more than OVERFLOW bytes of it), "took
    everything" or "closed". On leaving, it stops sending, half-closes and reads the
    echo to end of file, as a client that is done would (a reset would be graded as the
    server's problem), or is aborted if that fails."""
    client = await Client.connect(host, port)
    try:
        set_socket_buffers(client.writer, SMALL_BUF, high_water=HIGH_WATER)
        # As serve_handler does for its own server: small buffers at the learner's server's
        # end too (the worker's), so flow control shows after a few KiB.
        me = list(client.writer.get_extra_info("sockname")[:2])
        found = await here.ask("shrink_server_end", me, SMALL_BUF, HIGH_WATER) is True
        payload = (b"x" * (FLOOD_CHUNK - 1) + b"\n") * (FLOOD // FLOOD_CHUNK)
        async with Flood(client.writer, payload, FLOOD_CHUNK, client.reader) as flood:
            verdict = ""
            while not verdict:
                before = flood.sent
                await asyncio.sleep(0.01)
                buffered = await here.ask("server_end_buffered", me) if found else None
                held = max(flood.held_by_server() or 0, buffered if type(buffered) is int else 0)
                if held > OVERFLOW:
                    verdict = "overflow"  # the kernel's account, or the worker's
                elif flood.done:
                    verdict = "closed" if flood.failed else "took everything"
                elif flood.sent == before:
                    await asyncio.sleep(STALL_S)  # loop time passes only while nothing moves
                    if flood.sent == before and not flood.done:
                        # Stalled, unless the server end goes on reading what arrives.
                        verdict = "" if await flood.server_stopped_reading(_look) is False else "paused"
            yield verdict
        client.writer.write_eof()
        await read_while_progress(client.reader, idle=PROMPT_S)
        await client.close()
    finally:
        if not client.writer.is_closing():
            client.writer.transport.abort()
            await settle()


@pytest.mark.hidden
@pytest.mark.weight(2)
@pytest.mark.limit(30)
@pytest.mark.hint(1)
async def test_whole_session_through_start_server(ex):
    """a whole session through start_server: binary pieces, 256 KiB, half-close, end of file"""
    big = random.Random(11).randbytes(256 * 1024)
    async with contextlib.AsyncExitStack() as stack:
        _, host, port = await _start(ex, stack)
        async with open_client(host, port) as client:
            for piece in (b"caf\xc3", b"\xa9", b"\xff\x00\xfe", bytes(range(256))):
                await client.send(piece)
                await _expect_echo(client, piece, show_bytes(piece))
            receiving = asyncio.ensure_future(read_while_progress(client.reader, idle=PROMPT_S))
            try:
                client.writer.write(big)
                await client.writer.drain()
                client.writer.write_eof()
                echo = await receiving
            finally:
                receiving.cancel()
            if len(echo.data) == len(big) and echo.end != "eof":
                fail(
                    "The client sent 256 KiB and half-closed, got it all back, and then no end "
                    f"of file within {PROMPT_S:g}s: when the client has finished sending, the "
                    "server must close (`writer.close()`, `await writer.wait_closed()`)."
                )
            expect(
                echo.data == big,
                f"After 256 KiB of binary and a half-close the client got {len(echo.data):,} bytes "
                f"back (first difference at byte {first_difference(echo.data, big):,}); expected "
                "the same 256 KiB, then end of file.",
            )
