"""The tutorial's receive loop, `while True: data = await reader.readline()`, with no
end: once the server closes, readline() returns b"" at once, forever. The coroutine never
waits again, so it spins on the CPU and the event loop never runs anything else.

Must fail: test_script_exits_zero_when_server_closes_first, test_returns_zero_when_server_closes_first
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import TextIO


async def open_stdin() -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader, transport


async def receive_messages(reader: asyncio.StreamReader, out: TextIO) -> None:
    while True:
        data = await reader.readline()
        out.write(data.decode())
        out.flush()


async def send_messages(stdin: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while line := await stdin.readline():
        writer.write(line if line.endswith(b"\n") else line + b"\n")
        await writer.drain()


async def chat(host: str, port: int, stdin: asyncio.StreamReader | None = None, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    transport = None
    if stdin is None:
        stdin, transport = await open_stdin()
    reader, writer = await asyncio.open_connection(host, port)
    tasks = {
        asyncio.create_task(send_messages(stdin, writer)),
        asyncio.create_task(receive_messages(reader, out)),
    }
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        if transport is not None:
            transport.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
