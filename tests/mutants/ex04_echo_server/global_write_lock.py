"""A module-level asyncio.Lock "so writes never interleave", held across write and drain:
one client that stops reading blocks the echo of every other client.

Must fail: test_serves_many_clients_at_once
"""
from __future__ import annotations

import asyncio
import contextlib

write_lock = asyncio.Lock()


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            async with write_lock:
                writer.write(data)
                await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    return await asyncio.start_server(handle_echo, host, port)
