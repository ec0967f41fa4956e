"""Prints the server's lines without flushing: into a pipe, stdout is block-buffered.

Must fail: test_prints_server_lines_while_waiting_for_input
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO


async def open_stdin() -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    return reader, transport


async def chat(host: str, port: int, stdin: asyncio.StreamReader | None = None, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    transport = None
    if stdin is None:
        stdin, transport = await open_stdin()
    reader, writer = await asyncio.open_connection(host, port)

    async def forward() -> None:
        while line := await stdin.readline():
            writer.write(line if line.endswith(b"\n") else line + b"\n")
            await writer.drain()

    async def show() -> None:
        while line := await reader.readline():
            print(line.decode(), end="", file=out, flush=False)

    tasks = {asyncio.create_task(forward()), asyncio.create_task(show())}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        await writer.wait_closed()
        if transport is not None:
            transport.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
