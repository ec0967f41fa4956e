"""Failing a check with a message that teaches: what was observed, why it is wrong in
asyncio terms, what to try, and where the Python docs say more. No traceback noise."""

from __future__ import annotations

from typing import NoReturn

PYTHON_DOCS = "https://docs.python.org/3/"


def fail(message: str) -> NoReturn:
    """Fail the current check with ``message`` as its whole explanation."""
    __tracebackhide__ = True
    import pytest  # here, not above: a split run's worker imports the probes, never pytest

    pytest.fail(message, pytrace=False)


def expect(condition: object, message: str) -> None:
    """Fail the check with ``message`` unless ``condition`` holds."""
    __tracebackhide__ = True
    if not condition:
        fail(message)


def exact(value: object, expected: object, what: str) -> None:
    """Type-strict equality: a rigged ``__eq__`` or a subclass does not pass.

    ``what`` names the value ("f(x) returned"). A difference inside a list or tuple is
    shown with the whole value and where it is: "f(x) returned [1, 4]: item [0] is 1,
    expected 9"."""
    __tracebackhide__ = True
    difference = _difference(value, expected, "")
    if difference is None:
        return
    where, text = difference
    if not where:
        fail(f"{what}: {text}")
    fail(f"{what} {_short(value)}: item {where} {text}")


def _difference(value: object, expected: object, where: str) -> tuple[str, str] | None:
    """The first place, as ``[i][j]...`` from the top, where ``value`` and ``expected``
    differ, and how; None if they are equal, type for type."""
    inner = bool(where)  # inside a container, the item is named by the caller's wording
    if type(value) is not type(expected):
        got, want = f"{type(value).__name__} {_short(value)}", type(expected).__name__
        return where, (f"is a {got}, expected a {want}" if inner else f"expected a {want}, got {got}")
    if isinstance(expected, list | tuple):
        assert isinstance(value, list | tuple)
        if len(value) != len(expected):
            if inner:
                return where, f"has {len(value)} items {_short(value)}, expected {len(expected)}: {_short(expected)}"
            return where, f"expected {len(expected)} items {_short(expected)}, got {len(value)}: {_short(value)}"
        for i, (got_item, want) in enumerate(zip(value, expected, strict=True)):
            found = _difference(got_item, want, f"{where}[{i}]")
            if found is not None:
                return found
        return None
    if expected != value:  # the trusted, expected side compares
        if inner:
            return where, f"is {_short(value)}, expected {_short(expected)}"
        return where, f"expected {_short(expected)}, got {_short(value)}"
    return None


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
