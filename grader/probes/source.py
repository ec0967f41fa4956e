"""What the learner's source says, read by the checker: evidence the worker cannot change.

In a split check the checker holds the exact bytes the worker imported (it read them,
checked them, and sent them), so what they define is the checker's own observation,
where what the imported module holds at run time is the worker's account.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any


def learner_source(ex: Any) -> bytes | None:
    """The bytes of the learner's file the worker imported; ``None`` in one process."""
    source = getattr(ex, "learner_source", None)
    return source if isinstance(source, bytes) else None


def binds_async_def(ex: Any, name: str) -> bool | None:
    """Whether the module's last top-level binding of ``name`` is an ``async def`` (or a
    plain ``name = other`` of a top-level ``async def other``): ``None`` when the source is
    not at hand (one process, where the module itself is the evidence)."""
    source = learner_source(ex)
    if source is None:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    async_defs: set[str] = set()
    last: bool | None = None
    for node in _top_level(tree.body):
        if isinstance(node, ast.AsyncFunctionDef):
            async_defs.add(node.name)
            if node.name == name:
                last = True
        elif isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
            last = False
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(name in _names(target) for target in targets):
                value = node.value
                plain = isinstance(node, ast.Assign | ast.AnnAssign)
                last = plain and isinstance(value, ast.Name) and value.id in async_defs
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if any((alias.asname or alias.name.split(".")[0]) == name for alias in node.names):
                last = False
        elif isinstance(node, ast.Global | ast.Nonlocal):
            continue
    return bool(last)


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements, those inside top-level ``if``/``try``/``with`` blocks too."""
    for node in body:
        yield node
        if isinstance(node, ast.If | ast.With | ast.AsyncWith):
            yield from _top_level(node.body)
            yield from _top_level(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try | ast.TryStar):
            yield from _top_level(node.body)
            for handler in node.handlers:
                yield from _top_level(handler.body)
            yield from _top_level(node.orelse)
            yield from _top_level(node.finalbody)


def _names(target: ast.expr) -> set[str]:
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Tuple | ast.List):
        return {n for element in target.elts for n in _names(element)}
    if isinstance(target, ast.Starred):
        return _names(target.value)
    return set()
