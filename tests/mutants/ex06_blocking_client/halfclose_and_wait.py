"""At end of input, half-closes (`write_eof()`, as in ex05) and waits for the server to
hang up before returning: against a server that keeps its end open, chat() never ends.

Must fail: test_sends_newline_terminated_lines
"""

from __future__ import annotations

import asyncio
import contextlib
import sys


async def open_stdin():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader, transport


async def chat(host, port, stdin=None, out=None):
    out = sys.stdout if out is None else out
    transport = None
    if stdin is None:
        stdin, transport = await open_stdin()
    reader, writer = await asyncio.open_connection(host, port)

    async def forward():
        while line := await stdin.readline():
            writer.write(line if line.endswith(b"\n") else line + b"\n")
            await writer.drain()
        writer.write_eof()  # "done sending": then wait for the server to hang up

    async def show():
        while line := await reader.readline():
            out.write(line.decode(errors="replace"))
            out.flush()

    fwd, shw = asyncio.create_task(forward()), asyncio.create_task(show())
    try:
        await shw  # the chat ends when the server closes
    finally:
        fwd.cancel()
        with contextlib.suppress(BaseException):
            await fwd
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        if transport is not None:
            transport.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
