"""Mutant: the read loop never stops: at end of file it spins on ``read()``.

``read(n)`` returns b"" at once at end of file and ``drain()`` has nothing to wait for,
so once the client half-closes the handler loops forever without giving the loop back.

Must fail: test_echoes_raw_bytes, test_split_utf8_character_survives, test_closes_after_half_close, test_whole_session_through_start_server
"""

from __future__ import annotations

import asyncio

CHUNK = 64 * 1024


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(CHUNK)
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    return await asyncio.start_server(handle_echo, host, port)
