"""``grade release OUT``: the students' copy of the kit, with nothing they must not see.

A release holds the grader (the package, its pristine stubs), the manifest, the stubs in
``exercises/``, the *visible* checks, ``pyproject.toml``, the README (without the parts
between ``<!-- release:omit -->`` and ``<!-- /release:omit -->``), the student-side self
test ``tests/release/`` and a GitHub Classroom workflow. It never holds ``solutions/``,
``tests/mutants/``, the kit's own tests (they need the solutions) or hidden checks.

Hidden checks (``@pytest.mark.hidden``) are cut out of the released check files by
``grader.hidden``; :func:`verify_release` then proves that no file of the release mentions
a removed check's name, docstring or messages, that the stubs in ``exercises/`` are the
pristine ones in ``grader/stubs/`` and that both match the manifest.

The same staging, with ``strip_hidden=False``, is the kit inside the Gradescope bundle
(``grader.platforms.gradescope``); the workflow is ``grader.platforms.classroom``'s. The
release is built in a temporary folder beside OUT, verified, and only then renamed to OUT.
"""

from __future__ import annotations

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
from grader import syntax
from grader.errors import KitError, UsageError
from grader.hidden import HiddenCheck, hidden_marks, strip_hidden
from grader.manifest import MANIFEST_NAME, Exercise, Kit, load_kit, parse_manifest
from grader.platforms import classroom

#: Never in a release (the Gradescope bundle keeps tests/checks whole but skips these too).
NEVER_SHIPPED = ("solutions", "tests/mutants", "tests/kit", "tests/grader", "benchmarks", ".ci")
OMIT_START = "<!-- release:omit -->"
OMIT_END = "<!-- /release:omit -->"


@dataclass
class StageReport:
    root: Path
    exercises: tuple[Exercise, ...]
    hidden: list[HiddenCheck] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


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
    # The kit's own suite runs under pytest-xdist (a test extra); a student's small
    # self-test does not need it and must run after a plain `pip install -e .`.
    addopts = tomllib.loads(result)["tool"]["pytest"]["ini_options"].get("addopts")
    if isinstance(addopts, list) and "-n" in addopts:
        kept = _without_xdist(addopts)
        rendered = "addopts = [" + ", ".join(json.dumps(a) for a in kept) + "]"
        result, count = re.subn(r"(?m)^addopts\s*=\s*\[[^\]]*\]", rendered, result)
        if count != 1 or tomllib.loads(result)["tool"]["pytest"]["ini_options"]["addopts"] != kept:
            raise KitError("pyproject.toml: could not rewrite [tool.pytest.ini_options] addopts for the release")
    return result


def _without_xdist(addopts: list[str]) -> list[str]:
    """``addopts`` without pytest-xdist's ``-n N`` and ``--dist MODE``."""
    kept: list[str] = []
    skip = False
    for arg in addopts:
        if skip:
            skip = False
        elif arg in ("-n", "--dist", "--numprocesses"):
            skip = True
        elif not arg.startswith(("-n=", "--dist=", "--numprocesses=")):
            kept.append(arg)
    return kept


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
        _write(staging / classroom.WORKFLOW_PATH, classroom.workflow(python, [e.id for e in chosen]), report)
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
        tree = syntax.parse(checks.read_text(encoding="utf-8"))
        if hidden_marks(tree):
            problems.append(f"{exercise.id}: {checks.name} still has a hidden check")
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        # The grader's own code is not derived from checks: only names are looked for there
        # (a hidden check may well reuse a sentence of grader/explain.py).
        # (The stubs are the learner's, not the grader's: they get the full scan.)
        in_grader = path.is_relative_to(root / "grader") and not path.is_relative_to(root / "grader" / "stubs")
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
