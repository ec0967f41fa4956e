"""Exercise 05 - echo_client: reference solution."""

from __future__ import annotations

import asyncio

#: Bytes per write: small enough that ``drain()`` applies back-pressure as we go.
CHUNK = 64 * 1024


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:

        async def send() -> None:
            view = memoryview(payload)
            for start in range(0, len(view), CHUNK):
                writer.write(view[start : start + CHUNK])
                await writer.drain()
            writer.write_eof()

        sender = asyncio.create_task(send())
        try:
            received = await reader.read()  # everything, until the server closes
        except BaseException:
            sender.cancel()  # reading failed (or we were cancelled): stop sending too
            await asyncio.wait({sender})
            raise
        await sender  # re-raises a sending error, if any
        return received
    finally:
        writer.close()
        await writer.wait_closed()


if __name__ == "__main__":
    import sys

    host, port = sys.argv[1], int(sys.argv[2])
    reply = asyncio.run(echo_roundtrip(host, port, b"hello, echo\n" * 1000))
    print(f"got {len(reply)} bytes back")
