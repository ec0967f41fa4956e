"""Guesses the end of the echo from silence: stops reading once nothing has arrived for
a second (`wait_for(reader.read(n), 1.0)`), instead of reading until end of file. A
server that takes longer to answer gets cut off.

Must fail: test_waits_for_a_slow_answer
"""

from __future__ import annotations

import asyncio

async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)

    async def send():
        writer.write(payload)
        await writer.drain()
        writer.write_eof()

    sender = asyncio.create_task(send())
    try:
        chunks = []
        while True:
            try:
                data = await asyncio.wait_for(reader.read(65536), 1.0)
            except TimeoutError:
                break  # "nothing for a second: the server is done"
            if not data:
                break
            chunks.append(data)
        sender.cancel()
        return b"".join(chunks)
    finally:
        writer.close()
        await writer.wait_closed()
