"""Mutant: main greets with a constant delay instead of passing its own `delay` on.

Must fail: test_main_greets_concurrently
"""

import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def greet_all() -> list[str]:
        return list(await asyncio.gather(*(greet(n, 0.1) for n in names)))

    return asyncio.run(greet_all())
