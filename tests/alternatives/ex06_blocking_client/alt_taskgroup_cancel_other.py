"""ex06 alt: TaskGroup; each task cancels its sibling when it ends (done-callback), readuntil() for server lines."""

from __future__ import annotations

import asyncio
import os
import stat
import contextlib
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


async def chat(host: str, port: int, stdin: asyncio.StreamReader | None = None, out: TextIO | None = None) -> int:
    if out is None:
        out = sys.stdout
    transport = None
    if stdin is None:
        stdin, transport = await open_stdin()
    try:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            async def forward():
                while True:
                    line = await stdin.readline()
                    if line == b"":
                        return
                    if line[-1:] != b"\n":
                        line += b"\n"
                    writer.write(line)
                    await writer.drain()

            async def show():
                while True:
                    try:
                        line = await reader.readuntil(b"\n")
                    except asyncio.IncompleteReadError as e:
                        if e.partial:
                            out.write(e.partial.decode("utf-8", "replace"))
                            out.flush()
                        return
                    out.write(line.decode("utf-8", "replace"))
                    out.flush()

            async with asyncio.TaskGroup() as tg:
                a = tg.create_task(forward())
                b = tg.create_task(show())
                a.add_done_callback(lambda _: b.cancel())
                b.add_done_callback(lambda _: a.cancel())
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
    finally:
        if transport is not None:
            transport.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
