"""Exercise 04 - echo_server: the tutorial's echo server, done right.

What to build
-------------
1. ``async def handle_echo(reader, writer)`` serves one connection: it sends back every
   byte it receives, unchanged, as soon as it arrives, until the client half-closes
   (``write_eof``: the reader reaches end of file). Then it closes the connection
   properly.
2. ``async def start_server(host="127.0.0.1", port=0)`` returns an ``asyncio.Server``
   that is already accepting connections on ``host``/``port`` (port 0: the system
   picks a free port; read it from ``server.sockets``) and serves every client with
   ``handle_echo``, many clients at once.

Below is the tutorial's version of the handler. It runs, it even looks right when you
type "hello" into it, and it is wrong in four ways.

Why it matters
--------------
- **Bytes, not text.** ``reader.read(100)`` returns whatever bytes have arrived, cut
  anywhere. "é" is two bytes in UTF-8: when a read ends between them, ``data.decode()``
  raises ``UnicodeDecodeError`` (and a client sending a PNG never sent text at all). An
  echo server has no reason to decode: write back the bytes you read.
- **Flow control.** ``writer.write()`` never waits: it appends to a buffer in memory.
  If the client sends and does not read, a server that only writes buffers everything
  it receives, without limit. ``await writer.drain()`` waits while that buffer is above
  its high-water mark; the handler stops reading, and TCP slows the client down.
- **Closing.** The tutorial never closes the writer: every finished client leaves an
  open socket behind. Close it with ``writer.close()`` then ``await
  writer.wait_closed()`` (on every path: ``try``/``finally``). ``async with writer`` is
  not the way: a StreamWriter is not an async context manager.
- **Many clients.** ``asyncio.start_server`` runs one ``handle_echo`` task per
  connection; your handler must not make clients wait for each other.

Docs: https://docs.python.org/3/library/asyncio-stream.html (``start_server``,
``StreamReader.read``, ``StreamWriter.drain``, ``StreamWriter.close``/``wait_closed``)
"""

from __future__ import annotations

import asyncio


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # TODO: the tutorial's handler. Fix it: bytes in, bytes out; drain; close properly.
    while True:
        data = await reader.read(100)
        if not data:
            break
        message = data.decode()
        writer.write(message.encode())


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    # TODO: return a server that is already accepting, serving each client with
    # handle_echo (do not call serve_forever here: it never returns).
    raise NotImplementedError("start_server")


async def main() -> None:
    server = await start_server("127.0.0.1", 8888)
    print("serving on", server.sockets[0].getsockname())
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
