"""``grade release OUT``: the students' copy of the kit, with nothing they must not see.

A release holds the grader (the package, its pristine stubs), the manifest, the stubs in
``exercises/``, the *visible* checks, ``pyproject.toml``, the README (without the parts
between ``<!-- release:omit -->`` and ``<!-- /release:omit -->``), the student-side self
test ``tests/release/`` and a GitHub Classroom workflow. It never holds ``solutions/``,
``tests/mutants/``, the kit's own tests (they need the solutions) or hidden checks.

Hidden checks (``@pytest.mark.hidden`` on a check function or class) are cut out of the
released check files by their AST line ranges (decorators and the comment lines right
above included), together with the helpers and fixtures only they used. The result must
compile, and must not mention a removed check's name, docstring or messages anywhere in
the release; a hidden mark the cut cannot remove (a module-level ``pytestmark``, a
``pytest.param(..., marks=...)``) stops the release with the line to change.

The same staging, with ``strip_hidden=False``, is the kit inside the Gradescope bundle
(``grader.gradescope``). The release is built in a temporary folder beside OUT, verified,
and only then renamed to OUT.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grader
from grader.errors import KitError, UsageError
from grader.manifest import MANIFEST_NAME, Exercise, Kit, load_kit, parse_manifest

WORKFLOW_PATH = ".github/workflows/classroom.yml"
#: Never in a release (the Gradescope bundle keeps tests/checks whole but skips these too).
NEVER_SHIPPED = ("solutions", "tests/mutants", "tests/kit", "tests/grader", "benchmarks", ".ci")
OMIT_START = "<!-- release:omit -->"
OMIT_END = "<!-- /release:omit -->"
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


@dataclass
class StageReport:
    root: Path
    exercises: tuple[Exercise, ...]
    hidden: list[HiddenCheck] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


# --- stripping hidden checks ----------------------------------------------------------------


def _is_hidden_mark(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return (
        isinstance(target, ast.Attribute)
        and target.attr == "hidden"
        and isinstance(target.value, ast.Attribute)
        and target.value.attr == "mark"
    )


def _hidden_marks(tree: ast.AST) -> list[int]:
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
    tree = ast.parse(source, filename)
    for node in tree.body:
        if _defined_name(node) == "pytestmark" and _hidden_marks(node):
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
    left = ast.parse(text, filename)  # must still be valid Python
    compile(text, filename, "exec", dont_inherit=True)
    marks = _hidden_marks(left)
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


# --- the manifest, README and pyproject of a release ---------------------------------------


def filter_manifest(text: str, keep: Sequence[str]) -> str:
    """The manifest with only the ``[[exercise]]`` tables whose id is in ``keep``."""
    blocks = re.split(r"(?m)^(?=\[\[exercise\]\]\s*$)", text)
    head, tables = blocks[0], blocks[1:]
    kept = [t for t in tables if str(tomllib.loads(t)["exercise"][0].get("id")) in keep]
    result = head + "".join(kept)
    if not result.endswith("\n"):
        result += "\n"
    before, after = tomllib.loads(text), tomllib.loads(result)
    before.pop("exercise", None)
    after.pop("exercise", None)
    ids = [e.id for e in parse_manifest(result)]
    if before != after or sorted(ids) != sorted(keep):
        raise KitError(f"{MANIFEST_NAME}: could not cut it down to {', '.join(keep)} cleanly; keep tables in order")
    return result


def strip_omitted(readme: str) -> str:
    """The README without the blocks marked for the kit's authors only."""
    pattern = re.compile(re.escape(OMIT_START) + r".*?" + re.escape(OMIT_END) + r"\n?", re.DOTALL)
    return re.sub(r"\n{3,}", "\n\n", pattern.sub("", readme)).rstrip("\n") + "\n"


def release_pyproject(text: str, present: Iterable[str]) -> str:
    """``pyproject.toml`` with pytest's ``testpaths`` cut down to the folders shipped."""
    data = tomllib.loads(text)
    paths = data.get("tool", {}).get("pytest", {}).get("ini_options", {}).get("testpaths")
    if not paths:
        return text
    shipped = [p for p in paths if p in set(present)]
    rendered = "testpaths = [" + ", ".join(json.dumps(p) for p in shipped) + "]"
    result, count = re.subn(r"(?m)^testpaths\s*=\s*\[[^\]]*\]", rendered, text)
    if count != 1 or tomllib.loads(result)["tool"]["pytest"]["ini_options"]["testpaths"] != shipped:
        raise KitError("pyproject.toml: could not rewrite [tool.pytest.ini_options] testpaths for the release")
    return result


