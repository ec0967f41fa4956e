"""Lockstep: reads an input line, sends it, then waits for the server's reply before
reading the next line. Nothing reads the server while it waits for input, so a line the
server pushes on its own stays unread in the socket until the user types something.

Must fail: test_prints_server_lines_while_waiting_for_input, test_never_blocks_the_loop, test_returns_zero_when_server_closes_first, test_script_exits_zero_when_server_closes_first
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO


async def open_stdin() -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader, transport


async def chat(host: str, port: int, stdin: asyncio.StreamReader | None = None, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    transport = None
    if stdin is None:
        stdin, transport = await open_stdin()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while line := await stdin.readline():
            writer.write(line if line.endswith(b"\n") else line + b"\n")
            await writer.drain()
            reply = await reader.readline()  # one reply per message, in lockstep
            if not reply:
                break
            out.write(reply.decode(errors="replace"))
            out.flush()
    finally:
        writer.close()
        await writer.wait_closed()
        if transport is not None:
            transport.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
