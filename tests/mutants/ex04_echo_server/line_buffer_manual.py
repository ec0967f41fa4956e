"""Buffers what it reads and echoes only complete lines (split on b"\n"), the rest at end
of file: no byte lost, but a piece without a newline is not echoed as soon as it arrives.

Must fail: test_echoes_raw_bytes, test_split_utf8_character_survives, test_closes_after_half_close
"""
from __future__ import annotations

import asyncio


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    buf = b""
    try:
        while True:
            data = await reader.read(4096)
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                writer.write(line + b"\n")
                await writer.drain()
        if buf:
            writer.write(buf)
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    return await asyncio.start_server(handle_echo, host, port)
