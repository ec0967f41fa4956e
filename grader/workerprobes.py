"""Functions checks send to worker processes (process pools), e.g. for exercise 12.

A process pool pickles the function it runs by module and name, and each worker imports
that module -- with ``spawn`` or ``forkserver`` into a fresh interpreter. So these live in
a module of their own that imports nothing heavy (no pytest, no asyncio): a spawned worker
starts fast even on a loaded machine. Checks import them from :mod:`grader.probes`, next
to :class:`grader.probes.Switchboard`, the loop side of :func:`call_switchboard`.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile

#: Real seconds a :func:`call_switchboard` call waits for the loop to pick it up. A free
#: loop answers in milliseconds; only a blocked loop (or a grossly overloaded machine) waits.
SWITCHBOARD_ACK_S = 5.0
#: Real seconds it then waits for the check's go-ahead (holds are bounded well below this).
SWITCHBOARD_GO_S = 30.0
#: ``board.number(i)`` is ``-(port * SWITCHBOARD_SLOTS + i)``.
SWITCHBOARD_SLOTS = 1024

#: ``roll.number(i)`` is ``-(roll_id * ROLL_SLOTS + i)`` (see :class:`grader.probes.Roll`).
ROLL_SLOTS = 1024
#: Real seconds a :func:`report_pid` call waits for the roll to answer (it answers at once).
ROLL_S = 10.0

#: Boards this process already gave up on: later calls return at once (one wait, not n).
_unanswered_boards: set[int] = set()


def roll_address(roll_id: int) -> str:
    """Where :class:`grader.probes.Roll` ``roll_id`` listens: an abstract Unix socket on
    Linux (it exists only in the run's network namespace and leaves no file), a socket
    file in the temporary folder elsewhere."""
    if sys.platform.startswith("linux"):
        return f"\0awaitlings-roll-{roll_id:x}"
    return os.path.join(tempfile.gettempdir(), f"awaitlings-roll-{roll_id:x}")


def report_pid(n: int) -> tuple[int, int]:
    """``(i, token)`` for ``n = roll.number(i)``: says which process runs this call.

    Not by saying its pid (whatever returns the result could change that): it connects to
    the check's :class:`grader.probes.Roll`, which reads the caller's pid from the kernel
    (the Unix socket's peer credentials) and answers a token that only the roll can map
    back to that pid. ``token`` is 0 if the roll could not be reached."""
    roll, index = divmod(-n, ROLL_SLOTS)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(ROLL_S)
            sock.connect(roll_address(roll))
            sock.sendall(f"{index}\n".encode())
            with sock.makefile("rb") as lines:
                token = int(lines.readline().strip() or b"0")
    except (OSError, ValueError):
        token = 0
    return (index, token)


def call_switchboard(n: int) -> tuple[int, int, bool]:
    """Worker side of :class:`grader.probes.Switchboard`; ``n`` is ``board.number(i)``.

    Connects to the board, says ``"<i> <pid>"``, waits for the loop's acknowledgement (only
    a running loop can give it), then for the go-ahead. Returns ``(i, pid, answered)``.
    """
    port, index = divmod(-n, SWITCHBOARD_SLOTS)
    pid = os.getpid()
    if port in _unanswered_boards:
        return (index, pid, False)
    answered = False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=SWITCHBOARD_ACK_S) as sock:
            sock.sendall(f"{index} {pid}\n".encode())
            with sock.makefile("rb") as lines:
                if lines.readline() == b"ack\n":
                    sock.settimeout(SWITCHBOARD_GO_S)
                    answered = lines.readline() == b"go\n"
    except OSError:  # refused, reset or timed out: the loop did not answer
        answered = False
    if not answered:
        _unanswered_boards.add(port)
    return (index, pid, answered)
