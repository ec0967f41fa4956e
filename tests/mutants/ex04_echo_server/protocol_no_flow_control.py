"""A Protocol server from a blog: data_received writes straight back and never pauses
reading (no pause_writing/resume_writing), so a client that does not read makes the
server's write buffer grow without limit; handle_echo is right but start_server does not
use it.

Must fail: test_serves_many_clients_at_once
"""
from __future__ import annotations

import asyncio
import contextlib


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def eof_received(self):
        return False  # close the transport once the buffer is flushed


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(EchoProtocol, host, port)
