"""Gradescope: results.json validates against the documented schema; the autograder bundle
holds what it should; (slow) run_autograder, for real, in a simulated /autograder tree."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from coursekit import ADDER_INTS_ONLY, ADDER_OK, EX01_SYNTAX_ERROR, course_kit, ex01_solution, write

from grader import cli as cli_module
from grader import doctor, submissions
from grader.cli import main
from grader.errors import UsageError
from grader.manifest import KIT_ENV, Kit
from grader.platforms import gradescope as gradescope_module
from grader.platforms.gradescope import Layout, autograde, export_bundle
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
        """hidden checks are after_published unless configured; 'hidden' and unknown values are refused"""
        tests = gradescope.to_dict(run_with(adder(CheckStatus.FAILED)))["tests"]
        assert [t["visibility"] for t in tests] == ["visible", "after_published"]
        custom = gradescope.to_dict(run_with(adder(CheckStatus.FAILED)), hidden_visibility="after_due_date")
        assert custom["tests"][1]["visibility"] == "after_due_date"
        with pytest.raises(ValueError, match="hidden_visibility"):
            gradescope.to_dict(run_with(), hidden_visibility="later")
        # Gradescope: "Test cases with visibility set to hidden don't affect this [the total being
        # hidden], since they should only be used for tests which don't contribute points".
        with pytest.raises(ValueError, match="total"):
            gradescope.to_dict(run_with(adder(CheckStatus.FAILED)), hidden_visibility="hidden")

    def test_output_texts(self) -> None:
        """the overview is HTML-escaped (Gradescope renders it as simple_format); a failed
        check shows its message and what the code printed; max_score is top level and in extra_data"""
        data = gradescope.to_dict(run_with(adder(CheckStatus.FAILED, "debug line\n")), notes=("graded a/<b>.py",),
                                  hidden_visibility="visible")  # fmt: skip
        assert "Add &lt;two&gt; things: 1/4 (failing)" in data["output"] and "graded a/&lt;b&gt;.py" in data["output"]
        assert data["tests"][1]["output"] == "mind the signs\n\nYour code printed:\ndebug line"
        assert data["extra_data"] == {"max_score": 4.0, "kit_version": "0.1.0", "python": "3.12.1"}
        assert (data["score"], data["max_score"]) == (1.0, 4.0)

    def test_execution_time_is_the_measured_wall_time(self) -> None:
        """execution_time is the wall time the caller measured (whole seconds, rounded up), not
        a sum of the exercises' durations; left out when nobody measured it"""
        run = run_with(adder(CheckStatus.PASSED), replace(adder(CheckStatus.PASSED), id="ex03"))
        assert "execution_time" not in gradescope.to_dict(run)
        data = gradescope.to_dict(run, execution_time=1.3)
        assert data["execution_time"] == 2 and isinstance(data["execution_time"], int)


