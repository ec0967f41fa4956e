"""Keeps the server alive with the tutorial's `loop.run_forever()` inside a coroutine:
RuntimeError, the loop is already running (asyncio.run started it), and the listening
socket leaks.

Must fail: test_start_server_listens_on_loopback, test_serves_many_clients_at_once, test_whole_session_through_start_server
"""


from __future__ import annotations

import asyncio
import contextlib

CHUNK = 64 * 1024


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):  # b"" only at end of file
            writer.write(data)  # bytes in, the same bytes out: never decode a chunk
            await writer.drain()  # wait while the client is not reading (flow control)
    except ConnectionError:
        pass  # the client vanished (reset): there is no one left to echo to
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    server = await asyncio.start_server(handle_echo, host, port)
    # The tutorial's way to keep a server alive: run the loop forever.
    asyncio.get_event_loop().run_forever()
    return server


async def main() -> None:
    server = await start_server("127.0.0.1", 8888)
    print("serving on", server.sockets[0].getsockname())
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
