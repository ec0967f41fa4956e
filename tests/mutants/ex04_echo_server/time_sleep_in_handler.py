"""Mutant: the handler "rate-limits" itself with ``time.sleep`` after each echo.

``time.sleep`` holds the event loop's thread: every other connection, and every other
piece of this one, waits while the handler sleeps.

Must fail: test_echoes_raw_bytes, test_split_utf8_character_survives, test_closes_after_half_close, test_whole_session_through_start_server
"""

from __future__ import annotations

import asyncio
import time

CHUNK = 64 * 1024


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
            time.sleep(1)
    finally:
        writer.close()
        await writer.wait_closed()


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    return await asyncio.start_server(handle_echo, host, port)
