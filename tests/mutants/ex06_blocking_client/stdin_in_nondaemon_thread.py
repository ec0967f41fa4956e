"""Reads the process's stdin in a plain (non-daemon) `threading.Thread` that feeds the
loop. The loop never blocks, but when the server closes first the thread stays blocked
in readline(): Python joins every non-daemon thread at exit, so the script hangs until
the user presses Enter.

Must fail: test_script_exits_zero_when_server_closes_first
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading


async def chat(host, port, stdin=None, out=None):
    out = sys.stdout if out is None else out
    reader, writer = await asyncio.open_connection(host, port)
    loop = asyncio.get_running_loop()
    q = asyncio.Queue()
    if stdin is None:

        def pump():
            while True:
                line = sys.stdin.readline()
                loop.call_soon_threadsafe(q.put_nowait, line.encode())
                if not line:
                    return

        threading.Thread(target=pump).start()

    async def nxt():
        return await (stdin.readline() if stdin is not None else q.get())

    async def forward():
        while line := await nxt():
            writer.write(line)
            await writer.drain()

    async def show():
        while line := await reader.readline():
            out.write(line.decode())
            out.flush()

    tasks = {asyncio.create_task(forward()), asyncio.create_task(show())}
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for t in tasks:
        t.cancel()
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
