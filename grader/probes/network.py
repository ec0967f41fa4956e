"""Loopback peers for network checks: clients and check-side servers on 127.0.0.1 that
record what they see and always clean up within a bound (since 3.12
``wait_closed`` waits for open connections, and a peer that never reads can stall a
close forever). The learner's connection handler is tested mounted on one of them
(:func:`serve_handler`); the learner's own server, from outside with :func:`open_client`
and :func:`open_clients`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from grader.probes.assertions import fail
from grader.probes.concurrency import settle, wait_event

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


def documented_writelines(set_attr: Callable[[Any, str, Any], None]) -> None:
    """Make ``transport.writelines`` behave as documented on 3.12+ (where it is new), with
    ``set_attr`` (a monkeypatch's, or ``setattr`` in a split check's worker).

    ``StreamWriter.writelines`` + ``drain()`` is correct flow control, but CPython
    3.12.0-3.12.8 and 3.13.0-3.13.1 never pause the protocol in the selector transport's
    ``writelines`` (gh-127655), so ``drain()`` never waits; and an empty chunk passed to it
    is never flushed, so the transport never finishes closing. Neither is the learner's
    mistake, so every check runs with the documented behaviour: empty chunks skipped, the
    protocol paused over the high-water mark, as ``write()`` does.
    """
    from asyncio import selector_events

    transport_class: Any = getattr(selector_events, "_SelectorSocketTransport")  # noqa: B009 (private, untyped)
    original = transport_class.__dict__.get("writelines")
    if original is None or getattr(original, "documented", False):  # 3.11: the base class joins and writes
        return

    def writelines(self: Any, list_of_data: Any) -> None:
        original(self, [data for data in list_of_data if len(data)])
        self._maybe_pause_protocol()

    writelines.documented = True  # type: ignore[attr-defined]
    set_attr(transport_class, "writelines", writelines)


def set_socket_buffers(writer: asyncio.StreamWriter, size: int, *, high_water: int | None = None) -> None:
    """Set a connected socket's send and receive buffers to ``size`` bytes (the kernel
    doubles them) and, with ``high_water``, its transport's high-water mark: small ones make
    flow control show after a few hundred KiB. Once connected, never before: a receive
    buffer set before connect() or listen() also fixes TCP's window scale at 0, and on
    loopback (64 KiB segments) the window then rounds down to zero and the transfer stalls
    on retransmission timers."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
    if high_water is not None:
        writer.transport.set_write_buffer_limits(high=high_water)


@contextlib.asynccontextmanager
async def open_client(
    host: str, port: int, *, buffers: int | None = None, high_water: int | None = None
) -> AsyncIterator[Client]:
    """A :class:`Client` (with ``buffers``, see :func:`set_socket_buffers`), always closed
    on leaving: gracefully when the block completed, aborted when it failed (a failed
    check does not wait on a server that stopped reading)."""
    client = await Client.connect(host, port)
    if buffers is not None:
        set_socket_buffers(client.writer, buffers, high_water=high_water)
    ok = False
    try:
        yield client
        ok = True
    finally:
        if ok:
            await client.close()
        else:
            client.writer.transport.abort()
            await settle()


@contextlib.asynccontextmanager
async def open_clients(host: str, port: int, count: int, *, eof_s: float) -> AsyncIterator[list[Client]]:
    """``count`` clients connected to one server at the same time. When the block
    completes, each half-closes and reads to end of file, all at once for at most
    ``eof_s`` seconds, as clients that are done would; then, however it ended, each is
    closed with a bounded wait."""
    clients: list[Client] = []
    try:
        for _ in range(count):
            clients.append(await Client.connect(host, port))
        yield clients
        for client in clients:
            client.writer.write_eof()
        ends = [asyncio.ensure_future(client.reader.read()) for client in clients]
        if ends:
            await asyncio.wait(ends, timeout=eof_s)
        for end in ends:
            if not end.done():
                end.cancel()
    finally:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)


