"""ex05 alt: gather(send(), receive()) with a bytearray buffer converted to bytes."""
from __future__ import annotations

import asyncio
import contextlib


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)

    async def send():
        view = memoryview(payload)
        while view:
            writer.write(view[:8192])
            view = view[8192:]
            await writer.drain()
        writer.write_eof()

    async def receive():
        buf = bytearray()
        while True:
            data = await reader.read(4096)
            if not data:
                return bytes(buf)
            buf += data

    try:
        _, received = await asyncio.gather(send(), receive())
        return received
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
