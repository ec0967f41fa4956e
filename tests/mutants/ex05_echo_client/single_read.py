"""Reads once: `read(n)` returns what has arrived so far, not everything.

Must fail: test_one_byte_at_a_time, test_large_payload_does_not_deadlock
"""

from __future__ import annotations

import asyncio


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(payload)
        writer.write_eof()
        return await reader.read(len(payload) or 1)
    finally:
        writer.close()
        await writer.wait_closed()
