"""Mutant: waits for input and the server in turns, each under a 0.1 s `wait_for` timeout:
the loop wakes ten times a second with nothing to do.

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


async def chat(host: str, port: int, stdin: asyncio.StreamReader | None = None, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    transport = None
    if stdin is None:
        stdin, transport = await open_stdin()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            try:
                line = await asyncio.wait_for(stdin.readline(), 0.1)
            except asyncio.TimeoutError:
                pass
            else:
                if not line:
                    break
                if not line.endswith(b"\n"):
                    line += b"\n"
                writer.write(line)
                await writer.drain()
            try:
                reply = await asyncio.wait_for(reader.readline(), 0.1)
            except asyncio.TimeoutError:
                continue
            if not reply:
                break
            out.write(reply.decode(errors="replace"))
            out.flush()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        if transport:
            transport.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
