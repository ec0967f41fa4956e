"""Closes with transport.abort() "so no socket lingers": abort throws away what is still in
the write buffer, so a client that reads late loses the end of its echo.

Must fail: test_closes_after_half_close
"""
from __future__ import annotations

import asyncio


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.transport.abort()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    return await asyncio.start_server(handle_echo, host, port)
