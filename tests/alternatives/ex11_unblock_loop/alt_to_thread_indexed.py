"""Alt: to_thread in handle; handle_many collects with as_completed over indexed wrappers
and puts each result back at its index."""
from __future__ import annotations
import asyncio


async def handle(request, hash_fn):
    return await asyncio.to_thread(hash_fn, request)


async def handle_many(requests, hash_fn):
    out = [None] * len(requests)

    async def one(i, r):
        return i, await handle(r, hash_fn)

    for fut in asyncio.as_completed([one(i, r) for i, r in enumerate(requests)]):
        i, value = await fut
        out[i] = value
    return out
