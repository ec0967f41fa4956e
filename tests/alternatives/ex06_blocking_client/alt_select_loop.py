"""ex06 alt: select-style loop: keeps one pending readline task per side across iterations."""
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

def _terminated(line: bytes) -> bytes:
    return line if line.endswith(b"\n") else line + b"\n"

async def chat(host, port, stdin=None, out=None):
    out = sys.stdout if out is None else out
    transport = None
    if stdin is None:
        stdin, transport = await open_stdin()
    reader, writer = await asyncio.open_connection(host, port)
    user = asyncio.ensure_future(stdin.readline())
    net = asyncio.ensure_future(reader.readline())
    try:
        while True:
            done, _ = await asyncio.wait({user, net}, return_when=asyncio.FIRST_COMPLETED)
            if net in done:
                line = net.result()
                if not line:
                    break
                out.write(line.decode(errors="replace"))
                out.flush()
                net = asyncio.ensure_future(reader.readline())
            if user in done:
                line = user.result()
                if not line:
                    break
                writer.write(_terminated(line))
                await writer.drain()
                user = asyncio.ensure_future(stdin.readline())
    except ConnectionError:
        pass
    finally:
        for fut in (user, net):
            fut.cancel()
        await asyncio.gather(user, net, return_exceptions=True)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        if transport is not None:
            transport.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
