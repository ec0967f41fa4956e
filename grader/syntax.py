"""Python source parsed into a tree, safely from several threads at once.

On CPython 3.11, ``ast.parse`` builds its tree with a depth counter that every thread of
the process shares (CPython issue 106905; 3.12 keeps it per thread). When the garbage
collector runs a finalizer in the middle of a parse, another thread can parse meanwhile,
and the first parse fails with ``SystemError: AST constructor recursion depth mismatch``
although its source is fine. The grader parses submissions from several threads at once
(``grade verify``, batches, the kit's mutant checks), so every parse of the grader goes
through :func:`parse`: one at a time, and again if a parser outside this module got in
between (each parse starts its counter afresh, so a retry is a clean parse).
"""

from __future__ import annotations

import ast
import threading

_ONE_AT_A_TIME = threading.RLock()  # re-entrant: a finalizer may parse on the same thread
_ATTEMPTS = 3
_SHARED_COUNTER = "AST constructor recursion depth mismatch"


def parse(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(source, filename)``, immune to other threads' parses.

    Raises what ``ast.parse`` raises for the source itself (``SyntaxError``, ``ValueError``
    for a null byte, ``RecursionError`` for a too deeply nested one).
    """
    for attempt in range(1, _ATTEMPTS + 1):
        with _ONE_AT_A_TIME:
            try:
                return ast.parse(source, filename)
            except SystemError as error:
                if _SHARED_COUNTER not in str(error) or attempt == _ATTEMPTS:
                    raise
    raise AssertionError("unreachable")  # pragma: no cover
