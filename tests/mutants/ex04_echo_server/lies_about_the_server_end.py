"""Mutant: a handler that never drains and never closes, whose worker then lies about
the server end: the grader's worker-side probes (reached through the module table, no
import) say the handler waits in drain() with its transport paused, its write buffer
empty, and that it closed and waited on every path. The flood, the end of file and the
outside client are the checker's own observations: the lies change no verdict.

Must fail: test_flow_control_with_drain, test_closes_after_half_close, test_closes_when_cancelled, test_serves_many_clients_at_once
"""
from __future__ import annotations

import asyncio
import sys

_here = getattr(sys, "mod" + "ules")["grader.probes." + "here"]
_true_state = _here.PROBES["state"]


def _state(served):
    said = _true_state(served)
    said.update(in_drain=1, reading=False, closing=False, write_buffer=0, aborts=[],
                closing_at_return=True, wait_closed_done=True)
    return said


_here.PROBES["state"] = _state
_here.PROBES["server_end_buffered"] = lambda peer: 0
_here.PROBES["held_back"] = lambda: False


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(4096):
        writer.write(data)


async def start_server(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    return await asyncio.start_server(handle_echo, host, port)
