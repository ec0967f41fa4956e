"""ex05's half-close check says what its server observed, graded for real: no connection
at all, or a connection whose end of file never came; it names the missing
``write_eof()`` only in the second case."""

from __future__ import annotations

from pathlib import Path

from grader.manifest import load_kit
from grader.verify import grade_file

ROOT = Path(__file__).resolve().parents[2]
KIT = load_kit(ROOT)
EX05 = KIT.resolve("ex05")
MUTANTS = KIT.mutants_dir / EX05.module
CHECK = "test_half_closes_after_sending"

#: Returns the payload as if echoed, without ever connecting.
FAKES_THE_ECHO = b"""
async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    return payload
"""

#: Sends without half-closing, then reads to end of file; keeps its writer (a garbage
#: collected StreamWriter closes its connection), so the connection stays open when cancelled.
KEEPS_THE_CONNECTION_OPEN = b"""
import asyncio

OPEN = []

async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    OPEN.append(writer)
    writer.write(payload)
    await writer.drain()
    return await reader.read()
"""


def _message(source: Path) -> str:
    """The half-close check's failure message when grading ``source``."""
    result = grade_file(KIT, EX05, source)
    (check,) = [c for c in result.checks if c.id.split("::")[-1] == CHECK]
    assert not check.passed and check.message is not None, (result.status, result.message)
    return check.message


class TestHalfCloseMessage:
    """The message follows the evidence: what reached the server."""

    def test_never_connects_and_hangs(self) -> None:
        """a client stuck before connecting: no connection reached the server, no word of write_eof"""
        message = _message(MUTANTS / "connect_never_scheduled.py")
        assert "did not finish within" in message
        assert "No connection reached the server" in message
        assert "end of file" not in message and "write_eof" not in message

    def test_never_connects_and_returns(self, tmp_path: Path) -> None:
        """a client that returns without connecting: no connection reached the server, no word of write_eof"""
        source = tmp_path / EX05.filename
        source.write_bytes(FAKES_THE_ECHO)
        message = _message(source)
        assert "returned. No connection reached the server" in message
        assert "end of file" not in message and "write_eof" not in message

    def test_connected_without_end_of_file(self) -> None:
        """a client that never half-closes (its connection closed once cancelled): call write_eof, connected"""
        message = _message(MUTANTS / "no_write_eof.py")
        assert "After the last byte, call `writer.write_eof()`" in message
        assert "No connection" not in message

    def test_connected_and_still_open(self, tmp_path: Path) -> None:
        """a client that never half-closes nor closes: the bytes the server got, still waiting for end of file"""
        source = tmp_path / EX05.filename
        source.write_bytes(KEEPS_THE_CONNECTION_OPEN)
        message = _message(source)
        assert "The server got 4,200 bytes and is still waiting for your end of file." in message
        assert "After the last byte, call `writer.write_eof()`" in message
        assert "No connection" not in message
