"""Mutant: a file written by someone who read the checks -- it computes on the loop and,
when handed the checks' ``report_pid``, returns made-up pids instead of calling it, so
that every call seems to have run in another process.

The pids are not the evidence: report_pid's result is a token from the check's roll,
which heard from the kernel which process asked for it. Made-up values map to no call.

Must fail: test_work_runs_in_worker_processes, test_calls_run_in_parallel, test_loop_keeps_running, test_works_with_spawn
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


def slow_square(n: int) -> int:
    total = 0
    for _ in range(n):
        total += n
    return total


async def crunch_all(nums: list[int], fn: Callable[[int], Any] = slow_square) -> list[Any]:
    if getattr(fn, "__name__", "") == "report_pid":
        return [(n, os.getpid() + 1 + i) for i, n in enumerate(nums)]
    return [fn(n) for n in nums]