@contextlib.asynccontextmanager
async def running_server(server: asyncio.AbstractServer) -> AsyncIterator[tuple[str, int]]:
    """Yield ``(host, port)`` of a started server; close it afterwards with a bounded wait
    (since 3.12 ``wait_closed`` waits for open connections)."""
    try:
        sockets = getattr(server, "sockets", None) or ()
        if not sockets and isinstance(server, asyncio.AbstractServer):
            # A server that start_server made always listens until it is closed.
            fail(
                "start_server() returned a server that was already closed (it has no listening "
                "socket left): `async with server:` closes the server when its block ends, and "
                "so does `server.close()`. Return the server itself, still open: the caller "
                "decides when to close it."
            )
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
    #: The task running the handler on the latest connection.
    task: asyncio.Task[Any] | None = None

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

    Whatever the handler does, its connection is closed when it ends. On leaving a block
    that completed, a handler still running gets a second to end, then its connection is
    aborted, then it is cancelled, each with a bounded wait; on leaving a block that
    failed, it is cancelled at once. Either way a check leaves nothing behind.
    """
    running: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        running[task] = writer
        peer.task = task
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
        completed = False
        try:
            yield address
            completed = True
        finally:
            # A block that failed has its verdict: what still runs is cancelled at once.
            for stop in (None, "abort", "cancel") if completed else ("cancel",):
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


@dataclass(eq=False)
class HandlerPeer(Peer):
    """The server end of a connection whose handler is under test (:func:`serve_handler`)."""

    #: Whether the handler had started closing its writer when it returned.
    closing_at_return: bool = False
    #: What the handler did with its writer's ``drain`` and ``wait_closed``.
    seen: WriterWatch = field(default_factory=WriterWatch)

    #: Each ``abort()`` of the transport: the bytes still in its write buffer then.
    aborts: list[int] = field(default_factory=list)
    #: Whether the handler ended in a CancelledError.
    cancelled: bool = False

    def paused_in_drain(self) -> bool:
        """Suspended inside drain(). drain() returns at once unless writing is paused (the
        buffer went over the high-water mark and has not yet fallen to the low one), so a
        handler the check finds inside it, on an open transport, is held by flow control."""
        return self.seen.in_drain > 0 and not self.transport.is_closing()

    def snapshot(self) -> Any:
        """The server end now, as a ``grader.probes.here.HandlerState``."""
        from grader.probes.here import HandlerState

        transport = self.writer.transport if self.writer is not None else None
        return HandlerState(
            connected=self.writer is not None,
            done=self.done.is_set(),
            cancelled=self.cancelled,
            error=self.error,
            closing_at_return=self.closing_at_return,
            in_drain=self.seen.in_drain,
            in_wait_closed=self.seen.in_wait_closed,
            wait_closed_done=self.seen.wait_closed_done,
            write_buffer=transport.get_write_buffer_size() if transport is not None else 0,
            reading=bool(getattr(transport, "is_reading", lambda: False)()) if transport is not None else False,
            closing=bool(transport.is_closing()) if transport is not None else False,
            aborts=list(self.aborts),
        )

    def cancel(self) -> bool:
        """Cancel the handler (as a server shutting down does); whether it was running."""
        if self.task is None or self.task.done():
            return False
        self.task.cancel()
        return True


@contextlib.asynccontextmanager
async def serve_handler(
    handler: Handler,
    *,
    buffers: int | None = None,
    high_water: int | None = None,
    limit: int = DEFAULT_LIMIT,
    connect_s: float = 3.0,
    close_at_return: bool = True,
) -> AsyncIterator[tuple[HandlerPeer, Client]]:
    """``handler`` (the learner's) served by a :func:`peer_server` that watches its writer
    (:func:`watch_writer`), and an :func:`open_client` connected to it: yields ``(peer,
    client)``. ``buffers`` and ``high_water`` apply to both ends (:func:`set_socket_buffers`),
    ``limit`` to the server's StreamReader. Whatever the handler left open when it returned
    is closed, so each check judges one behaviour; in a split check, a closing check
    passes ``close_at_return=False`` and sees from outside whether the handler closed
    (in one process ``closing_at_return`` says it).

    In a split check the handler is served by the worker (``grader.probes.here.serve``),
    and the client here talks to it over loopback: what the client receives, and when,
    is the checker's own observation; ``peer`` (a ``RemoteHandlerPeer``) holds the
    worker's account of the server end."""
    from grader.split import checker

    link = checker.current()
    if link is not None:
        async with _serve_in_worker(link, handler, buffers, high_water, limit, connect_s, close_at_return) as pair:
            yield pair
        return
    peer = HandlerPeer()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer.seen = server_end(writer, buffers, high_water, peer.aborts)
        try:
            await handler(reader, writer)
        except asyncio.CancelledError:
            peer.cancelled = True
            raise
        finally:
            peer.closing_at_return = writer.is_closing()

    async with (
        peer_server(peer, serve, limit=limit) as address,
        open_client(*address, buffers=buffers, high_water=high_water) as client,
    ):
        if not await wait_event(peer.connected, connect_s):
            fail("The check's server never saw the connection (a problem of the check).")
        yield peer, client


def server_end(
    writer: asyncio.StreamWriter, buffers: int | None, high_water: int | None, aborts: list[int]
) -> WriterWatch:
    """Ready the server end of a handler's connection for a check: ``buffers`` and
    ``high_water`` (see :func:`set_socket_buffers`), its ``drain``/``wait_closed`` watched,
    each ``abort()`` recorded in ``aborts``."""
    if buffers is not None:
        set_socket_buffers(writer, buffers, high_water=high_water)
    _count_aborts(writer.transport, aborts)
    return watch_writer(writer)


def _count_aborts(transport: Any, aborts: list[int]) -> None:
    """Record each ``abort()`` of this transport (on the instance) with the bytes it
    still held to send."""
    real = transport.abort

    def abort() -> None:
        with contextlib.suppress(Exception):
            aborts.append(transport.get_write_buffer_size())
        real()

    with contextlib.suppress(AttributeError):
        transport.abort = abort


@contextlib.asynccontextmanager
async def _serve_in_worker(
    link: Any, handler: Any, buffers: int | None, high_water: int | None, limit: int, connect_s: float,
    close_at_return: bool,
) -> AsyncIterator[tuple[Any, Client]]:  # fmt: skip
    from grader.probes.here import RemoteHandlerPeer

    served = await link.here_async("serve", handler, buffers, high_water, limit, close_at_return)
    peer = RemoteHandlerPeer(link, served)
    completed = False
    try:
        port = link.here("port", served)
        if type(port) is not int or not 0 < port < 65536:
            fail("The check's server in the worker did not start (a problem of the check).")
        async with open_client("127.0.0.1", port, buffers=buffers, high_water=high_water) as client:
            deadline = asyncio.get_running_loop().time() + connect_s
            while not peer.snapshot().connected:
                if asyncio.get_running_loop().time() > deadline:
                    fail("The check's server never saw the connection (a problem of the check).")
                await asyncio.sleep(0.001)
            peer.connected.set()
            peer.watch()
            yield peer, client
            completed = True
    finally:
        await peer.unwatch()
        if not link.closed:
            with contextlib.suppress(Exception):
                await link.here_async("stop", served, completed)


@dataclass
class Closing:
    """What one StreamWriter did about closing: closed by the code (``closed``), waited
    for (``waited``), or closed only by the garbage collector (``collected``: since 3.12 a
    StreamWriter collected unclosed warns and closes itself)."""

    closed: bool = False
    waited: bool = False
    collected: bool = False


@dataclass
class ClosingLog:
    """StreamWriter.close and wait_closed calls, by the writer's local address."""

    writers: dict[Any, Closing] = field(default_factory=dict)

    def of(self, address: tuple[str, int] | None) -> Closing | None:
        return self.writers.get(address) if address is not None else None

    def still_open(self, address: tuple[str, int] | None) -> list[str]:
        """What of this process is bound to ``address`` and not closed (see open_ends)."""
        return open_ends(address)


class _WorkerClosingLog:
    """:class:`ClosingLog` of a split check: the worker records, the checker asks it."""

    def of(self, address: tuple[str, int] | None) -> Closing | None:
        said = self._ask("closing", address)
        if not isinstance(said, dict):
            return None
        return Closing(
            closed=bool(said.get("closed")), waited=bool(said.get("waited")), collected=bool(said.get("collected"))
        )

    def still_open(self, address: tuple[str, int] | None) -> list[str]:
        said = self._ask("open_ends", address)
        return [str(x)[:200] for x in said[:10]] if isinstance(said, list) else []

    @staticmethod
    def _ask(op: str, address: tuple[str, int] | None) -> Any:
        from grader.split import checker

        link = checker.current()
        if link is None or address is None or link.closed:
            return None
        return link.ask_value(op, address=list(address))


def transports_bound_to(address: tuple[str, int] | None) -> list[asyncio.BaseTransport]:
    """This process's transports whose local address is ``address``."""
    if address is None:
        return []
    found = []
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.BaseTransport):
            try:
                name = obj.get_extra_info("sockname")
            except Exception:  # a foreign object may misbehave
                continue
            if name == address:
                found.append(obj)
    return found


