"""Failing a check with a message that teaches: what was observed, why it is wrong in
asyncio terms, what to try, and where the Python docs say more. No traceback noise."""

from __future__ import annotations

from typing import NoReturn

import pytest

PYTHON_DOCS = "https://docs.python.org/3/"


def fail(message: str) -> NoReturn:
    """Fail the current check with ``message`` as its whole explanation."""
    __tracebackhide__ = True
    pytest.fail(message, pytrace=False)


def expect(condition: object, message: str) -> None:
    """Fail the check with ``message`` unless ``condition`` holds."""
    __tracebackhide__ = True
    if not condition:
        fail(message)


def exact(value: object, expected: object, what: str) -> None:
    """Type-strict equality: a rigged ``__eq__`` or a subclass does not pass."""
    __tracebackhide__ = True
    if type(value) is not type(expected):
        fail(f"{what}: expected a {type(expected).__name__}, got {type(value).__name__} {_short(value)}")
    if isinstance(expected, list | tuple):
        assert isinstance(value, list | tuple)
        if len(value) != len(expected):
            fail(f"{what}: expected {len(expected)} items {_short(expected)}, got {len(value)}: {_short(value)}")
        for i, (got, want) in enumerate(zip(value, expected, strict=True)):
            exact(got, want, f"{what}[{i}]")
        return
    if expected != value:  # the trusted, expected side compares
        fail(f"{what}: expected {_short(expected)}, got {_short(value)}")


def _short(value: object, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 15] + f"... ({len(text)} chars)"


def docs(page: str, anchor: str = "") -> str:
    """The address of a page of the Python docs, ``page`` as in ``"library/asyncio-task"``,
    at ``anchor`` if given."""
    return f"{PYTHON_DOCS}{page}.html" + (f"#{anchor}" if anchor else "")


def first_difference(a: bytes, b: bytes) -> int:
    """The index of the first byte where ``a`` and ``b`` differ (the shorter one's length
    when one is a prefix of the other)."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def show_bytes(data: bytes, limit: int = 48) -> str:
    """``repr(data)`` for a message: past ``limit`` bytes, the first ``limit`` and the length."""
    return repr(data) if len(data) <= limit else f"{data[:limit]!r}... ({len(data)} bytes)"
