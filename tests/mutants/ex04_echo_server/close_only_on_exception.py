"""Closes after the loop and in `except Exception`, not in finally: a cancelled handler
(server shutdown; CancelledError is not an Exception) leaves its connection open.

Must fail: test_closes_when_cancelled
"""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(1024)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.close()
        await writer.wait_closed()
    except Exception as exc:
        log.info("client error: %r", exc)
        writer.close()


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    return await asyncio.start_server(handle_echo, host, port)
