"""An exercise's checks as its checks file declares them, for ``grade show``: read with
``ast``, never imported, so no check code runs.

A check is what pytest collects from ``tests/checks/test_exNN_*.py``: a ``test*``
function, or a ``test*`` method of a ``Test*`` class, in file order. Its name is the first
line of its docstring (as in every report), its weight ``@pytest.mark.weight(n)`` (default
1; the closest mark wins: the function's, its class's, the module's ``pytestmark``), and
it is hidden when ``@pytest.mark.hidden`` is on any of those. A ``parametrize`` mark with a
literal list of cases makes that many checks, as in pytest. A weight or a list of cases
that is not a literal is only known when pytest runs: then :func:`shares` knows no points.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Sequence
from dataclasses import dataclass

from grader import syntax
from grader.errors import KitError


@dataclass(frozen=True)
class DeclaredCheck:
    """One check function of a checks file (every case of it, when parametrized)."""

    name: str
    hidden: bool = False
    #: The weight of each case; None when the mark's value is not a literal.
    weight: float | None = 1.0
    #: How many checks pytest makes of it; None when the cases are not a literal list.
    cases: int | None = 1


def declared_checks(source: str, filename: str) -> tuple[DeclaredCheck, ...]:
    """The checks ``source`` declares, in file order. :class:`KitError` if it is not Python."""
    try:
        tree = syntax.parse(source, filename)
    except SyntaxError as exc:
        raise KitError(f"{filename}:{exc.lineno}: the checks are not valid Python ({exc.msg}); fix them") from exc
    module_marks = _pytestmark(tree.body)
    checks: list[DeclaredCheck] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            checks.append(_check(node, [node.decorator_list, module_marks]))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            class_marks = [*node.decorator_list, *_pytestmark(node.body)]
            checks += [
                _check(method, [method.decorator_list, class_marks, module_marks])
                for method in node.body
                if isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef) and method.name.startswith("test")
            ]
    return tuple(checks)


def shares(checks: Sequence[DeclaredCheck], points: float) -> tuple[float, ...] | None:
    """Each check's points (all its cases together), its weight over the exercise's total,
    as grading gives them; None when a weight or a number of cases is not known."""
    weights = [c.weight * c.cases for c in checks if c.weight is not None and c.cases is not None]
    if len(weights) != len(checks):
        return None
    total = sum(weights)
    return tuple(points * weight / total if total > 0 else 0.0 for weight in weights)


def _check(node: ast.FunctionDef | ast.AsyncFunctionDef, marks: list[list[ast.expr]]) -> DeclaredCheck:
    """``marks``: the decorators that apply to ``node``, closest first."""
    doc = (ast.get_docstring(node) or "").strip()
    name = doc.splitlines()[0].strip().rstrip(".") if doc else ""
    every = [mark for level in marks for mark in level]
    weights = [_weight(mark) for mark in every if _mark_name(mark) == "weight"]
    counts = [_cases(mark) for mark in every if _mark_name(mark) == "parametrize"]
    return DeclaredCheck(
        name=name or node.name,
        hidden=any(_mark_name(mark) == "hidden" for mark in every),
        weight=weights[0] if weights else 1.0,
        cases=None if None in counts else math.prod(c for c in counts if c is not None),
    )


def _pytestmark(body: list[ast.stmt]) -> list[ast.expr]:
    """The marks a module's or class's ``pytestmark = ...`` applies (a mark or a list)."""
    for node in body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            value = node.value
            return list(value.elts) if isinstance(value, ast.List | ast.Tuple) else [value]
    return []


def _mark_name(mark: ast.expr) -> str | None:
    """``weight`` for ``@pytest.mark.weight(2)`` or ``@mark.weight(2)``; None for anything
    that is not a mark."""
    target = mark.func if isinstance(mark, ast.Call) else mark
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Attribute | ast.Name):
        owner = target.value.attr if isinstance(target.value, ast.Attribute) else target.value.id
        return target.attr if owner == "mark" else None
    return None


def _weight(mark: ast.expr) -> float | None:
    """A ``weight`` mark's value (1 without one; None: not a literal number)."""
    if isinstance(mark, ast.Call) and mark.args:
        value = mark.args[0]
        number = value.value if isinstance(value, ast.Constant) else None
        return float(number) if isinstance(number, int | float) else None
    return 1.0


def _cases(mark: ast.expr) -> int | None:
    """How many cases a ``parametrize`` mark makes (None: not a literal list)."""
    if not isinstance(mark, ast.Call):
        return None
    values = (
        mark.args[1] if len(mark.args) > 1 else next((k.value for k in mark.keywords if k.arg == "argvalues"), None)
    )
    if isinstance(values, ast.List | ast.Tuple) and not any(isinstance(e, ast.Starred) for e in values.elts):
        return len(values.elts)
    return None
