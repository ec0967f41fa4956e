"""ex01 alt: greet defined in version branches (the source alone cannot say which one runs)."""
from __future__ import annotations

import asyncio
import sys

if sys.version_info >= (3, 7):
    async def greet(name: str, delay: float) -> str:
        await asyncio.sleep(delay)
        return f"Hello, {name}!"
else:  # pragma: no cover - pre-3.5 style, never taken on a supported Python
    @asyncio.coroutine
    def greet(name, delay):
        yield from asyncio.sleep(delay)
        return "Hello, {}!".format(name)


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def greet_all() -> list[str]:
        return list(await asyncio.gather(*(greet(n, delay) for n in names)))
    return asyncio.run(greet_all())
