"""ex01 alt: greet uses asyncio.timeout around an Event that is never set; main gathers explicit tasks."""
from __future__ import annotations
import asyncio


async def greet(name: str, delay: float) -> str:
    try:
        async with asyncio.timeout(delay):
            await asyncio.Event().wait()
    except TimeoutError:
        pass
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def go():
        tasks = [asyncio.create_task(greet(name, delay), name=f"greet-{i}") for i, name in enumerate(names)]
        return await asyncio.gather(*tasks)

    return list(asyncio.run(go()))
