"""Sends everything (write + drain), and only then starts reading the echo.

The server stops reading while its echo is not drained, so `drain()` never returns
once the socket buffers are full: the classic echo-client deadlock.

Must fail: test_large_payload_does_not_deadlock
"""

from __future__ import annotations

import asyncio


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(payload)
        await writer.drain()
        writer.write_eof()
        return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
