"""Waits a little with `time.sleep` before reading ("give the server time"): the sleep
stops the whole loop, the check-side server included.

Must fail: test_small_payloads_come_back_unchanged, test_half_closes_after_sending
"""
import asyncio, time

async def echo_roundtrip(host, port, payload):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        async def send():
            for i in range(0, len(payload), 65536):
                writer.write(payload[i:i + 65536])
                await writer.drain()
            writer.write_eof()
        t = asyncio.create_task(send())
        time.sleep(0.1)  # give the server time to answer
        data = await reader.read()
        await t
        return data
    finally:
        writer.close()
        await writer.wait_closed()
