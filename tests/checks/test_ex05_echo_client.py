"""Checks for ex05 echo_client: a client that sends and receives at the same time.

Every check runs the learner's ``echo_roundtrip`` against a check-side server in the same
event loop. The servers are deliberately strict peers: the flow-controlled one stops
reading while its replies are not draining (as a correct ex04 server does), so a client
that sends everything before reading deadlocks; the "store and forward" one answers only
after the client's end of file; the slow one answers a minute of loop time (virtual,
so free) after it, so a client that takes silence for the end is caught by event order,
not by a race. Waiting is bounded by ``call_learner``, which names the
line the learner's code was stuck on.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from grader.probes import (
    UNSTARTED_CLOSE,
    Peer,
    call_learner,
    docs,
    exact,
    expect,
    fail,
    first_difference,
    peer_server,
    transports_bound_to,
    wait_event,
    watch_closing,
    watch_reads,
)

READ_SIZE = 64 * 1024
#: Socket buffers of the check-side server: small, so loopback buffers cannot hide a
#: client that sends everything before it reads.
SERVER_BUFFER = 64 * 1024
BIG = 32 * 1024 * 1024
#: Generous bounds: a correct client finishes in well under a second.
BOUND_S = 5.0
BIG_BOUND_S = 15.0


@dataclass(eq=False)
class _Peer(Peer):
    """What the check-side server saw on its connection."""

    received: int = 0
    eof: bool = False
    #: The check-side server's own StreamReader (its reads are not the client's).
    server_reader: asyncio.StreamReader | None = None


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, _Peer], Any]

#: Every check runs on the virtual clock: bounds on waiting cost no real time, and the
#: clock waits for real only while bytes are on their way between the two ends.
pytestmark = [pytest.mark.virtual_time, pytest.mark.usefixtures("no_blocking"), pytest.mark.split]


@contextlib.asynccontextmanager
async def _server(handler: Handler) -> AsyncIterator[tuple[str, int, _Peer]]:
    """A server with small socket buffers; yields ``(host, port, peer)``."""
    peer = _Peer()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SERVER_BUFFER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SERVER_BUFFER)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    async with peer_server(peer, lambda reader, writer: handler(reader, writer, peer), sock=sock) as (host, port):
        try:
            yield host, port, peer
        finally:
            # A finished exchange is done at once. A client that hung (or gave up)
            # mid-conversation: drop both ends, so the failure is not followed by noise
            # about buffers that can never drain.
            if peer.writer is not None and not await wait_event(peer.done, 1.0):
                peer.transport.abort()
                for transport in transports_bound_to(peer.peername):
                    transport.abort()


async def _flow_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
    """Echo with flow control: read no more while the echo is not draining."""
    peer.server_reader = reader
    while data := await reader.read(READ_SIZE):
        peer.received += len(data)
        writer.write(data)
        await writer.drain()
    peer.eof = True


async def _byte_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
    """Echo one byte per write, yielding to the loop between bytes."""
    while data := await reader.read(READ_SIZE):
        peer.received += len(data)
        for i in range(len(data)):
            writer.write(data[i : i + 1])
            await writer.drain()
            await asyncio.sleep(0)
    peer.eof = True


def _store_and_forward(reply: Callable[[bytes], bytes]) -> Handler:
    """A server that reads until the client's end of file, then answers ``reply(data)``."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
        chunks = []
        # Counted as they come: a check may say how much arrived while the EOF has not.
        while chunk := await reader.read(READ_SIZE):
            chunks.append(chunk)
            peer.received += len(chunk)
        peer.eof = True
        writer.write(reply(b"".join(chunks)))
        await writer.drain()

    return handler


async def _roundtrip(ex: Any, host: str, port: int, payload: bytes, what: str, bound: float = BOUND_S) -> Any:
    return await call_learner(what, ex.echo_roundtrip(host, port, payload), bound)


def _unread_echo(peer: _Peer) -> int:
    """Bytes of echo the check-side server could not hand to the client's socket yet."""
    if peer.writer is None or peer.writer.transport.is_closing():
        return 0
    return peer.writer.transport.get_write_buffer_size()


