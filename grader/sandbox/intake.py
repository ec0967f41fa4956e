"""Reading the learner's file once: what is scanned is what is graded. An untouched stub,
a file that is no Python, or one that defines none of the names the checks use is decided
here, without a child."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from grader import syntax
from grader.manifest import Exercise, Kit
from grader.results import ExerciseStatus
from grader.sandbox import flags


@dataclass
class Source:
    """The learner's file, read once: what is checked is exactly what is graded."""

    raw: bytes = b""
    flags: flags.Flags = field(default_factory=lambda: flags.Flags((), ()))
    #: Names the exercise needs (the stub's public functions and classes) the file lacks.
    missing: tuple[str, ...] = ()


def missing_names(kit: Kit, exercise: Exercise, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names the exercise's checks use from the learner's module (``ex.greet``) that
    ``text`` does not define, and all of those names."""
    try:
        checks = kit.checks_path(exercise).read_text(encoding="utf-8")
        mine = syntax.parse(text)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return (), ()
    needed = tuple(sorted(set(re.findall(r"\bex\.([A-Za-z_]\w*)", checks))))
    return tuple(name for name in needed if name not in _top_level_names(mine)), needed


def _top_level_names(tree: ast.Module) -> set[str]:
    """Names a module binds at top level (defs, classes, assignments, imports), also
    inside top-level ``if``/``try`` blocks."""
    names: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for field_name in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, field_name, []):
                    pending.extend(child.body if isinstance(child, ast.ExceptHandler) else [child])
    return names


def check_source(
    kit: Kit, exercise: Exercise, target: Path | bytes, skip_untouched: bool, source: Source
) -> tuple[str | None, ExerciseStatus]:
    """Catch what needs no child: missing, unreadable, not UTF-8, syntax error, untouched stub.

    ``target`` is the learner's folder, or the file's bytes themselves (a batch, the
    kit's verification and Gradescope hold them already: no folder is made for them).
    """
    if isinstance(target, bytes):
        raw = target
    else:
        path = target / exercise.filename
        if not path.is_file():
            return (
                f"{exercise.filename} is missing from {target}: create it, or run "
                f"`grade reset {exercise.id}` to get the stub back.",
                ExerciseStatus.ERROR,
            )
        try:
            raw = path.read_bytes()
        except OSError as exc:
            return f"cannot read {exercise.filename}: {exc.strerror}", ExerciseStatus.ERROR
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return (
            f"{exercise.filename} is not valid UTF-8 (byte {raw[exc.start]:#04x} on line {line}): "
            "save it as UTF-8 in your editor.",
            ExerciseStatus.ERROR,
        )
    if skip_untouched and kit.untouched(exercise, raw):
        return "not started yet: the file is still the stub", ExerciseStatus.NOT_STARTED
    try:
        compile(text, exercise.filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        source_line = (exc.text or "").rstrip()
        shown = f"\n    {source_line}" if source_line else ""
        return f"{exercise.filename} has a syntax error at {where}: {exc.msg}{shown}", ExerciseStatus.ERROR
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"{exercise.filename} cannot be compiled: {exc}", ExerciseStatus.ERROR
    found = flags.scan(text, exercise.allow_imports)
    source.raw, source.flags = raw, found
    source.missing, needed = missing_names(kit, exercise, text)
    if needed and len(source.missing) == len(needed):
        return (
            f"{exercise.filename} defines none of the names this exercise needs "
            f"({', '.join(needed)}). Start from the stub (`grade reset {exercise.id}` gives it "
            "back; your file is backed up first), or define them yourself.",
            ExerciseStatus.ERROR,
        )
    if found.forbidden:
        return (
            f"{exercise.filename} reaches into the grader or the test framework "
            f"({'; '.join(found.forbidden)}): submissions may not. Scored zero.",
            ExerciseStatus.ERROR,
        )
    return None, ExerciseStatus.PASSED
