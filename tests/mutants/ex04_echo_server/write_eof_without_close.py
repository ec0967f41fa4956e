"""Mutant: answers the half-close with write_eof() and returns without closing the writer:
the client sees end of file, but the socket stays open.

Must fail: test_closes_after_half_close
"""

from __future__ import annotations

import asyncio

CHUNK = 64 * 1024


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(CHUNK):
        writer.write(data)
        await writer.drain()
    writer.write_eof()


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    return await asyncio.start_server(handle_echo, host, port)


async def main() -> None:
    server = await start_server("127.0.0.1", 8888)
    print("serving on", server.sockets[0].getsockname())
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
