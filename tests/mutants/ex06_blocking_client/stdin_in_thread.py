"""Reads the process's stdin in a worker thread (`asyncio.to_thread(sys.stdin.buffer.readline)`).
It never blocks the loop and works in-process, but when the server closes first the
thread stays blocked in readline(): `asyncio.run` waits for it at exit, so the script
hangs until the user presses Enter.

Must fail: test_script_exits_zero_when_server_closes_first
"""

from __future__ import annotations

import asyncio
import contextlib
import sys


async def chat(host, port, stdin=None, out=None):
    out = sys.stdout if out is None else out
    reader, writer = await asyncio.open_connection(host, port)

    async def next_line():
        if stdin is not None:
            return await stdin.readline()
        return await asyncio.to_thread(sys.stdin.buffer.readline)

    async def forward():
        while line := await next_line():
            writer.write(line if line.endswith(b"\n") else line + b"\n")
            await writer.drain()

    async def show():
        while line := await reader.readline():
            out.write(line.decode(errors="replace"))
            out.flush()

    tasks = {asyncio.create_task(forward()), asyncio.create_task(show())}
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    for t in done:
        t.result()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
