"""ex04 alt: read(n) with the reader's limit as n, writelines([data]), and exceptions left to propagate (only close in finally)."""
from __future__ import annotations

import asyncio
import contextlib


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(2**16)
            if not data:
                return
            writer.writelines([data])
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    return await asyncio.start_server(handle_echo, host, port, limit=2**16)
