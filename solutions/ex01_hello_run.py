"""Exercise 01 - hello_run: reference solution."""

from __future__ import annotations

import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def greet_all() -> list[str]:
        return list(await asyncio.gather(*(greet(name, delay) for name in names)))

    return asyncio.run(greet_all())


if __name__ == "__main__":
    print(main(["Ada", "Grace", "Guido"]))
