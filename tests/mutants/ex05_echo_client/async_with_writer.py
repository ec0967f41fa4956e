"""The seed tutorial's `async with writer:`: a StreamWriter is not an async context
manager, so this is a TypeError on every supported Python.

Must fail: test_small_payloads_come_back_unchanged, test_large_payload_does_not_deadlock, test_one_byte_at_a_time, test_half_closes_after_sending, test_returns_what_arrives_before_eof, test_closes_the_connection
"""

from __future__ import annotations

import asyncio


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)

    async def send() -> None:
        writer.write(payload)
        await writer.drain()
        writer.write_eof()

    async with writer:
        sender = asyncio.create_task(send())
        data = await reader.read()
        await sender
        return data
