"""Mutant: checks `task.done()` every 50 ms (`await asyncio.sleep(0.05)` in a loop) instead
of waiting for the first task to end.

Must fail: test_prints_server_lines_while_waiting_for_input
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from typing import TextIO


async def open_stdin() -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    """The process's standard input as a StreamReader, and the transport to close when
    you are done with it. Works whatever stdin is: a pipe or a terminal (read as lines
    arrive), or a regular file or /dev/null (``< file.txt``), which the loop cannot watch:
    those are read whole in a thread, which always ends. Nothing to fix here."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    protocol = asyncio.StreamReaderProtocol(reader)
    mode = os.fstat(sys.stdin.fileno()).st_mode
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or sys.stdin.isatty():
        transport, _ = await loop.connect_read_pipe(lambda: protocol, sys.stdin)
        return reader, transport
    data = await asyncio.to_thread(sys.stdin.buffer.read)
    reader.feed_data(data)
    reader.feed_eof()
    return reader, _ReadWhole()


class _ReadWhole(asyncio.ReadTransport):
    """Stands in for the pipe transport when stdin was read whole: nothing to close."""

    def close(self) -> None:
        pass

    def is_closing(self) -> bool:
        return True


import contextlib


async def forward(stdin, writer):
    while line := await stdin.readline():
        writer.write(line if line.endswith(b"\n") else line + b"\n")
        await writer.drain()


async def show(reader, out):
    while line := await reader.readline():
        out.write(line.decode("utf-8", "replace"))
        out.flush()


async def chat(host: str, port: int, stdin: asyncio.StreamReader | None = None, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    transport = None
    if stdin is None:
        stdin, transport = await open_stdin()
    reader, writer = await asyncio.open_connection(host, port)
    a = asyncio.create_task(forward(stdin, writer))
    b = asyncio.create_task(show(reader, out))
    try:
        while not (a.done() or b.done()):
            await asyncio.sleep(0.05)
    finally:
        for t in (a, b):
            t.cancel()
        await asyncio.gather(a, b, return_exceptions=True)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        if transport is not None:
            transport.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
