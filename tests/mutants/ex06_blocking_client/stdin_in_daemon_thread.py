"""Reads the process's stdin in a daemon thread that feeds the loop. The loop never
blocks and chat() returns when the server closes first, but the thread is still inside
`sys.stdin.buffer.readline()` when the interpreter shuts down: CPython aborts the process
("could not acquire lock for <_io.BufferedReader name='<stdin>'> at interpreter shutdown").

Must fail: test_script_exits_zero_when_server_closes_first
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from typing import TextIO


def _pump(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[bytes]) -> None:
    while True:
        line = sys.stdin.buffer.readline()
        with contextlib.suppress(RuntimeError):  # the loop closed
            loop.call_soon_threadsafe(lines.put_nowait, line)
        if not line:
            return


async def chat(host: str, port: int, stdin: asyncio.StreamReader | None = None, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    lines: asyncio.Queue[bytes] = asyncio.Queue()
    if stdin is None:
        threading.Thread(target=_pump, args=(asyncio.get_running_loop(), lines), daemon=True).start()
    reader, writer = await asyncio.open_connection(host, port)

    async def next_line() -> bytes:
        return await (stdin.readline() if stdin is not None else lines.get())

    async def forward() -> None:
        while line := await next_line():
            writer.write(line if line.endswith(b"\n") else line + b"\n")
            await writer.drain()

    async def show() -> None:
        while line := await reader.readline():
            out.write(line.decode(errors="replace"))
            out.flush()

    tasks = {asyncio.create_task(forward()), asyncio.create_task(show())}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
