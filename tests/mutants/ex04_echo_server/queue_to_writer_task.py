"""Mutant: a reader task feeds an unbounded queue, a writer task drains.

The writer task waits in drain(), but the reader keeps reading: the data piles up
in the queue instead of the write buffer. No flow control.

Must fail: test_flow_control_with_drain
"""

from __future__ import annotations

import asyncio
import contextlib

CHUNK = 64 * 1024


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    async def pump_out() -> None:
        while data := await queue.get():
            writer.write(data)
            await writer.drain()

    out = asyncio.create_task(pump_out())
    try:
        while data := await reader.read(CHUNK):
            queue.put_nowait(data)
        queue.put_nowait(b"")
        await out
    finally:
        out.cancel()
        writer.close()
        with contextlib.suppress(ConnectionError):
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
