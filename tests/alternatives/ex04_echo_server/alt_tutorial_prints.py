"""ex04 alt: the tutorial's shape fixed (reading 64 KiB at a time), keeping its print() calls (peer address on connect and close, the address served): in a split run print() goes to the checker over the worker's socket, which is not the learner's blocking call."""
import asyncio


async def handle_echo(reader, writer):
    addr = writer.get_extra_info("peername")
    print(f"connection from {addr!r}")
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        print(f"closing {addr!r}")
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


async def start_server(host="127.0.0.1", port=0):
    server = await asyncio.start_server(handle_echo, host, port)
    print("serving on", server.sockets[0].getsockname())
    return server
