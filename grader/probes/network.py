"""Loopback peers for network checks: clients and check-side servers on 127.0.0.1 that
record what they see and always clean up within a bound (since 3.12
``wait_closed`` waits for open connections, and a peer that never reads can stall a
close forever)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from grader.probes.assertions import fail

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
#: asyncio's own StreamReader limit.
DEFAULT_LIMIT = 2**16


async def close_writer(writer: asyncio.StreamWriter, timeout: float = 1.0) -> None:
    """Close ``writer`` and wait at most ``timeout`` seconds for it to be closed; never raises."""
    writer.close()
    with contextlib.suppress(Exception, asyncio.TimeoutError):
        # The class's own wait_closed: not one a check wrapped on the instance to watch
        # the learner's (watch_writer), which the check's own clean-up must not trip.
        await asyncio.wait_for(asyncio.StreamWriter.wait_closed(writer), timeout)


class Client:
    """A loopback client with bounded, failure-proof clean-up."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, host: str, port: int, *, rcvbuf: int | None = None, timeout: float = 5.0) -> Client:
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
        await close_writer(self.writer)


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
    handler: Handler, *, sock: socket.socket | None = None, limit: int = DEFAULT_LIMIT
) -> AsyncIterator[tuple[str, int]]:
    """A check-side server on 127.0.0.1, port 0 (or on ``sock``, bound by the check),
    closed with a bounded wait afterwards."""
    if sock is None:
        server = await asyncio.start_server(handler, "127.0.0.1", 0, limit=limit)
    else:
        server = await asyncio.start_server(handler, sock=sock, limit=limit)
    async with running_server(server) as address:
        yield address


@dataclass(eq=False)
class Peer:
    """The check's end of a :func:`peer_server`, as the check sees it. A check expects
    one connection; should more arrive, each is served and the latest one recorded.
    Subclass it to record more."""

    connected: asyncio.Event = field(default_factory=asyncio.Event)
    writer: asyncio.StreamWriter | None = None
    #: The address of the other end (the client's local address).
    peername: Any = None
    #: What the handler raised (a cancellation by the server's own clean-up excepted).
    error: BaseException | None = None
    #: Set once the handler has ended and its connection is closed (a bounded wait).
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def transport(self) -> Any:
        assert self.writer is not None, "no connection yet: wait for `connected`"
        return self.writer.transport


P = TypeVar("P", bound=Peer)


@contextlib.asynccontextmanager
async def peer_server(
    peer: P, handler: Handler, *, sock: socket.socket | None = None, limit: int = DEFAULT_LIMIT
) -> AsyncIterator[tuple[str, int]]:
    """A check-side server (see :func:`loopback_server`) that runs ``handler`` on each
    connection and records it in ``peer``; yields ``(host, port)``.

    Whatever the handler does, its connection is closed when it ends. On leaving, a
    handler still running gets a second to end, then its connection is aborted, then it
    is cancelled, each with a bounded wait: a failed check leaves nothing behind.
    """
    running: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        running[task] = writer
        peer.writer, peer.peername = writer, writer.get_extra_info("peername")
        peer.connected.set()
        try:
            await handler(reader, writer)
        except asyncio.CancelledError:
            pass  # stopped by the clean-up below
        except Exception as exc:  # the check judges it
            peer.error = exc
        finally:
            await close_writer(writer)
            peer.done.set()
            running.pop(task, None)

    async with loopback_server(serve, sock=sock, limit=limit) as address:
        try:
            yield address
        finally:
            for stop in (None, "abort", "cancel"):
                tasks = [t for t in running if not t.done()]
                if not tasks:
                    break
                for task in tasks:
                    if stop == "abort":
                        running[task].transport.abort()
                    elif stop == "cancel":
                        task.cancel()
                await asyncio.wait(tasks, timeout=1.0)


@dataclass
class WriterWatch:
    """What a handler did with one StreamWriter's ``drain`` and ``wait_closed``."""

    in_drain: int = 0
    in_wait_closed: int = 0
    wait_closed_done: bool = False


def watch_writer(writer: asyncio.StreamWriter) -> WriterWatch:
    """Wrap this writer's ``drain`` and ``wait_closed`` (on the instance, so it stays a
    real StreamWriter) to see whether the code using it is inside them."""
    watch = WriterWatch()
    drain = writer.drain
    wait_closed = writer.wait_closed

    async def drain_observed() -> None:
        watch.in_drain += 1
        try:
            await drain()
        finally:
            watch.in_drain -= 1

    async def wait_closed_observed() -> None:
        watch.in_wait_closed += 1
        try:
            await wait_closed()
        finally:
            watch.in_wait_closed -= 1
        watch.wait_closed_done = True

    writer.drain = drain_observed  # type: ignore[method-assign]
    writer.wait_closed = wait_closed_observed  # type: ignore[method-assign]
    return watch
