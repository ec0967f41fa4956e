"""Hidden checks: find them in a checks file, cut them out, and say what must not leak.

A check marked ``@pytest.mark.hidden`` (on its function, its method or its class) is left
out of student releases. :func:`strip_hidden` removes it by its AST line range, with its
decorators and the comment lines right above, and removes the helpers and fixtures that
only hidden checks used (to a fixpoint; autouse fixtures and pytest hooks stay, since
nothing names them). The result must compile and hold no hidden mark; a mark the cut cannot
remove (a module-level ``pytestmark``, ``pytest.param(..., marks=...)``) is a
:class:`KitError` with the line to change. Each cut check is described by a
:class:`HiddenCheck`: its name, docstring and messages, which the release then proves
absent from every file it ships. Pure: text in, text out.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from grader import syntax
from grader.errors import KitError

#: Messages shorter than this are too generic to be a leak ("expected 3").
LEAK_MIN_CHARS = 16


@dataclass(frozen=True)
class HiddenCheck:
    """A check cut from a release: what must not appear anywhere in it."""

    exercise: str
    name: str
    docstring: str
    messages: tuple[str, ...] = ()

    def needles(self) -> list[str]:
        return [n for n in (self.name, self.docstring, *self.messages) if n]


def _is_hidden_mark(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return (
        isinstance(target, ast.Attribute)
        and target.attr == "hidden"
        and isinstance(target.value, ast.Attribute)
        and target.value.attr == "mark"
    )


def hidden_marks(tree: ast.AST) -> list[int]:
    """Line numbers of every ``*.mark.hidden`` left in ``tree``."""
    return sorted({n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute | ast.Call) and _is_hidden_mark(n)})


def _names_used(nodes: Iterable[ast.AST], skip: Sequence[ast.AST] = ()) -> set[str]:
    """Names a piece of code refers to (variables, fixture parameters, fixture-name strings),
    not counting the subtrees in ``skip`` (hidden methods of a kept class)."""
    used: set[str] = set()
    skipped = {id(n) for n in skip}
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if id(node) in skipped:
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.arg):
            used.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            used.add(node.value)
    return used


def _defined_name(node: ast.stmt) -> str | None:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    return None


def _is_autouse(node: ast.stmt) -> bool:
    decorators = getattr(node, "decorator_list", [])
    return any(isinstance(d, ast.Call) and any(k.arg == "autouse" for k in d.keywords) for d in decorators) or (
        _defined_name(node) or ""
    ).startswith(("pytest_", "pytestmark"))


def _strings(node: ast.AST) -> set[str]:
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            found.add(sub.value.strip())
        elif isinstance(sub, ast.JoinedStr):  # an f-string's literal parts
            parts = (v.value for v in sub.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
            found.update(p.strip() for p in parts)
    return {s for s in found if len(s) >= LEAK_MIN_CHARS}


def strip_hidden(source: str, exercise_id: str, filename: str) -> tuple[str, list[HiddenCheck]]:
    """``source`` without its hidden checks (and helpers only they used), and what was cut."""
    tree = syntax.parse(source, filename)
    for node in tree.body:
        if _defined_name(node) == "pytestmark" and hidden_marks(node):
            raise KitError(
                f"{filename}:{node.lineno}: `pytestmark` hides the whole module; mark each hidden check "
                "with @pytest.mark.hidden instead, so the release keeps the visible ones"
            )
    cut: list[ast.stmt] = []
    hidden: list[HiddenCheck] = []
    kept: list[ast.stmt] = []
    for node in tree.body:
        decorators = getattr(node, "decorator_list", [])
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and any(
            _is_hidden_mark(d) for d in decorators
        ):
            cut.append(node)
            hidden += _describe(node, exercise_id)
            continue
        if isinstance(node, ast.ClassDef):
            methods = [
                m
                for m in node.body
                if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)
                and any(_is_hidden_mark(d) for d in m.decorator_list)
            ]
            cut += methods
            for method in methods:
                hidden += _describe(method, exercise_id)
        kept.append(node)
    if not cut:
        return source, []
    # Helpers and fixtures only the hidden checks used go too (to a fixpoint); autouse
    # fixtures and pytest hooks stay, since nothing names them.
    removed_use = _names_used(cut)
    changed = True
    while changed:
        changed = False
        for node in list(kept):
            name = _defined_name(node)
            if not name or name not in removed_use or _is_autouse(node):
                continue
            if name not in _names_used((n for n in kept if n is not node), skip=cut):
                kept.remove(node)
                cut.append(node)
                removed_use |= _names_used([node])
                changed = True
    lines = source.splitlines(keepends=True)
    drop: set[int] = set()
    for node in cut:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        while first > 1 and lines[first - 2].strip().startswith("#"):
            first -= 1  # the comment that introduces the cut code goes with it
        drop.update(range(first, (node.end_lineno or node.lineno) + 1))
    text = "".join(line for number, line in enumerate(lines, start=1) if number not in drop)
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    left = syntax.parse(text, filename)  # must still be valid Python
    compile(text, filename, "exec", dont_inherit=True)
    marks = hidden_marks(left)
    if marks:
        raise KitError(
            f"{filename}: a hidden mark at line {marks[0]} of the release copy is not on a check function or "
            "class (pytest.param marks?): give hidden cases their own @pytest.mark.hidden check"
        )
    kept_strings = _strings(left)
    hidden = [
        HiddenCheck(h.exercise, h.name, h.docstring, tuple(m for m in h.messages if m not in kept_strings))
        for h in hidden
    ]
    return text, hidden


def _describe(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, exercise_id: str) -> list[HiddenCheck]:
    if isinstance(node, ast.ClassDef):
        methods = [m for m in node.body if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)]
        return [
            HiddenCheck(exercise_id, node.name, (ast.get_docstring(node) or "").strip(), tuple(_strings(node))),
            *(d for m in methods if m.name.startswith("test") for d in _describe(m, exercise_id)),
        ]
    doc = (ast.get_docstring(node) or "").strip()
    return [HiddenCheck(exercise_id, node.name, doc, tuple(sorted(_strings(node) - {doc})))]
