"""Keeps `input()` on the loop (adds a task that prints replies, which never gets to run
while input() waits).

Must fail: test_prints_server_lines_while_waiting_for_input, test_sends_newline_terminated_lines, test_never_blocks_the_loop, test_script_exits_zero_when_server_closes_first
"""

from __future__ import annotations

import asyncio
import contextlib
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
    reader, writer = await asyncio.open_connection(host, port)

    async def show() -> None:
        while line := await reader.readline():
            print(line.decode(), end="", file=out, flush=True)

    printer = asyncio.create_task(show())
    try:
        while True:
            await asyncio.sleep(0)  # "let the printer run"
            try:
                message = input()
            except EOFError:
                break
            writer.write((message + "\n").encode())
            await writer.drain()
    finally:
        printer.cancel()
        with contextlib.suppress(BaseException):
            await printer
        writer.close()
        await writer.wait_closed()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
