"""Forwards input without blocking, but never reads what the server sends (the seed's FLAW 3).

Must fail: test_prints_server_lines_while_waiting_for_input, test_never_blocks_the_loop, test_returns_zero_when_server_closes_first, test_script_exits_zero_when_server_closes_first
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import TextIO


async def open_stdin() -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    return reader, transport


async def chat(host: str, port: int, stdin: asyncio.StreamReader | None = None, out: TextIO | None = None) -> int:
    transport = None
    if stdin is None:
        stdin, transport = await open_stdin()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while line := await stdin.readline():
            if not line.endswith(b"\n"):
                line += b"\n"
            writer.write(line)
            await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        if transport is not None:
            transport.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
