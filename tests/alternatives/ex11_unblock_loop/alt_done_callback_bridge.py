"""Alt: a lazily created module-level pool (64 workers); the concurrent future's done
callback copies the outcome into an asyncio future via call_soon_threadsafe; handle_many
uses functools.partial over gather."""
from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor

_POOL = None


def _pool():
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=64)
    return _POOL


def _copy(cf, af):
    if af.cancelled():
        return
    exc = cf.exception()
    if exc is not None:
        af.set_exception(exc)
    else:
        af.set_result(cf.result())


async def handle(request, hash_fn):
    loop = asyncio.get_running_loop()
    af = loop.create_future()
    cf = _pool().submit(hash_fn, request)
    cf.add_done_callback(lambda f: loop.call_soon_threadsafe(_copy, f, af))
    return await af


async def handle_many(requests, hash_fn):
    one = functools.partial(handle, hash_fn=hash_fn)
    return list(await asyncio.gather(*map(one, requests)))
