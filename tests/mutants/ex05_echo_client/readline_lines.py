"""Reads the echo line by line (`readline()` until b''), as a chat client would: fine
while every line is short, but a run of more than 64 KiB without b"\n" overflows the
StreamReader's limit and readline() raises ValueError. An echo client carries bytes.

Must fail: test_long_runs_without_line_breaks
"""

from __future__ import annotations

import asyncio

async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)

    async def send():
        writer.write(payload)
        await writer.drain()
        writer.write_eof()

    sender = asyncio.create_task(send())
    try:
        lines = []
        while line := await reader.readline():
            lines.append(line)
        await sender
        return b"".join(lines)
    finally:
        writer.close()
        await writer.wait_closed()
