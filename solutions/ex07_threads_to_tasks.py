"""Exercise 07 - threads_to_tasks: reference solution."""

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


# --- the port, done with tasks -------------------------------------------------------------


async def scan(
    host: str,
    ports: list[int],
    probe: Callable[[str, int], Awaitable[bool]],
    limit: int = 100,
) -> list[int]:
    slots = asyncio.Semaphore(limit)

    async def probe_one(port: int) -> bool:
        async with slots:
            return await probe(host, port)

    results = await asyncio.gather(*(probe_one(port) for port in ports))
    return sorted(port for port, is_open in zip(ports, results, strict=True) if is_open)


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    found = asyncio.run(scan(target, list(range(1, 1025)), tcp_probe, limit=200))
    print(f"open ports on {target}: {found}")
