"""Sleeps a little after each read ("rate limiting") with `time.sleep`: every sleep stops the
whole loop, every client waits.

Must fail: test_start_server_listens_on_loopback, test_echoes_raw_bytes
"""
import asyncio, time, socket, contextlib

async def handle_echo(reader, writer):
    try:
        while data := await reader.read(4096):
            time.sleep(0.05)  # "rate limiting"
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()

async def start_server(host="127.0.0.1", port=0):
    return await asyncio.start_server(handle_echo, host, port)

