"""Mutant: computes every result right there, inside the coroutine.

An ``async def`` body runs on the loop's thread: the loop is frozen until the whole list
is done, and nothing runs in another process.

Must fail: test_work_runs_in_worker_processes, test_calls_run_in_parallel, test_loop_keeps_running, test_works_with_spawn
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def slow_square(n: int) -> int:
    total = 0
    for _ in range(n):
        total += n
    return total


async def crunch_all(nums: list[int], fn: Callable[[int], Any] = slow_square) -> list[Any]:
    return [fn(n) for n in nums]
