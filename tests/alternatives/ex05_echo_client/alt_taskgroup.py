"""ex05 alt: TaskGroup with a sender task and a receiver task (read(n) loop into a list)."""
from __future__ import annotations

import asyncio
import contextlib


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        async def send() -> None:
            for i in range(0, len(payload), 16384):
                writer.write(payload[i : i + 16384])
                await writer.drain()
            writer.write_eof()

        async def receive() -> bytes:
            chunks = []
            while chunk := await reader.read(65536):
                chunks.append(chunk)
            return b"".join(chunks)

        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(send())
                got = tg.create_task(receive())
        except* Exception as eg:
            raise eg.exceptions[0]
        return got.result()
    finally:
        writer.close()
        await writer.wait_closed()
