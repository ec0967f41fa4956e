"""ex06 alt: TaskGroup; whichever side ends raises a private _Stop exception, caught with except*."""
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




class _Stop(Exception):
    pass

async def _pump_input(stdin, writer):
    async for line in stdin:
        writer.write(line if line[-1:] == b"\n" else line + b"\n")
        await writer.drain()
    raise _Stop("input ended")

async def _pump_server(reader, out):
    async for line in reader:
        print(line.decode("utf-8", "replace"), end="", file=out, flush=True)
    raise _Stop("server closed")

async def chat(host, port, stdin=None, out=None):
    out = out if out is not None else sys.stdout
    stdin_transport = None
    if stdin is None:
        stdin, stdin_transport = await open_stdin()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(_pump_input(stdin, writer))
            tg.create_task(_pump_server(reader, out))
    except* _Stop:
        pass
    except* ConnectionError:
        pass
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass
        if stdin_transport is not None:
            stdin_transport.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
