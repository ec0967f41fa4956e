"""ex01 alt: asyncio.wait on a list of tasks (empty names handled)."""
from __future__ import annotations
import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return "Hello, %s!" % name


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def go():
        tasks = [asyncio.ensure_future(greet(n, delay)) for n in names]
        if tasks:
            await asyncio.wait(tasks)
        return [t.result() for t in tasks]

    return asyncio.run(go())
