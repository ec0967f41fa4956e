"""Mutant: a module-level semaphore serves at most 10 clients at once; the 11th waits
until one of them disconnects.

Must fail: test_serves_many_clients_at_once
"""

from __future__ import annotations

import asyncio

CHUNK = 64 * 1024
_slots = asyncio.Semaphore(10)


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async with _slots:
        try:
            while data := await reader.read(CHUNK):
                writer.write(data)
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
