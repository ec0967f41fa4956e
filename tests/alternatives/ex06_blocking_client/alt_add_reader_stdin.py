"""ex06 alt: for the process's stdin (a pipe or tty) uses loop.add_reader + os.read feeding a StreamReader instead of open_stdin(); falls back to open_stdin() for files. Server side read in chunks with read(n), written as they come (whole lines or parts, as soon as they arrive)."""

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


def _stdin_via_add_reader():
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    reader = asyncio.StreamReader()
    was_blocking = os.get_blocking(fd)
    os.set_blocking(fd, False)

    def readable():
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if data:
            reader.feed_data(data)
        else:
            loop.remove_reader(fd)
            reader.feed_eof()

    loop.add_reader(fd, readable)

    def cleanup():
        loop.remove_reader(fd)
        os.set_blocking(fd, was_blocking)

    return reader, cleanup


async def chat(host: str, port: int, stdin: asyncio.StreamReader | None = None, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    cleanup = None
    if stdin is None:
        mode = os.fstat(sys.stdin.fileno()).st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or sys.stdin.isatty():
            stdin, cleanup = _stdin_via_add_reader()
        else:
            stdin, transport = await open_stdin()
            cleanup = transport.close
    try:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            async def forward():
                while line := await stdin.readline():
                    writer.write(line if line.endswith(b"\n") else line + b"\n")
                    await writer.drain()

            async def show():
                while data := await reader.read(4096):
                    out.write(data.decode("utf-8", "replace"))
                    out.flush()

            tasks = [asyncio.create_task(forward()), asyncio.create_task(show())]
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in pending:
                t.cancel()
            await asyncio.wait(tasks)
            for t in done:
                if not t.cancelled() and t.exception() and not isinstance(t.exception(), ConnectionError):
                    raise t.exception()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
    finally:
        if cleanup is not None:
            cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
