"""ex04 alt: read(1024) in while True/break, except OSError, start_server with keyword args."""
from __future__ import annotations

import asyncio
import contextlib


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(1024)
            if data == b"":
                break
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    server = await asyncio.start_server(handle_echo, host=host, port=port)
    return server
