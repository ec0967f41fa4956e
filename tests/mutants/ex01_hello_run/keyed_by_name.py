"""Mutant: keys the coroutines by name in a dict, so a name given twice is greeted once
(the first coroutine for it is overwritten and never awaited).

Must fail: test_main_greets_concurrently
"""

import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def greet_all() -> list[str]:
        coros = {n: greet(n, delay) for n in names}
        done = dict(zip(coros, await asyncio.gather(*coros.values()), strict=True))
        return [done[n] for n in names]

    return asyncio.run(greet_all())
