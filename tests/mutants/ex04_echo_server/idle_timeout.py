"""Mutant: a 2-second timeout around each read: a client that stays silent longer is cut off,
though it never half-closed.

Must fail: test_closes_after_half_close
"""
import asyncio

async def handle_echo(reader, writer):
    try:
        while True:
            try:
                data = await asyncio.wait_for(reader.read(4096), timeout=2.0)
            except asyncio.TimeoutError:
                break
            if not data:
                break
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()

async def start_server(host="127.0.0.1", port=0):
    return await asyncio.start_server(handle_echo, host, port)
