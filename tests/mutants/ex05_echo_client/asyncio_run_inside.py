"""Mutant: the coroutine starts a second event loop with ``asyncio.run``.

``echo_roundtrip`` already runs on a loop; ``asyncio.run`` refuses to start another one
in the same thread (RuntimeError), so nothing is ever sent.

Must fail: test_small_payloads_come_back_unchanged, test_large_payload_does_not_deadlock, test_one_byte_at_a_time, test_half_closes_after_sending, test_returns_what_arrives_before_eof, test_long_runs_without_line_breaks, test_waits_for_a_slow_answer, test_closes_the_connection
"""

from __future__ import annotations

import asyncio


async def _roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:

        async def send() -> None:
            writer.write(payload)
            await writer.drain()
            writer.write_eof()

        sender = asyncio.create_task(send())
        received = await reader.read()
        await sender
        return received
    finally:
        writer.close()
        await writer.wait_closed()


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    return asyncio.run(_roundtrip(host, port, payload))
