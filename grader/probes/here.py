"""Probes that run where the learner's objects live, and their stand-ins in the checker.

In a split check (``grader.split``) the learner's module runs in a worker process. Some
things can only be looked at there: the server end of a connection the learner's handler
serves, a transport's write buffer, where a task waits. The functions in :data:`PROBES`
run in the worker, on the checker's request (``Link.here``); what they answer is the
worker's **account**: a check uses it to explain what it observed from outside (bytes,
end of file, a stalled sender: its own sockets), and names in SECURITY.md each verdict
that rests on it.

The learner's handler, mounted on a server of the worker's (:func:`serve`), is served
exactly as on a check-side server in one process (:func:`grader.probes.network.serve_handler`):
its writer's ``drain`` and ``wait_closed`` watched, its aborts counted, its end recorded.
:class:`RemoteHandlerPeer` is the checker's view of it, with :class:`HandlerState`
snapshots taken there.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grader import probes
from grader.probes.network import WriterWatch, close_writer, server_end

#: The worker-side probes, by name.
PROBES: dict[str, Callable[..., Any]] = {}


def _probe(function: Callable[..., Any]) -> Callable[..., Any]:
    PROBES[function.__name__] = function
    return function


@dataclass
class HandlerState:
    """The server end of a served connection at one moment (plain data)."""

    connected: bool = False
    done: bool = False
    cancelled: bool = False
    error: BaseException | None = None
    closing_at_return: bool = False
    in_drain: int = 0
    in_wait_closed: int = 0
    wait_closed_done: bool = False
    write_buffer: int = 0
    reading: bool = False
    closing: bool = False
    #: Each ``abort()`` of the transport: the bytes still in its write buffer then.
    aborts: list[int] = field(default_factory=list)

    def paused_in_drain(self) -> bool:
        """Suspended inside drain() on an open transport: held by flow control (drain
        returns at once unless writing is paused)."""
        return self.in_drain > 0 and not self.closing


# --- in the worker ----------------------------------------------------------------------


class Served:
    """A server of this process on 127.0.0.1 that mounts the learner's handler, and the
    one connection a check makes to it."""

    def __init__(self) -> None:
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.task: asyncio.Task[Any] | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.seen = WriterWatch()
        self.aborts: list[int] = []
        self.ended = asyncio.Event()
        self.cancelled = False
        self.error: BaseException | None = None
        self.closing_at_return = False


@_probe
async def serve(handler: Any, buffers: int | None, high_water: int | None, limit: int, close_at_return: bool) -> Served:
    """Serve ``handler`` (the learner's) on 127.0.0.1, port 0: the server end of each
    connection gets ``buffers`` and ``high_water`` (see ``set_socket_buffers``), its reader
    ``limit``. With ``close_at_return``, what the handler left open when it ended is
    closed (each check judges one behaviour); without, the client sees what the handler
    did."""
    served = Served()

    async def serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.task, served.writer = asyncio.current_task(), writer
        served.seen = server_end(writer, buffers, high_water, served.aborts)
        try:
            await handler(reader, writer)
        except asyncio.CancelledError:
            served.cancelled = True
        except Exception as exc:  # the check explains it
            served.error = exc
        finally:
            served.closing_at_return = writer.is_closing()
            if close_at_return:
                await close_writer(writer)
            served.ended.set()

    served.server = await asyncio.start_server(serve_one, "127.0.0.1", 0, limit=limit)
    served.port = int(served.server.sockets[0].getsockname()[1])
    return served


@_probe
def port(served: Served) -> int:
    return served.port


@_probe
def state(served: Served) -> dict[str, Any]:
    """A :class:`HandlerState`, as plain data (what crosses by value)."""
    transport = served.writer.transport if served.writer is not None else None
    return {
        "connected": served.writer is not None,
        "done": served.ended.is_set(),
        "cancelled": served.cancelled,
        "error": served.error,
        "closing_at_return": served.closing_at_return,
        "in_drain": served.seen.in_drain,
        "in_wait_closed": served.seen.in_wait_closed,
        "wait_closed_done": served.seen.wait_closed_done,
        "write_buffer": transport.get_write_buffer_size() if transport is not None else 0,
        "reading": bool(getattr(transport, "is_reading", lambda: False)()) if transport is not None else False,
        "closing": bool(transport.is_closing()) if transport is not None else False,
        "aborts": list(served.aborts[:100]),
    }


def _state_from(said: Any) -> HandlerState:
    """A :class:`HandlerState` from what the worker said, every field checked."""
    if not isinstance(said, dict):
        return HandlerState()
    names = ("connected", "done", "cancelled", "closing_at_return", "wait_closed_done", "reading", "closing")
    flags: dict[str, Any] = {name: said.get(name) is True for name in names}
    counts: dict[str, Any] = {
        name: value if type(value := said.get(name)) is int and value >= 0 else 0
        for name in ("in_drain", "in_wait_closed", "write_buffer")
    }
    error = said.get("error")
    aborts = said.get("aborts")
    return HandlerState(
        **flags,
        **counts,
        error=error if isinstance(error, BaseException) else None,
        aborts=[n for n in aborts if type(n) is int][:100] if isinstance(aborts, list) else [],
    )


@_probe
async def ended(served: Served) -> None:
    """Returns once the handler has ended."""
    await served.ended.wait()


@_probe
def cancel(served: Served) -> bool:
    """Cancel the handler (as a server shutting down does); whether it was running."""
    if served.task is None or served.task.done():
        return False
    served.task.cancel()
    return True


@_probe
async def stop(served: Served, completed: bool) -> None:
    """Leave nothing behind (as ``peer_server`` does): a handler still running gets a
    second to end, then its connection is aborted, then it is cancelled; after a check
    that failed, it is cancelled at once. Then the server is closed."""
    task = served.task
    for how in (None, "abort", "cancel") if completed else ("cancel",):
        if task is None or task.done():
            break
        if how == "abort" and served.writer is not None:
            served.writer.transport.abort()
        elif how == "cancel":
            task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    if served.writer is not None and not served.writer.is_closing():
        served.writer.transport.abort()  # a handler that ended without closing: the check is over
    await _close_server(served.server)


async def _close_server(server: Any) -> None:
    if server is None:
        return
    with contextlib.suppress(Exception):
        server.close()
    with contextlib.suppress(Exception, asyncio.TimeoutError):
        await asyncio.wait_for(server.wait_closed(), 1.0)


@_probe
def held_back() -> bool:
    """Whether the learner's code waits in ``reader.read(n)`` with nothing left in that
    reader and nothing in its transport's write buffer: all it read so far, it kept (or
    dropped). Not so for readline, readexactly or read() to end of file: they leave the
    bytes in the reader, or are waiting for end of file (``n`` is -1)."""
    reads = []
    for task in asyncio.all_tasks():
        chain = probes.await_chain(task)
        if any(frame.f_code.co_filename == probes.TARGET_FILE for frame in chain):
            streams = [frame for frame in chain if frame.f_globals.get("__name__") == "asyncio.streams"]
            if streams:
                reads.append(streams[0])  # the reader method the learner's code called
    if not reads:
        return False
    for frame in reads:
        reader, n = frame.f_locals.get("self"), frame.f_locals.get("n")
        if frame.f_code.co_name != "read" or not isinstance(reader, asyncio.StreamReader):
            return False
        if type(n) is not int or n <= 0 or reader._buffer:  # type: ignore[attr-defined]
            return False
        transport = getattr(reader, "_transport", None)
        if transport is not None and transport.get_write_buffer_size():
            return False
    return True


@_probe
async def turns(n: int) -> int:
    """Let this process's loop run ``n`` rounds before answering (each one polls its
    sockets): a check about to read what the kernel says of this process's sockets gives
    it its turn first."""
    for _ in range(max(0, min(int(n), 100))):
        await asyncio.sleep(0)
    return n


@_probe
def server_info(server: Any) -> dict[str, Any]:
    """What the learner's start_server returned: a server or not, the addresses it
    listens on, whether it accepts connections yet."""
    info: dict[str, Any] = {"server": isinstance(server, asyncio.AbstractServer), "sockets": [], "serving": False}
    with contextlib.suppress(Exception):
        info["sockets"] = [
            [str(s.getsockname()[0]), int(s.getsockname()[1])] for s in (getattr(server, "sockets", None) or ())
        ][:20]
    with contextlib.suppress(Exception):
        info["serving"] = bool(server.is_serving())
    return info


@_probe
async def close_server(server: Any) -> None:
    await _close_server(server)


def _server_end(peer: tuple[str, int]) -> Any:
    """The transport of this process whose peer is ``peer``: the server end of a check's
    connection to the learner's server (a streams or a Protocol server alike)."""
    loop: Any = asyncio.get_running_loop()
    for key in list(loop._selector.get_map().values()):
        for handle in key.data or ():
            transport = getattr(getattr(handle, "_callback", None), "__self__", None)
            if isinstance(transport, asyncio.Transport) and transport.get_extra_info("peername") == peer:
                return transport
    return None