def classroom_workflow(python: str) -> str:
    """GitHub Classroom's autograding workflow: install the kit, grade, report the points."""
    return f"""\
# GitHub Classroom autograding: on every push, install the kit, grade every exercise and
# report the points to the classroom (autograding-grading-reporter reads the base64 JSON
# that `grade --format classroom` writes, from the step output named `result`).
name: Autograding Tests
'on':
  - push
  - workflow_dispatch
  - repository_dispatch
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    timeout-minutes: 20
    if: github.actor != 'github-classroom[bot]'
    steps:
      - name: Checkout code
        uses: actions/checkout@v4
      - name: Set up Python
        uses: actions/setup-python@v5
        with:
          python-version: "{python}"
      - name: Install the kit
        run: python -m pip install -e .
      - name: Grade
        id: awaitlings
        run: |
          set +e
          grade --format classroom --output "$RUNNER_TEMP/classroom.json"
          code=$?
          set -e
          if [ ! -s "$RUNNER_TEMP/classroom.json" ]; then
            echo "::error::the grader could not run (exit code $code)"
            exit 1
          fi
          echo "result=$(base64 -w0 "$RUNNER_TEMP/classroom.json")" >> "$GITHUB_OUTPUT"
      - name: Autograding Reporter
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
          AWAITLINGS_RESULTS: "${{{{ steps.awaitlings.outputs.result }}}}"
        with:
          runners: awaitlings
"""


# --- staging ------------------------------------------------------------------------------


