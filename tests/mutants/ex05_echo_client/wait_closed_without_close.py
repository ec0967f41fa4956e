"""Mutant: awaits ``writer.wait_closed()`` without ``writer.close()`` first.

``wait_closed()`` only waits: it waits for a close nobody started, so the call hangs until
the server closes its side (the check's servers wait for the client to close).

Must fail: test_small_payloads_come_back_unchanged, test_half_closes_after_sending, test_closes_the_connection
"""

from __future__ import annotations

import asyncio
import contextlib


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        async def send():
            for i in range(0, len(payload), 65536):
                writer.write(payload[i : i + 65536])
                await writer.drain()
            writer.write_eof()

        sender = asyncio.create_task(send())
        received = await reader.read()
        await sender
        return received
    finally:
        await writer.wait_closed()