def open_ends(address: tuple[str, int] | None) -> list[str]:
    """Transports (or bare sockets) of this process bound to ``address`` and not closed."""
    if address is None:
        return []
    transports = transports_bound_to(address)
    if transports:
        return [f"transport {type(t).__name__} not closed" for t in transports if not t.is_closing()]
    found: list[str] = []
    for obj in gc.get_objects():
        if isinstance(obj, socket.socket) and obj.fileno() != -1:
            with contextlib.suppress(OSError):
                if obj.getsockname() == address:
                    found.append("socket not closed")
    return found


def watch_closing(monkeypatch: Any) -> ClosingLog:
    """Record, for the check's duration (``monkeypatch`` undoes it), which StreamWriters
    were closed and which were waited for (``wait_closed``) after that. In a split check
    the learner's writers live in the worker: it records them there (its account)."""
    from grader.split import checker

    link = checker.current()
    if link is not None:
        link.ask_value("watch_closing")
        return _WorkerClosingLog()  # type: ignore[return-value]
    return _watch_here(ClosingLog(), monkeypatch)


def _watch_here(log: ClosingLog, monkeypatch: Any) -> ClosingLog:
    close, wait_closed = asyncio.StreamWriter.close, asyncio.StreamWriter.wait_closed

    def entry(writer: asyncio.StreamWriter) -> Closing:
        return log.writers.setdefault(writer.get_extra_info("sockname"), Closing())

    def close_observed(self: asyncio.StreamWriter) -> None:
        caller = sys._getframe(1).f_code
        if caller.co_name == "__del__" and caller.co_filename == asyncio.streams.__file__:
            entry(self).collected = True  # nobody closed it: the collector did
        else:
            entry(self).closed = True
        close(self)

    async def wait_closed_observed(self: asyncio.StreamWriter) -> None:
        await wait_closed(self)
        entry(self).waited = True

    monkeypatch.setattr(asyncio.StreamWriter, "close", close_observed)
    monkeypatch.setattr(asyncio.StreamWriter, "wait_closed", wait_closed_observed)
    return log


