"""ex05 alt: asyncio.wait(FIRST_EXCEPTION) over sender/receiver tasks, explicit cancellation on failure."""
from __future__ import annotations

import asyncio
import contextlib


async def _send(writer: asyncio.StreamWriter, payload: bytes) -> None:
    for i in range(0, len(payload), 65536):
        writer.write(payload[i : i + 65536])
        await writer.drain()
    writer.write_eof()


async def _receive(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while not reader.at_eof():
        parts.append(await reader.read(1 << 16))
    return b"".join(parts)


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        sender = asyncio.create_task(_send(writer, payload))
        receiver = asyncio.create_task(_receive(reader))
        done, pending = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_EXCEPTION)
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.wait(pending)
        for t in (sender, receiver):
            if t in done and t.exception() is not None:
                raise t.exception()
        return receiver.result()
    finally:
        writer.close()
        await writer.wait_closed()
