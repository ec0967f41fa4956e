"""ex01 alt: TaskGroup, results read from the tasks after the group exits."""
from __future__ import annotations
import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def runner() -> list[str]:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(greet(n, delay)) for n in names]
        return [t.result() for t in tasks]

    return asyncio.run(runner())
