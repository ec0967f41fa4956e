"""Exercise 05 - echo_client: a client that sends and receives at the same time.

What to build
-------------
``async def echo_roundtrip(host, port, payload)`` connects to an echo server at
``host:port`` and:

1. sends every byte of ``payload``;
2. half-closes the connection (``writer.write_eof()``): "I have nothing more to send";
3. returns **every byte the server sent back, until the server closes** (end of file),
   as one ``bytes`` object;
4. closes its end of the connection properly before returning
   (``writer.close()`` then ``await writer.wait_closed()``).

It must work for a payload of any size, 32 MiB included, and while the server answers
in any pieces (one byte at a time too).

Why it matters
--------------
The seed tutorial's client writes and never reads the replies. With a small message
that goes unnoticed; with a large one it deadlocks. An echo server sends back what it
receives, and a well-behaved server (the ex04 one) stops *reading* while its *writes*
are not draining. The socket buffers between you hold a few MiB at most. So a client
that first sends everything (``write`` + ``await drain()``) and only then starts
reading waits in ``drain()`` forever: you wait for the server to read, the server waits
for you to read. Nobody moves.

The cure is to send and receive **at the same time**: one task feeds the payload in
(``write`` + ``await drain()``, piece by piece), while another (or the current one)
reads until end of file. That is what concurrency on one thread is for.

Two more lessons from the seed's client:

- ``async with writer:`` is a ``TypeError``: a ``StreamWriter`` is not an async context
  manager. Close it yourself, in a ``try``/``finally``.
- Half-closing tells the server you are done while you keep reading its answer. Without
  ``write_eof()`` a server that answers after your last byte waits for you forever.

Docs: https://docs.python.org/3/library/asyncio-stream.html#streamwriter
(``write``, ``drain``, ``write_eof``, ``close``, ``wait_closed``),
https://docs.python.org/3/library/asyncio-stream.html#asyncio.StreamReader.read and
https://docs.python.org/3/library/asyncio-task.html#creating-tasks
"""

from __future__ import annotations

import asyncio  # noqa: F401  (you will need it)


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    # TODO: open the connection with `await asyncio.open_connection(host, port)`.
    # TODO: send `payload` (write + await drain) in a task of its own, then `write_eof()`.
    # TODO: meanwhile read until end of file; return the bytes received.
    # TODO: in a `finally:`, close the writer and wait until it is closed.
    raise NotImplementedError("echo_roundtrip")


if __name__ == "__main__":
    import sys

    host, port = sys.argv[1], int(sys.argv[2])
    reply = asyncio.run(echo_roundtrip(host, port, b"hello, echo\n" * 1000))
    print(f"got {len(reply)} bytes back")
