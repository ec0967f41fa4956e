"""ex06 alt: as_completed, take the first finished, cancel the rest; helper class holding the connection."""

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


class Session:
    def __init__(self, reader, writer, stdin, out):
        self.reader, self.writer, self.stdin, self.out = reader, writer, stdin, out

    async def outgoing(self):
        while True:
            line = await self.stdin.readline()
            if not line:
                break
            if not line.endswith(b"\n"):
                line = line + b"\n"
            self.writer.write(line)
            await self.writer.drain()

    async def incoming(self):
        async for line in self.reader:
            self.out.write(line.decode("utf-8", "replace"))
            self.out.flush()

    async def close(self):
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


async def chat(host: str, port: int, stdin: asyncio.StreamReader | None = None, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    stdin_transport = None
    if stdin is None:
        stdin, stdin_transport = await open_stdin()
    try:
        session = Session(*await asyncio.open_connection(host, port), stdin, out)
        try:
            tasks = [asyncio.create_task(session.outgoing()), asyncio.create_task(session.incoming())]
            try:
                for first in asyncio.as_completed(tasks):
                    try:
                        await first
                    except ConnectionError:
                        pass
                    break
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await session.close()
    finally:
        if stdin_transport is not None:
            stdin_transport.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
