"""A correct chat loop inside the seed's `async with writer:` (a TypeError on every
supported Python: StreamWriter is not an async context manager).

Must fail: test_prints_server_lines_while_waiting_for_input, test_script_exits_zero_when_input_ends, test_sends_newline_terminated_lines, test_never_blocks_the_loop, test_returns_zero_when_server_closes_first
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
    if stdin is None:
        stdin, _ = await open_stdin()
    reader, writer = await asyncio.open_connection(host, port)

    async def forward() -> None:
        while line := await stdin.readline():
            writer.write(line if line.endswith(b"\n") else line + b"\n")
            await writer.drain()

    async def show() -> None:
        while line := await reader.readline():
            print(line.decode(), end="", file=out, flush=True)

    async with writer:
        tasks = {asyncio.create_task(forward()), asyncio.create_task(show())}
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
