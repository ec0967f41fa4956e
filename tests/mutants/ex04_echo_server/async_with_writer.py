"""Closes the writer with `async with writer:` (the tutorial's way): a StreamWriter is not
an async context manager, so every connection fails with TypeError before echoing.

Must fail: test_start_server_listens_on_loopback, test_echoes_raw_bytes, test_split_utf8_character_survives, test_closes_after_half_close, test_serves_many_clients_at_once
"""

from __future__ import annotations

import asyncio
import contextlib

CHUNK = 64 * 1024


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async with writer:  # the tutorial's way to close: a TypeError on 3.11-3.13
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    return await asyncio.start_server(handle_echo, host, port)


async def main() -> None:
    server = await start_server("127.0.0.1", 8888)
    print("serving on", server.sockets[0].getsockname())
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
