"""ex06 alt: main task prints the server; the input task closes the writer at end of input, which ends the main read loop (connection_lost feeds EOF)."""
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




async def chat(host, port, stdin=None, out=None):
    out = out or sys.stdout
    pipe = None
    if stdin is None:
        stdin, pipe = await open_stdin()
    reader, writer = await asyncio.open_connection(host, port)

    async def send_lines():
        try:
            while True:
                line = await stdin.readline()
                if line == b"":
                    break
                if not line.endswith(b"\n"):
                    line = line + b"\n"
                writer.write(line)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    sender = asyncio.create_task(send_lines())
    try:
        while True:
            try:
                line = await reader.readline()
            except ConnectionError:
                break
            if not line:
                break
            out.write(line.decode("utf-8", "replace"))
            out.flush()
    finally:
        sender.cancel()
        try:
            await sender
        except asyncio.CancelledError:
            pass
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass
        if pipe is not None:
            pipe.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