def distribution_root() -> Path:
    """The source tree of the running grader (``pyproject.toml`` beside the package)."""
    root = Path(grader.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise KitError(
            f"the grader at {root} has no pyproject.toml beside it: build releases from the kit's source tree "
            "(installed with `pip install -e .`)"
        )
    return root


def stage_kit(kit: Kit, dest: Path, exercises: Sequence[Exercise], *, strip: bool) -> StageReport:
    """Copy the distributable kit for ``exercises`` into ``dest`` (created)."""
    source = distribution_root()
    report = StageReport(root=dest, exercises=tuple(exercises))
    package = Path(grader.__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(package)
        if path.is_file() and "__pycache__" not in rel.parts and rel.parts[0] != "stubs" and path.suffix != ".pyc":
            _copy(path, dest / "grader" / rel, report)
    manifest = (kit.exercises_dir / MANIFEST_NAME).read_text(encoding="utf-8")
    ids = [e.id for e in exercises]
    _write(dest / "exercises" / MANIFEST_NAME, filter_manifest(manifest, ids), report)
    for exercise in exercises:
        stub, checks = kit.pristine_stub(exercise), kit.checks_path(exercise)
        for path, what in ((stub, "pristine stub (grader/stubs/)"), (checks, "checks")):
            if not path.is_file():
                raise KitError(f"{exercise.id} has no {what}: {path}; add it or leave {exercise.id} out")
        _copy(stub, dest / "grader" / "stubs" / exercise.filename, report)
        _copy(stub, dest / "exercises" / exercise.filename, report)
        text = checks.read_text(encoding="utf-8")
        if strip:
            text, cut = strip_hidden(text, exercise.id, checks.name)
            report.hidden += cut
        _write(dest / "tests" / "checks" / checks.name, text, report)
    for folder in ("tests/release",):
        if (source / folder).is_dir():
            for path in sorted((source / folder).glob("*.py")):
                _copy(path, dest / folder / path.name, report)
    readme = kit.root / "README.md" if (kit.root / "README.md").is_file() else source / "README.md"
    _write(dest / "README.md", strip_omitted(readme.read_text(encoding="utf-8")), report)
    present = [p for p in ("tests/grader", "tests/kit", "tests/release") if (dest / p).is_dir()]
    _write(dest / "pyproject.toml", release_pyproject((source / "pyproject.toml").read_text(encoding="utf-8"), present),
           report)  # fmt: skip
    for name in ("LICENSE", "LICENSE.md", "SECURITY.md", ".gitignore"):
        if (source / name).is_file():
            _copy(source / name, dest / name, report)
    return report


def _copy(src: Path, dst: Path, report: StageReport) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    report.files.append(dst.relative_to(report.root).as_posix())


def _write(dst: Path, text: str, report: StageReport) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(text, encoding="utf-8")
    report.files.append(dst.relative_to(report.root).as_posix())


# --- building and verifying a release ------------------------------------------------------


def build_release(kit: Kit, out: Path, exercises: Sequence[Exercise] | None = None) -> StageReport:
    """Build the student release in ``out`` (which must not exist yet, or be empty)."""
    out = out.resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} already exists and is not empty: choose a new folder for the release")
    if out == kit.root.resolve() or kit.root.resolve() in out.parents:
        raise UsageError(f"{out} is inside the kit: put the release outside {kit.root}")
    chosen = tuple(sorted(exercises or kit.exercises, key=lambda e: e.order))
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        report = stage_kit(kit, staging, chosen, strip=True)
        python = ".".join(map(str, max([(3, 12), *(e.min_python for e in chosen)])))
        _write(staging / WORKFLOW_PATH, classroom_workflow(python), report)
        verify_release(staging, report.hidden)
        with contextlib.suppress(FileNotFoundError):
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report.root = out
    return report


def verify_release(root: Path, hidden: Sequence[HiddenCheck]) -> None:
    """Raise :class:`KitError` unless ``root`` is a consistent release with nothing hidden in it."""
    problems: list[str] = []
    for forbidden in NEVER_SHIPPED:
        if (root / forbidden).exists():
            problems.append(f"{forbidden}/ is in the release")
    release = load_kit(root)
    names = {e.filename for e in release.exercises}
    for folder in ("exercises", "grader/stubs"):
        extra = sorted(p.name for p in (root / folder).glob("*.py") if p.name not in names)
        if extra:
            problems.append(f"{folder}/ has files the manifest does not list: {', '.join(extra)}")
    for exercise in release.exercises:
        stub, pristine, checks = (root / "exercises" / exercise.filename, release.pristine_stub(exercise),
                                  release.checks_path(exercise))  # fmt: skip
        if not (stub.is_file() and pristine.is_file() and stub.read_bytes() == pristine.read_bytes()):
            problems.append(f"{exercise.id}: exercises/{exercise.filename} is not the pristine stub")
        if not checks.is_file():
            problems.append(f"{exercise.id}: no checks file")
            continue
        tree = ast.parse(checks.read_text(encoding="utf-8"))
        if _hidden_marks(tree):
            problems.append(f"{exercise.id}: {checks.name} still has a hidden check")
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        # The grader's own code is not derived from checks: only names are looked for there
        # (a hidden check may well reuse a sentence of grader/explain.py).
        in_grader = path.parent == root / "grader" or (root / "grader" / "reporters") == path.parent
        for check in hidden:
            for needle in (check.name, check.docstring) if in_grader else check.needles():
                if not needle:
                    continue
                pattern = rf"\b{re.escape(needle)}\b" if needle.isidentifier() else re.escape(needle)
                if re.search(pattern, text):
                    problems.append(f"{path.relative_to(root)} mentions the hidden check {check.exercise}::{check.name}"
                                    f" ({needle[:60]!r})")  # fmt: skip
    if problems:
        raise KitError("the release is not safe to hand out: " + "; ".join(problems))


def verify_install(root: Path, python: str | None = None, timeout: float = 600) -> dict[str, object]:
    """Install the release as its README says (``pip install -e .``) into a fresh venv and
    run ``grade --format json`` in it; return that report. :class:`KitError` if either fails."""
    with tempfile.TemporaryDirectory(prefix="awaitlings-release-venv-") as tmp:
        venv = Path(tmp) / "venv"
        steps = [
            [python or sys.executable, "-m", "venv", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-e", "."],
        ]
        env = {k: v for k, v in os.environ.items() if k not in ("AWAITLINGS_KIT", "PYTHONPATH", "VIRTUAL_ENV")}
        for cmd in steps:
            done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout, check=False)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout)[-2000:]
                raise KitError(f"installing the release failed: {' '.join(cmd)}\n{tail}")
        done = subprocess.run([str(venv / "bin" / "grade"), "--format", "json"], cwd=root, env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip
        try:
            report: dict[str, object] = json.loads(done.stdout)
        except ValueError as exc:
            tail = (done.stderr or done.stdout)[-2000:]
            raise KitError(f"`grade` did not run in the installed release:\n{tail}") from exc
        return report
