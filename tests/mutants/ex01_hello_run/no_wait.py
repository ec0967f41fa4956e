"""Mutant: forgets to wait at all (returns at once).

Must fail: test_greet_returns_greeting_after_delay
"""

import asyncio


async def greet(name: str, delay: float) -> str:
    asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def greet_all() -> list[str]:
        return list(await asyncio.gather(*(greet(n, delay) for n in names)))

    return asyncio.run(greet_all())
