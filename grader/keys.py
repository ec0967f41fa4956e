"""Single key presses for ``grade watch``, in a plain terminal.

:func:`cbreak` puts the terminal in cbreak mode (each key arrives at once, unechoed;
Ctrl-C still interrupts) and restores it on every way out: normal exit, an exception,
Ctrl-C, and while suspended with Ctrl-Z. When stdin is not a terminal it changes
nothing and yields None: no keys, and the caller still works. :class:`KeyReader` turns
the bytes into calls, from a daemon thread.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TextIO


def terminal_fd(stream: TextIO | None) -> int | None:
    """The file descriptor of ``stream`` if it is a terminal, else None."""
    try:
        fd = stream.fileno() if stream is not None else -1
    except (AttributeError, ValueError, OSError):
        return None
    return fd if fd >= 0 and os.isatty(fd) else None


@contextlib.contextmanager
def cbreak(stream: TextIO | None) -> Iterator[int | None]:
    """Cbreak mode on ``stream`` while the block runs; yields its fd (None: no terminal)."""
    fd = terminal_fd(stream)
    if fd is None:
        yield None
        return
    import termios
    import tty

    try:
        saved = termios.tcgetattr(fd)
        tty.setcbreak(fd, termios.TCSANOW)
    except termios.error:  # a terminal we may not configure: no keys, like a pipe
        yield None
        return
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTSTP) if main else None

    def suspend(signum: int, frame: FrameType | None) -> None:
        # Give the shell a sane terminal while we are stopped; cbreak again on resume.
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)
        signal.signal(signal.SIGTSTP, suspend)
        tty.setcbreak(fd, termios.TCSANOW)

    if main:
        signal.signal(signal.SIGTSTP, suspend)
    try:
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        if main:
            signal.signal(signal.SIGTSTP, previous if previous is not None else signal.SIG_DFL)


class KeyReader:
    """Calls ``on_key(char)`` for each character typed on ``fd`` (a daemon thread that
    checks for :meth:`stop` every tenth of a second; it ends at end of input). Input is
    UTF-8, decoded across reads: a character whose bytes come in two reads is one key."""

    def __init__(self, fd: int, on_key: Callable[[str], None]) -> None:
        self._fd = fd
        self._on_key = on_key
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="awaitlings-keys", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1)

    def _run(self) -> None:
        # Incremental: a read may end in the middle of a multibyte character; its first
        # bytes wait in the decoder for the rest.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._fd], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(self._fd, 64)
            except (OSError, ValueError):
                return
            if not data:
                return  # end of input: no more keys (a character cut short is dropped)
            for char in decoder.decode(data):
                self._on_key(char)
