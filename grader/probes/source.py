"""What the learner's source says, read by the checker: evidence the worker cannot change.

In a split check the checker holds the exact bytes the worker imported (it read them,
checked them, and sent them), so what they define is the checker's own observation,
where what the imported module holds at run time is the worker's account.
"""

from __future__ import annotations

import ast
from typing import Any

from grader import syntax


def learner_source(ex: Any) -> bytes | None:
    """The bytes of the learner's file the worker imported; ``None`` in one process."""
    source = getattr(ex, "learner_source", None)
    return source if isinstance(source, bytes) else None


def binds_async_def(ex: Any, name: str) -> bool | None:
    """What the module's source says ``name`` is, where it can tell: ``True`` when its last
    binding of ``name`` made unconditionally at top level is an ``async def``; ``False``
    when it is a plain ``def`` without decorators (or a ``lambda``): no coroutine
    function, whatever the module holds at run time; ``None`` when the source cannot
    tell (any other binding: a call, an alias, a decorated ``def``, an import, a binding
    inside an ``if`` or ``try``) or is not at hand (one process, where the module itself
    is the evidence). A check fails on ``False`` only."""
    source = learner_source(ex)
    if source is None:
        return None
    try:
        tree = syntax.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    last: bool | None = None
    for node in tree.body:
        if isinstance(node, ast.AsyncFunctionDef) and node.name == name:
            last = True
        elif isinstance(node, ast.FunctionDef) and node.name == name:
            last = None if node.decorator_list else False
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            if node.value is None:
                continue  # an annotation alone binds nothing
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(name in _names(target) for target in targets):
                last = False if isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda) else None
        elif name in _bound_within(node):
            last = None  # a class, an import, or a binding inside a block: the run's business
    return last


def _bound_within(node: ast.stmt) -> set[str]:
    """Names a statement may bind at top level (definitions, assignments and imports,
    however nested in ``if``/``try``/``with``/``for`` blocks; not inside functions)."""
    found: set[str] = set()
    pending: list[ast.AST] = [node]
    while pending:
        child = pending.pop()
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.add(child.name)
            continue  # what a function or class binds inside is its own
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            found.add(child.id)
        elif isinstance(child, ast.alias):
            found.add(child.asname or child.name.split(".")[0])
        pending.extend(ast.iter_child_nodes(child))
    return found


def _names(target: ast.expr) -> set[str]:
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Tuple | ast.List):
        return {n for element in target.elts for n in _names(element)}
    if isinstance(target, ast.Starred):
        return _names(target.value)
    return set()
