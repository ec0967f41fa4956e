"""Static flags on a submission's source: things no honest answer to an asyncio exercise
needs, and that in-process tampering with the grader would use.

Imported-in-the-pytest-process code can, with effort, tamper with that process (see
SECURITY.md). These flags narrow that residual risk without running anything: the
*forbidden* ones (reaching into the grader or pytest) zero the exercise; the *suspicious*
ones (frame and garbage-collector introspection, ctypes, ending the process) are reported
to course staff next to the score, since a few have rare honest uses.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from grader import syntax

FORBIDDEN_MODULES = ("grader", "_pytest", "pytest", "pluggy", "pytest_asyncio", "pytest_timeout", "blockbuster")
SUSPICIOUS_MODULES = ("ctypes", "gc", "inspect", "importlib", "builtins", "atexit", "faulthandler", "resource")
SUSPICIOUS_ATTRS = {
    ("sys", "_getframe"),
    ("sys", "modules"),
    ("sys", "settrace"),
    ("sys", "setprofile"),
    ("os", "_exit"),
    ("os", "kill"),
    ("os", "killpg"),
    ("os", "fork"),
    ("os", "setsid"),
    ("signal", "alarm"),
    ("signal", "setitimer"),
}
SUSPICIOUS_NAMES = ("__import__", "__builtins__", "__subclasses__", "__globals__", "f_back", "f_globals", "gi_frame")


@dataclass(frozen=True)
class Flags:
    forbidden: tuple[str, ...]
    suspicious: tuple[str, ...]


def scan(source: str, allow_imports: tuple[str, ...] = ()) -> Flags:
    """Flags for ``source``; modules in ``allow_imports`` (from the manifest) are fine."""
    try:
        tree = syntax.parse(source)
    except (SyntaxError, ValueError):
        return Flags((), ())
    forbidden: list[str] = []
    suspicious: list[str] = []
    # `import sys as s; s._getframe()` is `sys._getframe()`: attributes are matched by module.
    aliases = {
        alias.asname: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.asname
    }
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            # `from sys import _getframe` reaches the same thing as `sys._getframe`.
            suspicious.extend(
                f"line {node.lineno}: from {node.module} import {alias.name}"
                for alias in node.names
                if (node.module, alias.name) in SUSPICIOUS_ATTRS and node.module.split(".")[0] not in allow_imports
            )
        for name in names:
            top = name.split(".")[0]
            line = f"line {getattr(node, 'lineno', 0)}: import {name}"
            if top in allow_imports:
                continue
            if top in FORBIDDEN_MODULES:
                forbidden.append(line)
            elif top in SUSPICIOUS_MODULES:
                suspicious.append(line)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = aliases.get(node.value.id, node.value.id)
            if (module, node.attr) in SUSPICIOUS_ATTRS:
                suspicious.append(f"line {node.lineno}: {module}.{node.attr}")
        if isinstance(node, ast.Attribute) and node.attr in SUSPICIOUS_NAMES:
            suspicious.append(f"line {node.lineno}: .{node.attr}")
        if isinstance(node, ast.Name) and node.id in SUSPICIOUS_NAMES:
            suspicious.append(f"line {node.lineno}: {node.id}")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and any(node.value == m or node.value.startswith(m + ".") for m in FORBIDDEN_MODULES)
        ):
            suspicious.append(f"line {node.lineno}: the string {node.value!r}")
    suspicious.extend(_built_names(source, tree))
    return Flags(tuple(dict.fromkeys(forbidden)), tuple(dict.fromkeys(suspicious)))


#: Names that, spelled out in a string, reach the grader's internals through ``getattr``
#: or a module table: no honest answer spells them.
_REACHING = frozenset({"modules", "_getframe", "f_back", "f_globals", "gi_frame", "__subclasses__", "__globals__"})


def _built_names(source: str, tree: ast.AST) -> list[str]:
    """Strings the compiler builds from pieces (``"mod" + "ules"``, ``"grad" + "er.x"``)
    that name a forbidden module or one of ``_REACHING``: split up so that no literal shows
    them, which is the point. Literals that show them are flagged above."""
    try:
        code = compile(source, "<scan>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return []
    literals = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    found: list[str] = []
    stack = [code]
    while stack:
        current = stack.pop()
        for const in current.co_consts:
            if isinstance(const, type(code)):
                stack.append(const)
            elif isinstance(const, str) and const not in literals:
                naming = any(const == m or const.startswith(m + ".") for m in FORBIDDEN_MODULES)
                if naming or const in _REACHING:
                    where = "at module level" if current.co_name == "<module>" else f"in {current.co_name}()"
                    found.append(f"the string {const!r}, built from pieces {where}")
    return found
