"""Mutant: `loop.add_reader(sys.stdin, ...)` with `sys.stdin.readline()` in the callback:
lines that arrive together sit in Python's buffer, unseen by the loop, until more comes.

Must fail: test_script_exits_zero_when_input_ends
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


async def forward(q: asyncio.Queue, writer: asyncio.StreamWriter) -> None:
    while True:
        line = await q.get()
        if not line:
            return
        if not line.endswith("\n"):
            line += "\n"
        writer.write(line.encode())
        await writer.drain()


async def forward_reader(stdin: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while line := await stdin.readline():
        if not line.endswith(b"\n"):
            line += b"\n"
        writer.write(line)
        await writer.drain()


async def show(reader: asyncio.StreamReader, out: TextIO) -> None:
    while line := await reader.readline():
        out.write(line.decode(errors="replace"))
        out.flush()


async def chat(host: str, port: int, stdin: asyncio.StreamReader | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(host, port)
    if stdin is None:
        q: asyncio.Queue = asyncio.Queue()
        loop.add_reader(sys.stdin, lambda: q.put_nowait(sys.stdin.readline()))
        sender = asyncio.create_task(forward(q, writer))
    else:
        sender = asyncio.create_task(forward_reader(stdin, writer))
    receiver = asyncio.create_task(show(reader, out))
    try:
        done, pending = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    finally:
        if stdin is None:
            loop.remove_reader(sys.stdin)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
