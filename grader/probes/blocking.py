"""Blocking calls made on the event loop's thread, named with the learner's line."""

from __future__ import annotations

import contextlib
import linecache
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BlockingCall:
    """A blocking call made on the event loop's thread from the learner's code."""

    func: str
    where: str  # "ex01_hello_run.py:12: time.sleep(delay)"

    def __str__(self) -> str:
        return f"{self.func} at {self.where}"


@contextlib.contextmanager
def detect_blocking(module: types.ModuleType) -> Iterator[list[BlockingCall]]:
    """Record blocking calls (``time.sleep``, blocking socket/file I/O, ``input``...) that
    the learner's ``module`` makes on the loop thread while the block runs.

    Names the learner imported before activation (``from time import sleep``) are rebound
    to the detecting wrappers for the duration, then restored.
    """
    from blockbuster import blockbuster as bb

    found: list[BlockingCall] = []
    module_file = module.__file__ or ""

    class BlockingError(bb.BlockingError):
        def __init__(self, func: str) -> None:
            super().__init__(func)
            found.append(BlockingCall(func, learner_location(module_file) or "?"))

    buster = bb.BlockBuster(scanned_modules=[module])
    for function in buster.functions.values():
        # A split check's worker talking to the checker: a call back (the learner's code
        # awaited a fake of the checker's, or wrote to its ``out``), or the learner's
        # print() forwarded (its sys.stdout): the grader's own socket, not the learner's
        # blocking call (in one process print() writes to pytest's capture, never flagged).
        function.can_block_in("grader/split/worker.py", {"call_back_sync", "call_back", "output"})
    original_error = bb.BlockingError
    bb.BlockingError = BlockingError  # type: ignore[misc]  # the wrappers look it up here
    buster.activate()
    rebound: dict[str, Any] = {}
    originals = {id(f.original_func): f for f in buster.functions.values() if f.original_func is not None}
    for name, value in list(vars(module).items()):
        fn = originals.get(id(value))
        if fn is not None and value is fn.original_func:
            rebound[name] = value
            setattr(module, name, getattr(fn.module, fn.func_name))
    try:
        yield found
    finally:
        buster.deactivate()
        bb.BlockingError = original_error  # type: ignore[misc]
        for name, value in rebound.items():
            setattr(module, name, value)


def learner_location(module_file: str, frame: types.FrameType | None = None) -> str | None:
    """``file:line: source`` of the innermost frame in ``module_file`` on the current stack."""
    frame = frame or sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == module_file:
            return describe_line(frame.f_code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return None


def describe_line(filename: str, lineno: int) -> str:
    """``file:line: source``, or ``file:line`` when the source line cannot be read."""
    line = linecache.getline(filename, lineno).strip()
    short = filename.rsplit("/", 1)[-1]
    return f"{short}:{lineno}: {line}" if line else f"{short}:{lineno}"
