"""grader.probes.pools.collect_safely: garbage of process pools collected without a crash."""

from __future__ import annotations

import subprocess
import sys
import textwrap

#: Garbage cycles like those a process pool's threads leave in the worker: a frame that
#: holds a BytesIO and a view of its buffer, kept alive by an exception it caught.
CYCLES = """
import gc, io, sys
from grader.probes.pools import collect_safely
gc.disable()

def make():
    data = io.BytesIO(b"x" * 100)
    view = data.getbuffer()
    try:
        raise LookupError
    except LookupError as exc:
        kept = exc

for _ in range(50):
    make()
collect_safely()
gc.enable()
gc.collect()
print("survived")
"""


class TestCollectSafely:
    def test_buffer_cycles_are_collected_without_a_crash(self) -> None:
        """CPython 3.12.1's collector segfaults on such cycles ("deallocated BytesIO object
        has exported buffers"); collect_safely releases the views first"""
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(CYCLES)], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip() == "survived"
        assert "SystemError" not in done.stderr
