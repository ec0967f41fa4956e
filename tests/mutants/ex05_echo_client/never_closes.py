"""Correct round trip, but the connection is never closed (a leaked transport).

Must fail: test_closes_the_connection
"""

from __future__ import annotations

import asyncio


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)

    async def send() -> None:
        writer.write(payload)
        await writer.drain()
        writer.write_eof()

    sender = asyncio.create_task(send())
    data = await reader.read()
    await sender
    return data
