"""ex04 alt: a small EchoSession helper class; start_server with start_serving=False then start_serving()."""
from __future__ import annotations

import asyncio
import contextlib


class EchoSession:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def pump(self) -> None:
        while not self.reader.at_eof():
            data = await self.reader.read(4096)
            if data:
                self.writer.write(data)
                await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    session = EchoSession(reader, writer)
    try:
        await session.pump()
    except ConnectionError:
        pass
    finally:
        await session.close()


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    server = await asyncio.start_server(handle_echo, host, port, start_serving=False)
    await server.start_serving()
    return server
