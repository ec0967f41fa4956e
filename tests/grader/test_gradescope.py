"""Gradescope: results.json validates against the documented schema; the autograder bundle
holds what it should; (slow) run_autograder, for real, in a simulated /autograder tree."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from coursekit import ADDER_INTS_ONLY, ADDER_OK, EX01_SYNTAX_ERROR, course_kit, ex01_solution, write

from grader.gradescope import Layout, autograde, export_bundle
from grader.reporters import gradescope
from grader.results import CheckResult, CheckStatus, ExerciseStatus, RunResult, exercise_result, zero_result

SCHEMA = json.loads((Path(__file__).parent / "gradescope_results.schema.json").read_text(encoding="utf-8"))


def validate(data: dict[str, Any]) -> None:
    """The documented schema, plus what the specification says in words."""
    jsonschema.validate(data, SCHEMA)
    numbers = [t["number"] for t in data["tests"]]
    assert len(numbers) == len(set(numbers)), "test numbers are unique"
    for test in data["tests"]:
        assert 0 <= test["score"] <= test["max_score"]
        assert (test["status"] == "passed") == (test["score"] == test["max_score"] > 0)
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


def run_with(*exercises: Any) -> RunResult:
    return RunResult(target="submission", python="3.12.1", kit_version="0.1.0", exercises=tuple(exercises))


def adder(status: CheckStatus, output: str = "") -> Any:
    return exercise_result(
        id="ex02", slug="adder", title="Add <two> things", points=4, duration_s=1.2,
        checks=[
            CheckResult(id="t::ints", name="adds two ints", status=CheckStatus.PASSED),
            CheckResult(id="t::neg", name="adds negatives", status=status, hidden=True, weight=3,
                        message=None if status is CheckStatus.PASSED else "mind the signs", output=output),
        ],
    )  # fmt: skip


class TestResultsJson:
    """`--format gradescope` follows the specification."""

    def test_validates(self) -> None:
        """passing, failing, crashed and not-started runs all validate"""
        missing = zero_result(id="ex01", slug="hello_run", title="First", points=10, status=ExerciseStatus.ERROR,
                              message="ex01_hello_run.py was not found in the submission")  # fmt: skip
        for run in (run_with(adder(CheckStatus.PASSED)), run_with(missing, adder(CheckStatus.FAILED, "debug\n"))):
            validate(gradescope.to_dict(run))

    def test_hidden_checks_and_visibility(self) -> None:
        """hidden checks are after_published unless configured; an unknown value is refused"""
        tests = gradescope.to_dict(run_with(adder(CheckStatus.FAILED)))["tests"]
        assert [t["visibility"] for t in tests] == ["visible", "after_published"]
        custom = gradescope.to_dict(run_with(adder(CheckStatus.FAILED)), hidden_visibility="after_due_date")
        assert custom["tests"][1]["visibility"] == "after_due_date"
        with pytest.raises(ValueError, match="hidden_visibility"):
            gradescope.to_dict(run_with(), hidden_visibility="later")

    def test_output_texts(self) -> None:
        """the overview is HTML-escaped (Gradescope renders it as simple_format); a failed
        check shows its message and what the code printed; max_score is top level and in extra_data"""
        data = gradescope.to_dict(run_with(adder(CheckStatus.FAILED, "debug line\n")), notes=("graded a/<b>.py",))
        assert "Add &lt;two&gt; things: 1/4 (failing)" in data["output"] and "graded a/&lt;b&gt;.py" in data["output"]
        assert data["tests"][1]["output"] == "mind the signs\n\nYour code printed:\ndebug line"
        assert data["extra_data"] == {"max_score": 4.0, "kit_version": "0.1.0", "python": "3.12.1"}
        assert (data["score"], data["max_score"]) == (1.0, 4.0)
        assert data["execution_time"] == 2 and isinstance(data["execution_time"], int)


class TestBundle:
    """The autograder zip: setup.sh and run_autograder at the root, the whole kit inside."""

    def test_contents(self, tmp_path: Path) -> None:
        """executable scripts; every check (hidden too); no solutions, mutants or kit tests"""
        kit = course_kit(tmp_path / "kit")
        out = tmp_path / "autograder.zip"
        export_bundle(kit, out, hidden_visibility="hidden")
        with zipfile.ZipFile(out) as zf:
            names = zf.namelist()
            modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
            checks = zf.read("kit/tests/checks/test_ex02_adder.py").decode()
            run = zf.read("run_autograder").decode()
        assert names[:2] == ["setup.sh", "run_autograder"]
        assert modes["setup.sh"] & stat.S_IXUSR and modes["run_autograder"] & stat.S_IXUSR
        assert {"kit/pyproject.toml", "kit/grader/cli.py", "kit/exercises/exercises.toml"} <= set(names)
        assert "test_adds_negative_numbers" in checks, "the bundle grades hidden checks"
        assert not any(n.startswith(("kit/solutions", "kit/tests/mutants", "kit/tests/kit", "kit/tests/grader"))
                       for n in names)  # fmt: skip
        assert "--hidden-visibility hidden" in run and "autograde" in run

    def test_reproducible(self, tmp_path: Path) -> None:
        """the same kit gives the same bytes"""
        kit = course_kit(tmp_path / "kit")
        export_bundle(kit, tmp_path / "a.zip")
        export_bundle(kit, tmp_path / "b.zip")
        assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


class TestAutogradeInProcess:
    """`grade autograde` reads the submission folder and writes results.json atomically."""

    def test_missing_files_and_nested_files(self, tmp_path: Path) -> None:
        """a nested adder is found; a missing ex01 is a failed test that says what to upload"""
        kit = course_kit(tmp_path / "kit")
        layout = Layout(tmp_path / "autograder")
        write(layout.submission / "my work" / "exercises" / "ex02_adder.py", ADDER_OK)
        run = autograde(kit, layout)
        data = json.loads(layout.results.read_text())
        validate(data)
        assert run.score == 4.0 and data["score"] == 4.0
        assert data["tests"][0]["name"] == "ex01 Your first coroutine"
        assert "ex01_hello_run.py was not found" in data["tests"][0]["output"]
        assert "graded my work/exercises/ex02_adder.py for ex02" in data["output"]
        assert not list(layout.results.parent.glob(".*.tmp"))


def _extract(bundle: Path, root: Path) -> None:
    """What Gradescope does with the zip: extract to source/, copy run_autograder to the root."""
    with zipfile.ZipFile(bundle) as zf:
        for info in zf.infolist():
            target = root / "source" / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            target.chmod(info.external_attr >> 16 & 0o777)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")


@pytest.mark.slow
class TestSimulatedAutograder:
    """The real setup.sh and run_autograder, in Gradescope's layout under a temporary root."""

    def test_correct_and_broken_submissions(self, tmp_path: Path) -> None:
        """setup installs the kit; a correct submission gets full marks, a broken one partial
        credit with the reasons; results.json validates each time"""
        kit = course_kit(tmp_path / "kit")
        root = tmp_path / "autograder"
        export_bundle(kit, tmp_path / "autograder.zip")
        _extract(tmp_path / "autograder.zip", root)
        env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path)),  # pip's cache
               "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}  # fmt: skip
        setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], cwd=root, env=env, capture_output=True,
                               text=True, check=False)  # fmt: skip
        assert setup.returncode == 0, setup.stderr[-3000:]

        def grade(files: dict[str, str | bytes]) -> dict[str, Any]:
            shutil.rmtree(root / "submission", ignore_errors=True)
            shutil.rmtree(root / "results", ignore_errors=True)
            for rel, data in files.items():
                write(root / "submission" / rel, data)
            (root / "results").mkdir()
            done = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                                  check=False)  # fmt: skip
            assert done.returncode == 0, done.stderr[-3000:]
            data: dict[str, Any] = json.loads((root / "results" / "results.json").read_text())
            validate(data)
            return data

        correct = grade({"ex01_hello_run.py": ex01_solution(), "hw/exercises/ex02_adder.py": ADDER_OK})
        assert correct["score"] == 14.0 and correct["extra_data"]["max_score"] == 14.0
        assert all(t["status"] == "passed" for t in correct["tests"])
        secret = [t for t in correct["tests"] if t["name"] == "ex02 adds two negative numbers, secretly"]
        assert len(secret) == 1 and secret[0]["visibility"] == "after_published"

        broken = grade({"ex01_hello_run.py": EX01_SYNTAX_ERROR, "ex02_adder.py": ADDER_INTS_ONLY})
        assert broken["score"] == 2.0
        assert "syntax error at line 1" in broken["tests"][0]["output"]
        failing = [t["name"] for t in broken["tests"] if t["status"] == "failed"]
        assert failing == ["ex01 Your first coroutine", "ex02 adds two strings"]
