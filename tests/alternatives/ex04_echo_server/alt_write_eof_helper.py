"""ex04 alt: chunks from an async generator, write_eof() answers the half-close, then close
and wait_closed in a helper called from finally."""
from __future__ import annotations

import asyncio


async def aclose(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        async for chunk in _chunks(reader):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        pass
    finally:
        await aclose(writer)


async def _chunks(reader: asyncio.StreamReader):
    while True:
        data = await reader.read(65536)
        if not data:
            return
        yield data


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    server = await asyncio.start_server(handle_echo, host, port)
    assert server.is_serving()
    return server
