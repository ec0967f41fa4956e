"""Exercise 07 - threads_to_tasks: convert a threaded port scanner to tasks.

What to build
-------------
``scan_with_threads`` below is a classic threaded port scanner: a pool of ``limit``
threads, each blocking in ``port_is_open`` until a connection attempt succeeds or fails.
It works. ``scan`` is a first attempt at porting it to asyncio, and it still thinks in
threads: it runs every probe in a pool thread, on an event loop of its own. It works
too, with a real network. Rewrite ``scan`` with **tasks**:

``async def scan(host, ports, probe, limit=100) -> list[int]``

- calls ``await probe(host, port)`` once for every port in ``ports``; ``probe`` returns
  ``True`` when the port is open (``tcp_probe`` below is one, the checks pass fakes);
- runs the probes **concurrently, on the running event loop**, with **at most
  ``limit`` probes in flight** and the whole budget used: while ports are waiting,
  ``limit`` probes run;
- returns the open ports as a ``list`` of ``int``, **sorted ascending**;
- **starts no threads** (no executor, no ``asyncio.to_thread``, no ``asyncio.run``
  inside ``scan``).

Why it matters
--------------
A thread per connection attempt is how scanners were written before asyncio, and the
tutorial you started from suggests threads for "blocking I/O". But waiting on the
network needs no thread: a coroutine waiting on a socket costs a few hundred bytes,
while a thread reserves a stack, is scheduled by the OS at any moment, and shares
memory with every other thread (the tutorial says threads "have their own memory":
they do not, which is why ``scan_with_threads`` needs a lock around its list).

``scan`` here shows the half-way port people write first: coroutines run in threads,
each on a private event loop. It keeps every cost of threads and adds an event loop
per probe; worse, a probe that uses anything tied to the caller's loop (a lock, a
queue, a connection pool) breaks, because it runs on another loop. The async version
is shorter: ``asyncio.Semaphore(limit)`` (or ``limit`` worker tasks sharing the ports)
and ``asyncio.gather``.

Docs: https://docs.python.org/3/library/asyncio-task.html#running-tasks-concurrently
(``gather``), https://docs.python.org/3/library/asyncio-sync.html#asyncio.Semaphore and
https://docs.python.org/3/library/asyncio-dev.html#concurrency-and-multithreading
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

# --- the original, threaded scanner (read it; nothing to change) ----------------------


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """The blocking probe: can we open a TCP connection to ``host:port``?"""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def scan_with_threads(host: str, ports: list[int], limit: int = 100) -> list[int]:
    """At most ``limit`` threads, each blocked in one ``port_is_open`` at a time."""
    open_ports: list[int] = []
    lock = threading.Lock()  # threads share memory: the list needs a lock

    def check(port: int) -> None:
        if port_is_open(host, port):
            with lock:
                open_ports.append(port)

    with ThreadPoolExecutor(max_workers=limit) as pool:
        list(pool.map(check, ports))
    return sorted(open_ports)


# --- the async probe (nothing to change) -------------------------------------------------


async def tcp_probe(host: str, port: int, timeout: float = 0.5) -> bool:
    """The async probe: ``port_is_open`` without blocking the loop."""
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


# --- the port to fix ---------------------------------------------------------------------


async def scan(
    host: str,
    ports: list[int],
    probe: Callable[[str, int], Awaitable[bool]],
    limit: int = 100,
) -> list[int]:
    # TODO: this is still the threaded design. Replace it with tasks on the running loop:
    #       at most `limit` probes in flight (asyncio.Semaphore or `limit` worker tasks),
    #       no executor, no asyncio.run; return the open ports sorted.

    def run_probe(port: int) -> bool:
        # One private event loop per probe, in a pool thread.
        return asyncio.run(probe(host, port))  # type: ignore[arg-type]

    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=limit) as pool:
        results = await asyncio.gather(*(loop.run_in_executor(pool, run_probe, p) for p in ports))
    return sorted(port for port, is_open in zip(ports, results) if is_open)


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    found = asyncio.run(scan(target, list(range(1, 1025)), tcp_probe, limit=200))
    print(f"open ports on {target}: {found}")