def student_view(data: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """What a student sees before grades are published: the output and the visible tests."""
    return data["output"], [t for t in data["tests"] if t["visibility"] == "visible"]


class TestHiddenChecksStayHidden:
    """Gradescope's specification: "If test cases are hidden, students will not be able to
    see their total score"; the always-visible output must not show it either."""

    @pytest.mark.parametrize("visibility", ["after_published", "after_due_date"])
    def test_a_hidden_failure_changes_nothing_the_student_sees(self, visibility: str) -> None:
        """a student whose only failure is a hidden check sees exactly what one who passed it sees"""
        other = exercise_result(id="ex01", slug="hello_run", title="First", points=10,
                                checks=[CheckResult(id="t::a", name="runs", status=CheckStatus.PASSED)])  # fmt: skip
        passed = gradescope.to_dict(run_with(other, adder(CheckStatus.PASSED)), hidden_visibility=visibility)
        failed = gradescope.to_dict(run_with(other, adder(CheckStatus.FAILED)), hidden_visibility=visibility)
        assert (passed["score"], failed["score"]) == (14.0, 11.0), "the real scores differ"
        assert student_view(passed) == student_view(failed)
        output = failed["output"]
        assert "11" not in output and "14" not in output and "failing" not in output
        assert "ex01 First: 10/10 (passed)" in output, "an exercise without hidden checks keeps its score"
        assert "1 of 1 visible checks passed, 1 hidden" in output

    def test_visible_hidden_checks_show_everything(self) -> None:
        """with hidden checks made visible, the overview has the total and every score again"""
        data = gradescope.to_dict(run_with(adder(CheckStatus.FAILED)), hidden_visibility="visible")
        assert data["output"].splitlines()[0].endswith(": 1/4 points")

    def test_no_hidden_check_no_concealing(self) -> None:
        """a run without hidden checks shows its total"""
        plain = exercise_result(id="ex01", slug="hello_run", title="First", points=10,
                                checks=[CheckResult(id="t::a", name="runs", status=CheckStatus.FAILED)])  # fmt: skip
        assert "0/10 points" in gradescope.to_dict(run_with(plain))["output"]


class TestGraderFailure:
    """The results.json of a run that could not grade."""

    def test_failure_validates_and_sends_to_staff(self) -> None:
        """score 0, the reason, and the request to contact the staff, in the visible output"""
        data = gradescope.failure_dict("it could not run here (no namespaces)", max_score=14.0, execution_time=0.2)
        jsonschema.validate(data, SCHEMA)
        assert data["score"] == 0 and data["execution_time"] == 1 and data["visibility"] == "visible"
        assert "could not grade this submission: it could not run here (no namespaces)" in data["output"]
        assert "contact the course staff" in data["output"]


class TestBundle:
    """The autograder zip: setup.sh and run_autograder at the root, the whole kit inside."""

    def test_contents(self, tmp_path: Path) -> None:
        """executable scripts; every check (hidden too); no solutions, mutants or kit tests"""
        kit = course_kit(tmp_path / "kit")
        out = tmp_path / "autograder.zip"
        export_bundle(kit, out, hidden_visibility="after_due_date", time_budget=300)
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
        assert "--hidden-visibility after_due_date --time-budget 300" in run and "autograde" in run

    def test_hidden_visibility_hidden_is_refused(self, tmp_path: Path) -> None:
        """'hidden' would show students a total that hidden checks decided: refused with the way out"""
        with pytest.raises(UsageError, match="after_published"):
            export_bundle(course_kit(tmp_path / "kit"), tmp_path / "autograder.zip", hidden_visibility="hidden")

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


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch, kit: Kit | Path) -> int:
    """`grade ARGS` through the console entry point (errors become exit codes there)."""
    monkeypatch.setenv(KIT_ENV, str(kit.root if isinstance(kit, Kit) else kit))
    monkeypatch.setattr(cli_module, "_KIT", None)
    monkeypatch.setattr(sys, "argv", ["grade", *args])
    with CliRunner().isolation(), pytest.raises(SystemExit) as exited:
        main()
    return exited.value.code if isinstance(exited.value.code, int) else 1


def staff_failure(layout: Layout) -> str:
    """The visible output of a results.json that says the grader failed (validated)."""
    data = json.loads(layout.results.read_text())
    jsonschema.validate(data, SCHEMA)
    assert data["score"] == 0 and data["extra_data"]["grader_failed"] is True
    assert "contact the course staff" in data["output"]
    return str(data["output"])


