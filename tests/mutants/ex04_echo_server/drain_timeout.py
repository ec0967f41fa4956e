""""Protects the server from slow clients": drain() under wait_for(5 s); a client that does
not read for 5 s is disconnected, though the contract is to wait (TCP slows it down).

Must fail: test_flow_control_with_drain
"""
from __future__ import annotations

import asyncio


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            try:
                await asyncio.wait_for(writer.drain(), timeout=5)
            except asyncio.TimeoutError:
                print("slow client, dropping")
                break
    except ConnectionError:
        pass
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    return await asyncio.start_server(handle_echo, host, port)
