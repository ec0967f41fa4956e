"""Mutant: the tutorial's decode/encode of each chunk (with drain and close added).

A read that ends inside a multi-byte character, or any invalid UTF-8, raises
UnicodeDecodeError.

Must fail: test_echoes_raw_bytes, test_split_utf8_character_survives, test_whole_session_through_start_server
"""

from __future__ import annotations

import asyncio

CHUNK = 64 * 1024


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(100):
            message = data.decode()
            writer.write(message.encode())
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    return await asyncio.start_server(handle_echo, host, port)


async def main() -> None:
    server = await start_server("127.0.0.1", 8888)
    print("serving on", server.sockets[0].getsockname())
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
