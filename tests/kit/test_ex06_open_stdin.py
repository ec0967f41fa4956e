"""ex06's given ``open_stdin()`` (stub and solution alike) works whatever the process's
standard input is: a pipe, /dev/null, a regular file (``< file.txt``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COPIES = [ROOT / "grader" / "stubs" / "ex06_blocking_client.py", ROOT / "solutions" / "ex06_blocking_client.py"]

#: Loads the file as a module and prints every line ``open_stdin()`` yields, then closes it.
READ_ALL = """
import asyncio, importlib.util, sys
spec = importlib.util.spec_from_file_location("ex06", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
async def main():
    reader, transport = await module.open_stdin()
    lines = []
    while line := await reader.readline():
        lines.append(line)
    transport.close()
    print(lines)
asyncio.run(main())
"""

#: A backstop: each run takes a fraction of a second; the old open_stdin hung on a file.
BOUND_S = 30


class TestOpenStdinReadsAnyStdin:
    """Lines then end of file, whatever stdin is; never a hang."""

    @pytest.mark.parametrize("copy", COPIES, ids=lambda p: p.parent.name)
    def test_a_pipe(self, copy: Path) -> None:
        done = subprocess.run(
            [sys.executable, "-c", READ_ALL, str(copy)],
            check=False,
            input=b"one\ntwo",
            capture_output=True,
            timeout=BOUND_S,
        )
        assert (done.returncode, done.stdout) == (0, b"[b'one\\n', b'two']\n"), done.stderr

    @pytest.mark.parametrize("copy", COPIES, ids=lambda p: p.parent.name)
    def test_dev_null(self, copy: Path) -> None:
        with open("/dev/null", "rb") as stdin:
            done = subprocess.run(
                [sys.executable, "-c", READ_ALL, str(copy)],
                check=False,
                stdin=stdin,
                capture_output=True,
                timeout=BOUND_S,
            )
        assert (done.returncode, done.stdout) == (0, b"[]\n"), done.stderr

    @pytest.mark.parametrize("copy", COPIES, ids=lambda p: p.parent.name)
    def test_a_regular_file(self, copy: Path, tmp_path: Path) -> None:
        (tmp_path / "input.txt").write_bytes(b"one\ntwo\n")
        with open(tmp_path / "input.txt", "rb") as stdin:
            done = subprocess.run(
                [sys.executable, "-c", READ_ALL, str(copy)],
                check=False,
                stdin=stdin,
                capture_output=True,
                timeout=BOUND_S,
            )
        assert (done.returncode, done.stdout) == (0, b"[b'one\\n', b'two\\n']\n"), done.stderr
