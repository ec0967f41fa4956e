"""Half-closes properly but reads exactly len(payload) bytes, not until end of file.

Must fail: test_returns_what_arrives_before_eof
"""

from __future__ import annotations

import asyncio


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)

    async def send() -> None:
        writer.write(payload)
        await writer.drain()
        writer.write_eof()

    try:
        sender = asyncio.create_task(send())
        data = await reader.readexactly(len(payload))
        await sender
        return data
    finally:
        writer.close()
        await writer.wait_closed()
