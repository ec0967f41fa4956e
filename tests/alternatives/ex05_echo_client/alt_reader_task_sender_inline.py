"""ex05 alt: roles swapped: reading in a task, sending in the current task; wait for the read after write_eof."""
from __future__ import annotations

import asyncio
import contextlib


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    reading = asyncio.create_task(reader.read())
    try:
        step = 1 << 20
        for off in range(0, len(payload), step):
            writer.write(payload[off : off + step])
            await writer.drain()
        writer.write_eof()
        return await reading
    finally:
        if not reading.done():
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
        writer.close()
        await writer.wait_closed()
