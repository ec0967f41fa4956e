"""ex01 alt: greet is a static method of a class, bound at top level as `greet = Greeter.greet`."""
from __future__ import annotations

import asyncio


class Greeter:
    @staticmethod
    async def greet(name: str, delay: float) -> str:
        await asyncio.sleep(delay)
        return f"Hello, {name}!"


greet = Greeter.greet


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def greet_all() -> list[str]:
        return list(await asyncio.gather(*(greet(n, delay) for n in names)))
    return asyncio.run(greet_all())