@_probe
async def shrink_server_end(peer: list[Any], size: int, high_water: int) -> bool:
    """Give the server end of the check's connection from ``peer`` small socket buffers
    and a small high-water mark (flow control shows after a few KiB); whether found."""
    import socket

    for _ in range(20):
        transport = _server_end((str(peer[0]), int(peer[1])))
        if transport is not None:
            sock = transport.get_extra_info("socket")
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                sock.setsockopt(socket.SOL_SOCKET, option, size)
            transport.set_write_buffer_limits(high=high_water)
            return True
        await asyncio.sleep(0)
    return False


@_probe
def server_end_buffered(peer: list[Any]) -> int | None:
    """Bytes waiting in the write buffer of the server end of the check's connection
    from ``peer`` (None: not found)."""
    transport = _server_end((str(peer[0]), int(peer[1])))
    return None if transport is None else int(transport.get_write_buffer_size())


@_probe
def new_stdin() -> asyncio.StreamReader:
    """A StreamReader of this process, for the learner's code to read as its input; the
    checker feeds it (:func:`feed`, :func:`feed_eof`)."""
    return asyncio.StreamReader()


@_probe
def feed(reader: asyncio.StreamReader, data: bytes) -> None:
    reader.feed_data(bytes(data))


@_probe
def feed_eof(reader: asyncio.StreamReader) -> None:
    reader.feed_eof()


