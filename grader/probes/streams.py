"""Bytes on a connection as a check observes them: read while they keep coming (a slow
peer is not a stuck one), sent by a client that never reads, exchanged by many clients
at once. Each says what happened; the check decides what it means."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from grader import procstate
from grader.probes.network import Client

End = Literal["complete", "eof", "reset", "stopped", "idle"]


@dataclass(frozen=True)
class Received:
    """What :func:`receive` or :func:`read_while_progress` read, and how the reading
    ended: ``"complete"`` (all the bytes asked for), ``"eof"``, ``"reset"`` (the read
    failed), ``"stopped"`` (``stop`` was set) or ``"idle"`` (nothing came in time)."""

    data: bytes
    end: End

    @property
    def closed(self) -> bool:
        """The connection was closed (end of file) or broken (reset) under the read."""
        return self.end in ("eof", "reset")


async def read_while_progress(reader: asyncio.StreamReader, n: int | None = None, *, idle: float) -> Received:
    """Read ``n`` bytes (or to end of file) for as long as data keeps coming: it ends when
    one read waited ``idle`` seconds for nothing."""
    data = bytearray()
    while n is None or len(data) < n:
        try:
            chunk = await asyncio.wait_for(reader.read(65536 if n is None else n - len(data)), idle)
        except TimeoutError:
            return Received(bytes(data), "idle")
        except ConnectionError:
            return Received(bytes(data), "reset")
        if not chunk:
            return Received(bytes(data), "eof")
        data += chunk
    return Received(bytes(data), "complete")


async def receive(
    reader: asyncio.StreamReader, n: int | None = None, *, idle: float, stop: asyncio.Event | None = None
) -> Received:
    """:func:`read_while_progress`, with the reading in a task of its own, watched in
    windows of ``idle`` seconds: it ends after a window that brought nothing, or once
    ``stop`` is set (the code at the other end returned, say), when what is already on
    its way is taken, for at most ``idle`` seconds more."""
    got = bytearray()
    read = asyncio.ensure_future(_collect(reader, n, got))
    waiters: set[asyncio.Future[Any]] = {read}
    if stop is not None:
        waiters.add(asyncio.ensure_future(stop.wait()))
    try:
        end: End = "idle"
        progress = -1
        while not read.done() and len(got) > progress:
            progress = len(got)
            await asyncio.wait(waiters, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
            if stop is not None and stop.is_set():
                if not read.done():
                    await asyncio.wait({read}, timeout=idle)
                end = "stopped"
                break
        if read.done():
            # _collect returns early only at end of file; a broken connection raises.
            failed = read.cancelled() or read.exception() is not None
            end = "reset" if failed else "complete" if n is not None and len(got) >= n else "eof"
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    return Received(bytes(got), end)


async def _collect(reader: asyncio.StreamReader, n: int | None, into: bytearray) -> None:
    """Read until ``into`` holds ``n`` bytes or end of file; ``into`` shows partial progress."""
    while n is None or len(into) < n:
        chunk = await reader.read(65536 if n is None else n - len(into))
        if not chunk:
            return
        into += chunk


#: What a flooding client reads of the echo each time it finds itself deaf to the
#: server (:meth:`Flood.server_stopped_reading`; more if its reader holds more), and at
#: most in all: a small part of a flood, so that a server that takes a flood without
#: flow control still shows it.
READ_BACK_STEP = 64 * 1024
READ_BACK_MAX = 16 * READ_BACK_STEP
#: Loop seconds a deaf client waits for the first byte it reads of the echo (it holds
#: some in its kernel already).
MAKE_ROOM_S = 1.0


class Flood:
    """A client that sends and never reads: ``data`` written ``chunk`` bytes at a time,
    each write followed by ``drain()``, in a task of its own while the ``async with``
    block runs (cancelled when it ends). ``sent`` counts the bytes written so far.

    With its ``reader`` too, it can say what the server end does with the flood from the
    kernel's account of the connection, not the server's (:meth:`held_by_server`,
    :meth:`server_stopped_reading`): a check judges a server process it does not trust
    on them."""

    def __init__(
        self, writer: asyncio.StreamWriter, data: bytes, chunk: int, reader: asyncio.StreamReader | None = None
    ) -> None:
        self.writer, self.data, self.chunk, self.reader = writer, data, chunk, reader
        self.sent = 0
        #: The echo this client did read after all, only to hear the server again
        #: (:meth:`server_stopped_reading`); empty for as long as it never had to.
        self.read_back = bytearray()
        self.task: asyncio.Task[None] | None = None
        self._moved = asyncio.Event()

    def _ends(self) -> tuple[procstate.TcpSocket, procstate.TcpSocket] | None:
        """(this client's socket, the server's), as the kernel sees them; None if unknown."""
        try:
            port = self.writer.get_extra_info("sockname")[1]
            server_port = self.writer.get_extra_info("peername")[1]
        except (TypeError, IndexError):
            return None
        found = procstate.tcp_connection(port, server_port)
        if found is None or found[0] is None or found[1] is None:
            return None
        return found[0], found[1]

    def held_by_server(self) -> int | None:
        """How many of the bytes sent the server's process holds in its memory (read from
        its socket and not written back yet): ``sent``, less what is still on its way
        there (this client's transport buffer, both kernels' queues) and on its way back
        (the server's send queue, this client's receive queue and reader buffer). An
        account that errs low by at most a window (a byte can be both unacknowledged here
        and received there); None without ``reader`` or the kernel's tables."""
        ends = self._ends()
        if ends is None or self.reader is None:
            return None
        mine, theirs = ends
        transport = self.writer.transport
        on_the_way = transport.get_write_buffer_size() + mine.tx_queue + theirs.rx_queue
        coming_back = theirs.tx_queue + mine.rx_queue + len(getattr(self.reader, "_buffer", b""))
        return max(0, self.sent - on_the_way - coming_back - len(self.read_back))

    async def server_stopped_reading(self, look: Callable[[], Awaitable[object]]) -> bool | None:
        """Whether the flood stalled because the server end takes no more: its socket
        holds bytes it has not read, and it reads none of them while its process has its
        turns (``look`` awaits them) and nothing more is sent. False when it reads them
        (the stall was the bytes' transit, not the server), or when no byte could reach
        it: then this client reads what its own buffers hold of the echo (kept in
        :attr:`read_back`), at most :data:`READ_BACK_MAX` bytes in all, so that the flood
        goes on and the server is judged on what it does with it. None if the kernel's
        tables cannot be read."""
        ends = self._ends()
        if ends is None:
            return None
        unread, sent = ends[1].rx_queue, self.sent
        if unread == 0:
            # Nothing waits unread at the server end: the stall was the bytes' transit,
            # unless none can reach it: a client that leaves the server's bytes unread,
            # its buffer full, drops what the server sends it, the acknowledgements and
            # window updates riding on it included, and holds what it would send until
            # it reads (seen, now and then, when the server writes back to a client that
            # does not read). The server end takes nothing more then, whatever it would
            # do, drain() or not: the stall says nothing of the server, until the client
            # hears it again.
            if not self._cannot_reach_server():
                return False
            # Read back at most READ_BACK_MAX (never needed: a client deaf again and again).
            return len(self.read_back) >= READ_BACK_MAX or not await self._make_room()
        await look()
        again = self._ends()
        return again is not None and again[1].rx_queue >= unread and self.sent == sent and not self.done

    async def _make_room(self) -> bool:
        """Read what this client's reader holds of the echo, or what comes first (its
        kernel holds some: it is deaf only with its buffer full), into :attr:`read_back`:
        its transport then takes the bytes waiting in the kernel, which has room again
        for what the server sends. False if nothing could be read."""
        if self.reader is None:
            return False
        # All its reader holds: a reader over its limit keeps its transport from reading.
        want = max(READ_BACK_STEP, len(getattr(self.reader, "_buffer", b"")))
        try:
            chunk = await asyncio.wait_for(self.reader.read(want), MAKE_ROOM_S)
        except (TimeoutError, ConnectionError):
            return False
        self.read_back += chunk
        return bool(chunk)

    def _cannot_reach_server(self) -> bool:
        """This client's kernel holds bytes for the server while it cannot hear from it
        (:func:`grader.procstate.deaf_to`)."""
        try:
            local = self.writer.get_extra_info("sockname")[:2]
            remote = self.writer.get_extra_info("peername")[:2]
        except (TypeError, IndexError):
            return False
        pairs = procstate.tcp_ends([(local, remote)])
        mine, theirs = pairs[0] if pairs else (None, None)
        if mine is None or theirs is None:
            return False
        return procstate.holds_for(mine, theirs) and procstate.deaf_to(mine, theirs)

    @property
    def done(self) -> bool:
        """Everything was written, or writing failed (see :attr:`failed`)."""
        return self.task is not None and self.task.done()

    @property
    def failed(self) -> bool:
        """Writing stopped on an error (the connection was closed or reset under it)."""
        task = self.task
        return task is not None and task.done() and not task.cancelled() and task.exception() is not None

    async def moved(self, timeout: float) -> bool:
        """Wait until more is written (or writing ends), for at most ``timeout`` seconds
        (loop time): whether it was. One wait, not a poll: each jump of a virtual clock
        costs real time while sockets are open."""
        if self.done:
            return True
        self._moved.clear()
        try:
            await asyncio.wait_for(self._moved.wait(), timeout)
        except TimeoutError:
            return self.done
        return True

    async def __aenter__(self) -> Flood:
        self.task = asyncio.create_task(self._send())
        self.task.add_done_callback(lambda _: self._moved.set())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task

    async def _send(self) -> None:
        view = memoryview(self.data)
        for offset in range(0, len(self.data), self.chunk):
            piece = view[offset : offset + self.chunk]
            self.writer.write(piece)
            self.sent = offset + len(piece)
            self._moved.set()
            await self.writer.drain()


async def exchange(clients: list[Client], payloads: list[bytes], timeout: float) -> list[bytes | BaseException | None]:
    """Each client sends its payload, then all read back as many bytes at the same time,
    for at most ``timeout`` seconds in all. Per client: the bytes that came back, the
    error that ended its read early (``IncompleteReadError`` at end of file, a reset), or
    None if it was still waiting."""
    for client, payload in zip(clients, payloads, strict=True):
        client.writer.write(payload)
    for client in clients:
        await client.writer.drain()
    reads = [
        asyncio.ensure_future(client.reader.readexactly(len(payload)))
        for client, payload in zip(clients, payloads, strict=True)
    ]
    try:
        if reads:
            await asyncio.wait(reads, timeout=timeout)
    finally:
        for read in reads:
            read.cancel()
    return [None if not read.done() or read.cancelled() else read.exception() or read.result() for read in reads]