def _expect_same_bytes(result: object, payload: bytes, what: str) -> None:
    """Type-strict comparison that stays readable for megabytes."""
    if type(result) is not bytes:
        fail(
            f"{what} returned a {type(result).__name__}, not bytes. Join what you read "
            "into one bytes object (`b''.join(chunks)`, or `bytes(buffer)` for a bytearray)."
        )
    if result == payload:
        return
    if len(result) != len(payload):
        fail(
            f"{what} returned {len(result):,} bytes; the server sent back {len(payload):,}. "
            "Keep reading until end of file: `await reader.read()` (no argument) does that, "
            "or loop on `reader.read(n)` until it returns b''. One `read(n)` returns whatever "
            "has arrived so far, not everything."
        )
    fail(
        f"{what} returned {len(result):,} bytes, but they differ from what was sent from "
        f"byte {first_difference(result, payload):,} on. Send the payload unchanged and in order (no decoding, no "
        "re-encoding), and keep the received chunks in the order they arrived."
    )


@pytest.mark.weight(1)
@pytest.mark.hint(3)
async def test_small_payloads_come_back_unchanged(ex):
    """small binary payloads come back unchanged, as bytes"""
    payload = bytes(range(256)) * 16 + b"\xff\xfe\xc3 not UTF-8 \x00\r\n"
    async with _server(_flow_echo) as (host, port, _peer):
        result = await _roundtrip(ex, host, port, payload, "echo_roundtrip(4 KiB of every byte value)")
    _expect_same_bytes(result, payload, "echo_roundtrip(4 KiB of every byte value)")
    async with _server(_flow_echo) as (host, port, _peer):
        empty = await _roundtrip(ex, host, port, b"", "echo_roundtrip(b'')")
    exact(empty, b"", "echo_roundtrip with an empty payload")


