"""ex05 alt: one write() of the whole payload, write_eof(), then read(): write never blocks, so no deadlock (the transport buffers the payload and flushes it as the server reads). Contract satisfied; memory cost of one copy."""
from __future__ import annotations

import asyncio
import contextlib


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(payload)
        writer.write_eof()
        return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
