"""ex06 alt: both sides post events to an asyncio.Queue; chat() consumes until an end event."""
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




async def _lines(source, tag, queue):
    try:
        while line := await source.readline():
            await queue.put((tag, line))
    finally:
        await queue.put((tag, None))

async def chat(host, port, stdin=None, out=None):
    out = out or sys.stdout
    pipe = None
    if stdin is None:
        stdin, pipe = await open_stdin()
    reader, writer = await asyncio.open_connection(host, port)
    queue: asyncio.Queue = asyncio.Queue()
    workers = [asyncio.create_task(_lines(stdin, "in", queue)),
               asyncio.create_task(_lines(reader, "net", queue))]
    try:
        while True:
            tag, line = await queue.get()
            if line is None:
                break
            if tag == "net":
                out.write(line.decode("utf-8", "replace"))
                out.flush()
            else:
                if not line.endswith(b"\n"):
                    line += b"\n"
                writer.write(line)
                await writer.drain()
    except ConnectionError:
        pass
    finally:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
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
