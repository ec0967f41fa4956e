"""Closes the writer but never awaits `wait_closed()`: the caller gets a connection that
is still closing (ex04 fails the same mistake).

Must fail: test_closes_the_connection
"""

from __future__ import annotations

import asyncio

CHUNK = 64 * 1024


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)

    async def send() -> None:
        for start in range(0, len(payload), CHUNK):
            writer.write(payload[start : start + CHUNK])
            await writer.drain()
        writer.write_eof()

    sender = asyncio.create_task(send())
    try:
        received = await reader.read()
        await sender
        return received
    finally:
        sender.cancel()
        writer.close()