class ReadCount:
    """Bytes the learner's StreamReaders returned to their callers (``read`` calls)."""

    def __init__(self) -> None:
        self._total = 0

    @property
    def total(self) -> int:
        return self._total


class _WorkerReadCount(ReadCount):
    @property
    def total(self) -> int:
        from grader.split import checker

        link = checker.current()
        if link is None or link.closed:
            return 0
        said = link.ask_value("reads")
        return said if type(said) is int and said >= 0 else 0


def watch_reads(monkeypatch: Any, exclude: Callable[[asyncio.StreamReader], bool] = lambda _r: False) -> ReadCount:
    """Count, for the check's duration, the bytes ``StreamReader.read`` returns, except on
    readers ``exclude`` names (the check's own). In a split check the learner's readers
    live in the worker: it counts them there (its account)."""
    from grader.split import checker

    link = checker.current()
    if link is not None:
        link.ask_value("watch_reads")
        return _WorkerReadCount()
    return _count_here(ReadCount(), monkeypatch, exclude)


def _count_here(
    count: ReadCount, monkeypatch: Any, exclude: Callable[[asyncio.StreamReader], bool] = lambda _r: False
) -> ReadCount:
    real_read = asyncio.StreamReader.read

    async def counted_read(self: asyncio.StreamReader, n: int = -1) -> bytes:
        data = await real_read(self, n)
        if not exclude(self):
            count._total += len(data)
        return data

    monkeypatch.setattr(asyncio.StreamReader, "read", counted_read)
    return count
