"""Mutant: connects and sends in a coroutine that is called but never scheduled (no
``create_task``, no ``await``), then waits for it to say it is connected.

The coroutine never runs: no connection ever reaches the server, and the wait never ends.

Must fail: test_small_payloads_come_back_unchanged, test_large_payload_does_not_deadlock, test_one_byte_at_a_time, test_half_closes_after_sending, test_returns_what_arrives_before_eof, test_long_runs_without_line_breaks, test_waits_for_a_slow_answer, test_closes_the_connection
"""

from __future__ import annotations

import asyncio


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    connected = asyncio.Event()
    streams: list[asyncio.StreamReader] = []

    async def connect_and_send() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        streams.append(reader)
        connected.set()
        writer.write(payload)
        await writer.drain()
        writer.write_eof()

    sender = connect_and_send()  # a coroutine object: it runs only once awaited or a task
    await connected.wait()
    received = await streams[0].read()
    await sender
    return received
