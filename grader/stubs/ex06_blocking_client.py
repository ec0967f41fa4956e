"""Exercise 06 - blocking_client: fix the tutorial's chat client.

What to build
-------------
Below is the seed tutorial's client, copied as it is. It looks plausible and it is
wrong in four ways (marked ``FLAW``). Repair ``chat`` so that

``async def chat(host, port, stdin=None, out=None) -> int``

- connects to ``host:port`` and, **at the same time**:
  - forwards each line read from ``stdin`` to the server, **terminated by ``\\n``**
    (a last line without one gets one);
  - writes each line the server sends to ``out`` **as soon as it arrives** (and flushes
    ``out``), even while no input comes;
- when ``stdin`` ends (``readline()`` returns ``b""``), closes the connection cleanly
  and returns ``0``;
- when the server closes first, stops reading input, closes and returns ``0`` too.

``stdin`` is an ``asyncio.StreamReader`` (``None``: the process's standard input, see
``open_stdin()`` below); ``out`` is a text stream (``None``: ``sys.stdout``). Running
``python ex06_blocking_client.py HOST PORT`` calls ``chat`` and exits with its return
value (already written at the bottom; keep it). Three checks run your file that way,
its standard input a pipe the grader keeps open and empty, and read what the script is
doing from the operating system (``/proc``) instead of waiting out a time limit: a main
thread blocked reading stdin, a script idle on its event loop with the server's line
unread or unprinted, a loop spinning on the CPU are reported as soon as they are seen.

Why it matters
--------------
``input()`` is an ordinary blocking call. Called on the event loop's thread, it freezes
the loop until you press Enter: no task runs, so nothing the server sends can be shown
(and in a server, no other client would be served). The tutorial's client never even
reads the server, and the server cannot tell where one of your messages ends and the
next begins without a delimiter. Finally, ``async with writer:`` is a ``TypeError``:
a ``StreamWriter`` is not an async context manager.

The fix is the core idea of asyncio: two things that wait (for your keyboard, for the
network) become two tasks, and the loop runs whichever has something to do. Reading
the keyboard must itself be awaitable: ``await stdin.readline()`` on a StreamReader
connected to the standard input (``open_stdin()`` does that for you).

Docs: https://docs.python.org/3/library/asyncio-dev.html#running-blocking-code,
https://docs.python.org/3/library/asyncio-stream.html (``StreamReader.readline``,
``StreamWriter.close``), https://docs.python.org/3/library/asyncio-task.html#waiting-primitives
(``asyncio.wait`` with ``FIRST_COMPLETED``) and
https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.connect_read_pipe
"""

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


async def send_message(writer: asyncio.StreamWriter) -> None:
    while True:
        message = input("Enter a message: ")  # FLAW 1: blocks the whole event loop
        writer.write(message.encode())  # FLAW 2: no "\n": where does a message end?
        await writer.drain()
        print(f"Sent: {message}")


async def chat(
    host: str,
    port: int,
    stdin: asyncio.StreamReader | None = None,
    out: TextIO | None = None,
) -> int:
    # TODO: use `stdin` (or `await open_stdin()` when it is None) and `out` (or sys.stdout).
    reader, writer = await asyncio.open_connection(host, port)
    # FLAW 3: `reader` is never read: the server's lines are never shown.
    # TODO: one task forwards input lines, another prints server lines (flush!);
    #       stop when either ends, cancel the other, return 0.
    async with writer:  # FLAW 4: TypeError, a StreamWriter is not an async context manager
        await send_message(writer)
    # TODO: close in a `finally:`: writer.close(); await writer.wait_closed()
    writer.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1], int(sys.argv[2]))))