@pytest.mark.weight(3)
@pytest.mark.limit(BIG_BOUND_S + 5)
@pytest.mark.hint(1)
async def test_large_payload_does_not_deadlock(ex, monkeypatch):
    """a 32 MiB payload round-trips without deadlock"""
    payload = bytes(range(251)) * (BIG // 251) + b"end"
    what = "echo_roundtrip(32 MiB) against a server that reads no more while its echo is not drained"
    read_by_client = watch_reads(monkeypatch, exclude=lambda reader: reader is peer.server_reader)
    async with _server(_flow_echo) as (host, port, peer):
        try:
            result = await _roundtrip(ex, host, port, payload, what, BIG_BOUND_S)
        except pytest.fail.Exception as exc:
            unread = _unread_echo(peer)
            if not (0 < peer.received < len(payload) and unread):
                raise  # not the deadlock: the call's own account stands alone
            if read_by_client.total:
                fail(
                    f"{exc.msg} The server got {peer.received:,} of the {len(payload):,} bytes "
                    f"and holds {unread:,} bytes of echo your client has not read: your client "
                    f"read {read_by_client.total:,} bytes of echo, then stopped reading before the "
                    "server's end of file, so the server stopped reading too and your `drain()` "
                    "never returns. Keep reading until end of file: a read returns what has "
                    "arrived so far (often fewer bytes than asked), and only b'' means the end "
                    "(or `await reader.read()` once, which reads to the end)."
                )
            fail(
                f"{exc.msg} The server got {peer.received:,} of the {len(payload):,} bytes and "
                f"holds {unread:,} bytes of echo your client has not read. This is the "
                "send-everything-then-read deadlock: the server stops reading while you do not "
                "read its echo, so your `drain()` never returns. Send in one task and read in "
                "another at the same time (e.g. `sender = asyncio.create_task(send())`, then "
                "`await reader.read()`)."
            )
    _expect_same_bytes(result, payload, "echo_roundtrip(32 MiB)")


@pytest.mark.weight(2)
@pytest.mark.hint(3)
async def test_one_byte_at_a_time(ex):
    """a server that echoes one byte at a time yields the whole payload"""
    payload = bytes(range(97, 123)) * 80  # 2080 bytes, many separate pieces
    what = "echo_roundtrip(2 KiB) against a server that echoes one byte at a time"
    async with _server(_byte_echo) as (host, port, _peer):
        result = await _roundtrip(ex, host, port, payload, what)
    _expect_same_bytes(result, payload, what)


#: What to do when no connection reached the check's server.
NO_CONNECTION = (
    "No connection reached the server. Connect to the host and port you are given, "
    "`reader, writer = await asyncio.open_connection(host, port)`, and send the payload "
    "over that connection."
)


@pytest.mark.weight(2)
@pytest.mark.hint(2)
async def test_half_closes_after_sending(ex):
    """half-closes (write_eof) so the server sees end of file"""
    payload = b"the server answers after your end of file\n" * 100
    what = "echo_roundtrip against a server that answers after your EOF"
    result: object = None
    stuck: str | None = None  # the time-out message, if the call did not finish
    async with _server(_store_and_forward(lambda data: data)) as (host, port, peer):
        try:
            result = await _roundtrip(ex, host, port, payload, what)
        except pytest.fail.Exception as exc:
            stuck = exc.msg
        # Read now: leaving the block closes the server's end, which ends its reading.
        detail = (
            f" The server got {peer.received:,} bytes and is still waiting for your end of file."
            if not peer.eof
            else ""
        )
        # A connection made just before the client returned may not be served yet.
        connected = peer.connected.is_set() or await wait_event(peer.connected, 1.0)
    if not connected:
        fail(f"{stuck or what + ' returned.'} {NO_CONNECTION}")
    if stuck is not None and UNSTARTED_CLOSE in stuck:
        fail(f"{stuck}{detail}")  # stuck closing, not for want of an end of file
    if stuck is not None:
        fail(
            f"{stuck}{detail} After the last byte, call `writer.write_eof()`: it "
            "half-closes the connection, so the server reads end of file while you can "
            "still read its answer."
        )
    expect(peer.eof, "The server never saw end of file: call `writer.write_eof()` after sending.")
    _expect_same_bytes(result, payload, what)


@pytest.mark.weight(1)
@pytest.mark.hint(3)
async def test_returns_what_arrives_before_eof(ex):
    """returns what the server sent before closing, even if shorter"""
    payload = b"0123456789abcdef" * 256
    half = payload[: len(payload) // 2]
    what = "echo_roundtrip against a server that echoes only the first half, then closes"
    async with _server(_store_and_forward(lambda data: data[: len(data) // 2])) as (host, port, _peer):
        try:
            result = await _roundtrip(ex, host, port, payload, what)
        except Exception as exc:
            # By name: in a split check the learner's exception is the worker's, mirrored.
            if type(exc).__name__ != "IncompleteReadError":
                raise
            fail(
                f"{what} raised IncompleteReadError: `readexactly(len(payload))` assumes the "
                "server sends back as much as you sent. The contract is to return what arrives "
                "until end of file: `await reader.read()`."
            )
        except pytest.fail.Exception as exc:
            if UNSTARTED_CLOSE in exc.msg:
                raise
            fail(
                f"{exc.msg} This server answers only after your end of file (`write_eof()`), "
                "with less than you sent, then closes: read until end of file (`await "
                "reader.read()`), not until `len(payload)` bytes have come."
            )
    if type(result) is bytes and len(result) > len(half):
        fail(f"{what} returned {len(result):,} bytes; the server sent only {len(half):,}.")
    _expect_same_bytes(result, half, what)


@pytest.mark.weight(1)
@pytest.mark.hint(3)
async def test_long_runs_without_line_breaks(ex):
    """binary data with no line break in it comes back unchanged"""
    payload = bytes(b for b in range(256) if b != 0x0A) * 1024  # 255 KiB, no b"\n" anywhere
    what = "echo_roundtrip(255 KiB without a single b'\\n')"
    async with _server(_flow_echo) as (host, port, _peer):
        try:
            result = await _roundtrip(ex, host, port, payload, what)
        except (ValueError, asyncio.LimitOverrunError) as exc:
            fail(
                f"{what} raised {type(exc).__name__}: {exc}. `readline()` and `readuntil()` "
                "look for a separator and refuse to buffer more than the StreamReader's limit "
                "(64 KiB) without finding one. An echo client carries bytes, not lines: read "
                "with `await reader.read()` (until end of file) or `reader.read(n)` in a loop."
            )
    _expect_same_bytes(result, payload, what)


#: Loop seconds (virtual: free) the slow server thinks before it answers.
THINK_S = 60.0


@pytest.mark.virtual_time
@pytest.mark.weight(1)
@pytest.mark.hint(3)
async def test_waits_for_a_slow_answer(ex):
    """waits for the server's end of file, however long its silence"""
    payload = b"take your time\n" * 64
    loop = asyncio.get_running_loop()
    answered_at: list[float] = []

    async def slow_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
        data = await reader.read()
        peer.received = len(data)
        peer.eof = True
        await asyncio.sleep(THINK_S)  # loop time: costs no real time
        answered_at.append(loop.time())
        writer.write(data)
        await writer.drain()

    what = f"echo_roundtrip against a server that answers {THINK_S:g} s (loop time) after your end of file"
    async with _server(slow_echo) as (host, port, peer):
        t0 = loop.time()
        result = await _roundtrip(ex, host, port, payload, what, 10 * THINK_S)
        returned_after = loop.time() - t0
    if not answered_at and peer.eof:
        fail(
            f"{what} returned after {returned_after:g} s, before the server had answered: "
            "a silence is not the end of the answer (the server may be slow, or the network). "
            "Do not guess the end with a timeout (`wait_for(reader.read(n), ...)` and stop "
            "on TimeoutError): read until end of file, `await reader.read()`, which returns "
            "only when the server closes."
        )
    _expect_same_bytes(result, payload, what)


@pytest.mark.closing
@pytest.mark.weight(1)
@pytest.mark.hint(3)
async def test_closes_the_connection(ex, monkeypatch):
    """closes its connection and waits until it is closed before returning"""
    payload = b"close me\n" * 10
    closes = watch_closing(monkeypatch)
    async with _server(_flow_echo) as (host, port, peer):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            result = await _roundtrip(ex, host, port, payload, "echo_roundtrip(90 bytes)")
            # Right after the return, before the loop runs anything else.
            still_open = closes.still_open(peer.peername)
            gc.collect()  # a writer nobody closed warns when it is collected
        unclosed = [str(w.message) for w in caught if _is_unclosed(w)]
        for w in caught:
            if not _is_unclosed(w):  # pass the others on to the grader's own watch
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        await asyncio.wait_for(peer.done.wait(), BOUND_S)
    _expect_same_bytes(result, payload, "echo_roundtrip(90 bytes)")
    mine = closes.of(peer.peername)
    collected = mine is not None and mine.collected and not mine.closed
    if still_open or unclosed or collected:
        seen = (
            still_open[0]
            if still_open
            else f"ResourceWarning: {unclosed[0]}"
            if unclosed
            else "its StreamWriter was closed only when the garbage collector found it"
        )
        fail(
            f"echo_roundtrip returned without closing its connection ({_crop(seen)}). "
            "Close what you open, on every path: `writer.close()` then `await "
            "writer.wait_closed()` in a `finally:` (not `async with writer:`, which is a "
            "TypeError). A writer left to the garbage collector leaks its socket until then "
            "and warns."
        )
    expect(
        mine is None or not mine.closed or mine.waited,
        "echo_roundtrip called `writer.close()` but returned without `await "
        "writer.wait_closed()`. close() only starts closing (the buffer is flushed, then the "
        "socket closed); wait_closed() waits until that has happened, so the caller gets "
        "the connection really closed. " + docs("library/asyncio-stream", "asyncio.StreamWriter.wait_closed"),
    )
    expect(
        peer.eof and peer.error is None,
        f"The server did not see a clean end of file ({peer.error!r}): half-close with "
        "`write_eof()`, read until end of file, then close.",
    )


def _is_unclosed(w: warnings.WarningMessage) -> bool:
    return issubclass(w.category, ResourceWarning) and "unclosed" in str(w.message)


def _crop(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
