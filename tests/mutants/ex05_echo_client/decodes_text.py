"""Decodes what it receives as UTF-8 (the seed's `data.decode()`): binary payloads break.

Must fail: test_small_payloads_come_back_unchanged
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
        text = ""
        while chunk := await reader.read(4096):
            text += chunk.decode()
        await sender
        return text.encode()
    finally:
        writer.close()
        await writer.wait_closed()
