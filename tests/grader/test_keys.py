"""Single key presses for ``grade watch`` (grader/keys.py), on a real pseudo-terminal and
real pipes: cbreak mode on and off, and keys read from a file descriptor."""

from __future__ import annotations

import contextlib
import io
import os
import pty
import signal
import termios
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

import pytest

from grader.keys import KeyReader, cbreak, terminal_fd


@pytest.fixture
def terminal() -> Iterator[TextIO]:
    """The follower side of a fresh pseudo-terminal, as a text stream."""
    leader, follower = pty.openpty()
    stream = os.fdopen(follower, "r", encoding="utf-8")
    try:
        yield stream
    finally:
        stream.close()
        os.close(leader)


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    yield read, write
    for fd in (read, write):
        with contextlib.suppress(OSError):  # closed by the test
            os.close(fd)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def modes(fd: int) -> tuple[bool, bool]:
    """(canonical, echo) of the terminal on ``fd``."""
    lflag = termios.tcgetattr(fd)[3]
    return bool(lflag & termios.ICANON), bool(lflag & termios.ECHO)


class TestTerminalFd:
    """Only a stream on a terminal has a terminal fd."""

    def test_a_terminal(self, terminal: TextIO) -> None:
        """a pseudo-terminal: its fd"""
        assert terminal_fd(terminal) == terminal.fileno()

    def test_anything_else(self, pipe: tuple[int, int]) -> None:
        """None, an in-memory stream, a pipe, a closed file: None"""
        closed = io.StringIO()
        closed.close()
        with os.fdopen(os.dup(pipe[0]), "r") as piped:
            assert [terminal_fd(s) for s in (None, io.StringIO(), piped, closed)] == [None] * 4


class TestCbreak:
    """Keys arrive one at a time, unechoed, while the block runs; the terminal is as it was after."""

    def test_on_and_off(self, terminal: TextIO) -> None:
        """canonical mode and echo are off inside, back on after"""
        fd = terminal.fileno()
        before = termios.tcgetattr(fd)
        assert modes(fd) == (True, True)
        with cbreak(terminal) as inside:
            assert inside == fd
            assert modes(fd) == (False, False)
        assert termios.tcgetattr(fd) == before

    def test_restored_after_an_exception(self, terminal: TextIO) -> None:
        """Ctrl-C (KeyboardInterrupt) inside the block: the terminal is restored all the same"""
        fd = terminal.fileno()
        before = termios.tcgetattr(fd)
        with pytest.raises(KeyboardInterrupt), cbreak(terminal):
            raise KeyboardInterrupt
        assert termios.tcgetattr(fd) == before

    @pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals: main thread")
    def test_ctrl_z_handler_only_inside(self, terminal: TextIO) -> None:
        """inside, Ctrl-Z (SIGTSTP) first restores the terminal; after, the old handler is back"""
        previous = signal.getsignal(signal.SIGTSTP)
        with cbreak(terminal):
            assert signal.getsignal(signal.SIGTSTP) not in (previous, signal.SIG_DFL)
        assert signal.getsignal(signal.SIGTSTP) == previous

    def test_not_a_terminal(self, pipe: tuple[int, int]) -> None:
        """a pipe: no keys (None), and nothing is changed"""
        with os.fdopen(os.dup(pipe[0]), "r") as piped, cbreak(piped) as inside:
            assert inside is None


class TestKeyReader:
    """Each character typed becomes a call, from a thread that ends with the input."""

    def test_each_character_once(self, pipe: tuple[int, int]) -> None:
        """h, l, é, q in one write: four calls, in order (é is two bytes, one key)"""
        read, write = pipe
        keys: list[str] = []
        reader = KeyReader(read, keys.append)
        reader.start()
        try:
            os.write(write, "hléq".encode())
            wait_until(lambda: len(keys) == 4)
            assert keys == ["h", "l", "é", "q"]
        finally:
            reader.stop()

    def test_a_character_split_across_reads(self, pipe: tuple[int, int]) -> None:
        """é's two bytes in two writes, read apart: one key, é, between a and b"""
        read, write = pipe
        keys: list[str] = []
        reader = KeyReader(read, keys.append)
        reader.start()
        try:
            first, second = "é".encode()[:1], "é".encode()[1:]
            os.write(write, b"a" + first)
            wait_until(lambda: keys == ["a"])  # read: "a" and the first half of é
            os.write(write, second + b"b")
            wait_until(lambda: "b" in keys)
            assert keys == ["a", "é", "b"]
        finally:
            reader.stop()

    def test_end_of_input_ends_the_thread(self, pipe: tuple[int, int]) -> None:
        """the other end closed: the reader stops by itself after the last key"""
        read, write = pipe
        keys: list[str] = []
        reader = KeyReader(read, keys.append)
        reader.start()
        os.write(write, b"r")
        os.close(write)
        wait_until(lambda: not reader._thread.is_alive())
        assert keys == ["r"]

    def test_stop_without_input(self, pipe: tuple[int, int]) -> None:
        """no key ever comes: stop() ends the thread (not just gives up waiting for it)"""
        keys: list[str] = []
        reader = KeyReader(pipe[0], keys.append)
        reader.start()
        reader.stop()
        assert not reader._thread.is_alive() and keys == []
