"""Mutant: sends in a task while it reads, but takes a read shorter than asked for the end
of the echo: it stops reading long before the server's end of file (a 32 MiB echo arrives
in many pieces), and the server, its echo unread, stops reading too.

Must fail: test_large_payload_does_not_deadlock
"""
import asyncio

async def echo_roundtrip(host, port, payload):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        async def send():
            writer.write(payload)
            await writer.drain()
            writer.write_eof()
        sender = asyncio.create_task(send())
        chunks = []
        while True:
            chunk = await reader.read(65536)
            chunks.append(chunk)
            if len(chunk) < 65536:
                break
        await sender
        return b"".join(chunks)
    finally:
        writer.close()
        await writer.wait_closed()