class TestEveryExitPath:
    """`grade autograde` leaves a results.json whatever happens, and says when to contact staff."""

    def layout(self, tmp_path: Path) -> Layout:
        layout = Layout(tmp_path / "autograder")
        write(layout.submission / "ex02_adder.py", ADDER_OK)
        return layout

    def test_strict_refused(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """--strict refusing (a container without namespaces): exit 3, the reason, contact staff"""
        kit, layout = course_kit(tmp_path / "kit"), self.layout(tmp_path)
        monkeypatch.setattr(doctor, "course_mode_problems", lambda report: ["no user namespaces"])
        assert run_main(["autograde", "--root", str(layout.root), "--strict"], monkeypatch, kit) == 3
        assert "course mode (--strict) refuses to grade: no user namespaces" in staff_failure(layout)

    def test_no_kit(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """the kit cannot be loaded: exit 3, results.json still written"""
        layout = self.layout(tmp_path)
        assert run_main(["autograde", "--root", str(layout.root)], monkeypatch, tmp_path / "nothing") == 3
        assert "could not run here" in staff_failure(layout)

    def test_a_bug_before_grading(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """an exception in the grader: exit 3, named as the grader's bug, contact staff"""
        kit, layout = course_kit(tmp_path / "kit"), self.layout(tmp_path)

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(submissions, "collect", broken)
        assert run_main(["autograde", "--root", str(layout.root)], monkeypatch, kit) == 3
        assert "it failed (RuntimeError, a bug in awaitlings)" in staff_failure(layout)

    def test_a_bug_while_grading_one_exercise(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """the grader failing on an exercise: that exercise says so, the run still completes"""
        kit, layout = course_kit(tmp_path / "kit"), self.layout(tmp_path)

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(gradescope_module, "grade_exercise", broken)
        autograde(kit, layout)
        data = json.loads(layout.results.read_text())
        validate(data)
        ex02 = [t for t in data["tests"] if t["tags"][0] == "ex02"]
        assert len(ex02) == 1 and "autograder failed on this exercise (RuntimeError)" in ex02[0]["output"]
        assert "contact the course staff" in ex02[0]["output"]

    def test_time_budget(self, tmp_path: Path) -> None:
        """exercises not graded within the budget are reported as such, with the request to contact staff"""
        kit, layout = course_kit(tmp_path / "kit"), self.layout(tmp_path)
        run = autograde(kit, layout, time_budget=0)
        data = json.loads(layout.results.read_text())
        validate(data)
        assert run.score == 0
        ex02 = [t for t in data["tests"] if t["tags"][0] == "ex02"]
        assert "not graded: the time budget (0 s) ran out" in ex02[0]["output"]
        assert "time budget (0 s) ran out before every exercise was graded" in data["output"]

    def test_execution_time_is_wall_time(self, tmp_path: Path) -> None:
        """execution_time counts from when the run started, once, however many exercises ran"""
        kit, layout = course_kit(tmp_path / "kit"), self.layout(tmp_path)
        write(layout.submission / "ex01_hello_run.py", ex01_solution())
        before = time.monotonic()
        run = autograde(kit, layout, started=before - 5)
        wall = time.monotonic() - before + 5
        data = json.loads(layout.results.read_text())
        assert 5 <= data["execution_time"] <= math.ceil(wall)
        assert run.score == 14.0


@pytest.mark.slow
class TestStoppedByThePlatform:
    """The platform's global timeout sends SIGTERM: results.json says what was graded and why not the rest."""

    def test_sigterm_writes_results(self, tmp_path: Path) -> None:
        """a run stopped mid-grading writes results.json before exiting, asking the student to contact staff"""
        kit = course_kit(tmp_path / "kit", timeout=20)
        layout = Layout(tmp_path / "autograder")
        hangs = (
            "async def greet(name, delay):\n    return name\n\n\nasync def main():\n    pass\n\n\n"
            "import time\nwhile True:\n    time.sleep(0.1)\n"
        )
        write(layout.submission / "ex01_hello_run.py", hangs)
        write(layout.submission / "ex02_adder.py", ADDER_OK)
        env = {"PATH": os.environ["PATH"], KIT_ENV: str(kit.root), "HOME": str(tmp_path)}
        proc = subprocess.Popen([sys.executable, "-m", "grader", "autograde", "--root", str(layout.root), "-j", "1"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.monotonic() + 30
        while not layout.results.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)  # well inside ex01's hanging import (20 s limit)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err[-2000:]
        data = json.loads(layout.results.read_text())
        validate(data)
        assert "The autograder was stopped before every exercise was graded." in data["output"]
        ex01 = [t for t in data["tests"] if t["tags"][0] == "ex01"]
        assert "not graded: the autograder was stopped" in ex01[0]["output"]


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
