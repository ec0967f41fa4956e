"""Prints replies in a background task, but only the end of input ends the chat: when the
server closes first, it keeps waiting for input forever.

Must fail: test_returns_zero_when_server_closes_first, test_script_exits_zero_when_server_closes_first
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
    transport = None
    if stdin is None:
        stdin, transport = await open_stdin()
    reader, writer = await asyncio.open_connection(host, port)

    async def show() -> None:
        while line := await reader.readline():
            out.write(line.decode())
            out.flush()

    printer = asyncio.create_task(show())
    try:
        while line := await stdin.readline():
            writer.write(line if line.endswith(b"\n") else line + b"\n")
            await writer.drain()
    finally:
        printer.cancel()
        with contextlib.suppress(BaseException):
            await printer
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        if transport is not None:
            transport.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
