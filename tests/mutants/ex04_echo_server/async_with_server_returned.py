"""Mutant: start_server returns from inside ``async with server:``.

Leaving the ``async with`` block closes the server, so the caller gets a server that
no longer listens: the code does call ``asyncio.start_server``, but too much around it.

Must fail: test_start_server_listens_on_loopback, test_serves_many_clients_at_once, test_whole_session_through_start_server
"""

from __future__ import annotations

import asyncio
import contextlib


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    server = await asyncio.start_server(handle_echo, host, port)
    async with server:
        return server
