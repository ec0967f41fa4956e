"""Mutant: the classic mistake (``hash_fn`` called on the event loop's own thread), with
the grader's fake told otherwise.

The fake ``hash_fn`` the checks pass is an object of the grader's in the learner's
process: this file makes it believe the loop runs on no thread at all and that the loop
answered its ping. The fake then reports a free loop, and until the checker had a
witness of its own (``grader.probes.witness``: whether the loop's thread wakes when its
loop is woken, by the kernel's account) that report scored both loop checks, 5 points.
Nothing here reaches for the grader's modules, frames or the garbage collector: the
static scan flags none of it.

Must fail: test_loop_runs_while_handle_blocks, test_loop_runs_while_handle_many_blocks, test_handle_many_overlaps_calls
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


def _tell_it_the_loop_is_free(hash_fn: Callable[[bytes], bytes]) -> None:
    watch = getattr(hash_fn, "watch", None)
    if watch is not None:
        watch.loop_thread = -1  # "this is not the loop's thread"
        watch.round_trip = lambda: True  # "the loop answered"
        watch.blocked_at = lambda: None


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    _tell_it_the_loop_is_free(hash_fn)
    return hash_fn(request)


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    return list(await asyncio.gather(*(handle(r, hash_fn) for r in requests)))
