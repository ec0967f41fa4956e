"""Mutant: writes and drains in a fire-and-forget task per chunk, so the reading loop
never waits for drain(): no flow control.

Must fail: test_flow_control_with_drain
"""

from __future__ import annotations

import asyncio

CHUNK = 64 * 1024
_background: set[asyncio.Task[None]] = set()


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            task = asyncio.create_task(_send(writer, data))
            _background.add(task)
            task.add_done_callback(_background.discard)
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
