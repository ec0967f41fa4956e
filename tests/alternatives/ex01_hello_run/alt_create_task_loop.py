"""ex01 alt: create_task loop, then await each task in order; greet waits on a future set by call_later."""
from __future__ import annotations
import asyncio


async def greet(name: str, delay: float) -> str:
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    handle = loop.call_later(delay, fut.set_result, None)
    try:
        await fut
    finally:
        handle.cancel()
    return f"Hello, {name}!"


async def _all(names, delay):
    tasks = []
    for n in names:
        tasks.append(asyncio.create_task(greet(n, delay)))
    out = []
    for t in tasks:
        out.append(await t)
    return out


def main(names: list[str], delay: float = 0.1) -> list[str]:
    return asyncio.run(_all(names, delay))