class _WritesBack(io.TextIOBase):
    """A text stream of this process whose every write is handed, at once, to a callable
    of the checker's (a call back: what is written is observed there)."""

    def __init__(self, write: Callable[[str], Any]) -> None:
        super().__init__()
        self._write = write

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if text:
            self._write(text)
        return len(text)


@_probe
def screen(write: Callable[[str], Any]) -> io.TextIOBase:
    """A text stream for the learner's code to write to (its ``out``): each write goes to
    ``write``, the checker's."""
    return _WritesBack(write)


class TaskSet:
    """Tasks of this process, held (as a check holding ``new_tasks(before)`` holds them)."""

    def __init__(self, tasks: set[asyncio.Task[Any]]) -> None:
        self.tasks = tasks


def _the_graders(task: asyncio.Task[Any]) -> bool:
    """A task the worker runs for the checker (its calls of the learner's code)."""
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and code.co_filename.endswith(("grader/split/worker.py", "grader/probes/here.py"))


@_probe
def tasks_now() -> TaskSet:
    """The tasks of the running loop now (see :func:`tasks_since`)."""
    return TaskSet(set(asyncio.all_tasks()))


@_probe
def tasks_since(before: TaskSet) -> TaskSet:
    """The learner's tasks pending now that were not in ``before``."""
    return TaskSet({t for t in asyncio.all_tasks() if t not in before.tasks and not _the_graders(t)})


@_probe
def task_states(tasks: TaskSet) -> list[dict[str, Any]]:
    """Each task's state, as plain data: done, cancelled, its cancelling() count, whether
    it failed, and whether it runs an awaitable of the checker's in a task of its own."""
    states = []
    for task in list(tasks.tasks)[:100]:
        code = getattr(task.get_coro(), "cr_code", None)
        states.append(
            {
                "done": task.done(),
                "cancelled": task.cancelled(),
                "cancelling": task.cancelling(),
                "failed": task.done() and not task.cancelled() and task.exception() is not None,
                "runs_checkers": code is not None
                and code.co_name == "awaiting"
                and code.co_filename.endswith("grader/split/worker.py"),
            }
        )
    return states


@_probe
def collect() -> None:
    """Collect garbage here now (a task nothing keeps is destroyed, as in one process)."""
    import gc

    gc.collect()


# --- in the checker ---------------------------------------------------------------------


def now(name: str, *args: Any) -> Any:
    """:func:`ask` for a probe that answers at once, from code that cannot await (a
    snapshot taken in the very step a call ends)."""
    from grader.split import checker

    link = checker.current()
    if link is not None:
        return link.here(name, *args)
    return PROBES[name](*args)


async def ask(name: str, *args: Any) -> Any:
    """Run the probe ``name`` where the learner's objects are: in the worker (a split
    check: its account), or here."""
    from grader.split import checker

    link = checker.current()
    if link is not None:
        return await link.here_async(name, *args)
    result = PROBES[name](*args)
    return await result if asyncio.iscoroutine(result) else result


class RemoteHandlerPeer:
    """The checker's view of a handler the worker serves (:func:`serve`): ``connected``
    and ``done`` are events of the checker's loop; everything else is a
    :class:`HandlerState` snapshot asked of the worker (its account)."""

    def __init__(self, link: Any, served: Any) -> None:
        self._link = link
        self._served = served
        self.connected = asyncio.Event()
        self.done = asyncio.Event()
        self._watching: asyncio.Future[Any] | None = None

    def watch(self) -> None:
        async def until_ended() -> None:
            with contextlib.suppress(Exception):
                await self._link.here_async("ended", self._served)
                self.done.set()

        self._watching = asyncio.ensure_future(until_ended())

    async def unwatch(self) -> None:
        if self._watching is not None and not self._watching.done():
            self._watching.cancel()
            with contextlib.suppress(BaseException):
                await self._watching

    def snapshot(self) -> HandlerState:
        if self._link.closed:
            return HandlerState(done=True)
        try:
            return _state_from(self._link.here("state", self._served))
        except Exception:
            return HandlerState()

    @property
    def error(self) -> BaseException | None:
        return self.snapshot().error

    def cancel(self) -> bool:
        return bool(self._link.here("cancel", self._served))


# The probes of other modules, registered on import (they use _probe above).
from grader.probes import crunch as _crunch  # noqa: E402,F401
from grader.probes import unblock as _unblock  # noqa: E402,F401
