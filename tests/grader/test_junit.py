"""JUnit XML and GitHub Classroom's result objects: one test per check, points attached,
and files that any consumer parses whatever the learner's code printed, checked against
the real references (junit-10.xsd, junitparser, the official Classroom reporter)."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from click.testing import CliRunner
from coursekit import ADDER_INTS_ONLY, course_kit
from junitparser import JUnitXml, Skipped

from grader import cli as cli_module
from grader.cli import cli
from grader.manifest import KIT_ENV
from grader.reporters import classroom, junit
from grader.results import CheckResult, CheckStatus, ExerciseStatus, RunResult, exercise_result, zero_result


def sample() -> RunResult:
    ex01 = exercise_result(
        id="ex01", slug="hello_run", title="First", points=10, duration_s=0.5,
        checks=[
            CheckResult(id="t.py::test_a", name="greet is async", status=CheckStatus.PASSED, duration_s=0.01),
            CheckResult(id="t.py::test_b", name="runs at once", status=CheckStatus.FAILED, weight=3,
                        message="only 1 ran\x00 at once \x1b[31m", output="printed \x07bell\udcff\n", duration_s=0.2),
            CheckResult(id="t.py::test_c", name="secret", status=CheckStatus.TIMEOUT, hidden=True, message="stuck"),
            CheckResult(id="t.py::test_d", name="crashes", status=CheckStatus.ERROR, message="boom"),
        ],
    )  # fmt: skip
    stub = zero_result(id="ex02", slug="adder", title="Add", points=4, status=ExerciseStatus.NOT_STARTED,
                       message="not started yet: the file is still the stub")  # fmt: skip
    newer = zero_result(id="ex12", slug="cpu_bound", title="CPU", points=10, status=ExerciseStatus.UNSUPPORTED,
                        message="needs Python 3.14 or newer")  # fmt: skip
    return RunResult(target="exercises", python="3.11.7", kit_version="0.1.0", exercises=(ex01, stub, newer))


SCHEMA = Path(__file__).parent / "junit-10.xsd"


def unreadable() -> RunResult:
    """Exercises that could not be graded: a syntax error, a missing file, a crash at import."""
    syntax = zero_result(id="ex03", slug="gather_fanout", title="Fan out", points=10, status=ExerciseStatus.ERROR,
                         message="syntax error at line 4 of ex03_gather_fanout.py: expected ':'")  # fmt: skip
    missing = zero_result(id="ex04", slug="echo_server", title="Echo", points=10, status=ExerciseStatus.ERROR,
                          message="ex04_echo_server.py was not found in the submission")  # fmt: skip
    crashed = zero_result(
        id="ex05", slug="echo_client", title="Client", points=10, status=ExerciseStatus.ERROR,
        message="Importing ex05_echo_client.py raised NameError: name 'asyncoi' is not defined",
        checks=[CheckResult(id="t.py::test_a", name="round trip", status=CheckStatus.ERROR)],
    )  # fmt: skip
    return RunResult(target="submission", python="3.11.7", kit_version="0.1.0", exercises=(syntax, missing, crashed))


class TestJunit:
    """One testcase per check; points on the suite; always well-formed XML."""

    def root(self, run: RunResult | None = None) -> ET.Element:
        return ET.fromstring(junit.render(run or sample()).encode("utf-8"))

    def test_testcases_and_points(self) -> None:
        """each check is a testcase; its score, max_score and hidden flag are suite properties"""
        suite = self.root().find("testsuite")
        assert suite is not None and suite.get("name") == "ex01_hello_run"
        cases = suite.findall("testcase")
        assert [c.get("name") for c in cases] == ["greet is async", "runs at once", "secret", "crashes"]
        assert not [c for c in cases if c.find("properties") is not None]
        props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
        assert [props[f"{c.get('name')} | max_score"] for c in cases] == ["1.6667", "5.0", "1.6667", "1.6667"]
        assert props["greet is async | score"] == "1.6667" and props["runs at once | score"] == "0.0"
        assert props["secret | hidden"] == "true" and "greet is async | hidden" not in props
        assert [child.tag for c in cases for child in c if child.tag in ("failure", "error")] == [
            "failure", "failure", "error",
        ]  # fmt: skip

    def test_counts_and_skipped(self) -> None:
        """a not-started exercise fails; one this Python cannot grade is skipped, on its suite only"""
        root = self.root()
        assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "3", "1")
        assert root.get("skipped") is None, "junit-10.xsd has no skipped attribute on testsuites"
        ex12 = root.findall("testsuite")[2]
        assert ex12.get("skipped") == "1" and ex12.find("testcase/skipped") is not None

    def test_one_classname_per_exercise(self) -> None:
        """every testcase of an exercise, with or without checks, has the suite's name as classname"""
        for suite in self.root().findall("testsuite"):
            assert {c.get("classname") for c in suite.findall("testcase")} == {suite.get("name")}

    def test_an_ungradable_file_is_an_error_that_says_why(self) -> None:
        """a syntax error or a missing file is an error element, counted in errors, with the reason as its text"""
        root = self.root(unreadable())
        assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "0", "3")
        errors = [s.find("testcase/error") for s in root.findall("testsuite")]
        assert [e.text if e is not None else None for e in errors] == [
            "syntax error at line 4 of ex03_gather_fanout.py: expected ':'",
            "ex04_echo_server.py was not found in the submission",
            "Importing ex05_echo_client.py raised NameError: name 'asyncoi' is not defined",
        ]
        assert [s.get("errors") for s in root.findall("testsuite")] == ["1", "1", "1"]

    def test_control_characters_are_escaped(self) -> None:
        """NUL, escape codes and lone surrogates in messages or output never break the XML"""
        case = self.root().findall("testsuite/testcase")[1]
        failure, out = case.find("failure"), case.find("system-out")
        assert failure is not None and failure.text == "only 1 ran\\x00 at once \\x1b[31m"
        assert out is not None and out.text == "printed \\x07bell\\udcff\n"


class TestAgainstTheReferences:
    """The Jenkins xUnit plugin's junit-10.xsd accepts the file and junitparser reads it back."""

    @pytest.mark.parametrize("make", [sample, unreadable])
    def test_validates_against_junit_10_xsd(self, make: Callable[[], RunResult]) -> None:
        """the XML is valid against junit-10.xsd (xmlschema)"""
        schema = xmlschema.XMLSchema(str(SCHEMA))
        schema.validate(junit.render(make()))

    @pytest.mark.parametrize("make", [sample, unreadable])
    def test_junitparser_counts_agree(self, make: Callable[[], RunResult]) -> None:
        """junitparser finds every testcase with the verdict and counts the file states"""
        run = make()
        xml = JUnitXml.fromstring(junit.render(run))
        suites = list(xml)
        assert [s.name for s in suites] == [f"{e.id}_{e.slug}" for e in run.exercises]
        for suite, ex in zip(suites, run.exercises, strict=True):
            cases = list(suite)
            assert len(cases) == suite.tests == max(1, len(ex.checks))
            assert sum(1 for c in cases if c.is_failure) == suite.failures
            assert sum(1 for c in cases if c.is_error) == suite.errors
            assert sum(1 for c in cases if c.is_skipped) == (suite.skipped or 0)
            for case in cases:
                for verdict in case.result:
                    if not isinstance(verdict, Skipped):
                        assert verdict.text and verdict.message, f"{case.name}: an empty failure says nothing"
            props = {p.name: p.value for p in suite.properties()}
            assert float(props["score"]) == ex.score and float(props["max_score"]) == ex.max_score


class TestClassroom:
    """The object GitHub Classroom's autograding-grading-reporter reads."""

    def test_shape(self) -> None:
        """version, status, max_score and one test per check with its points; an error names its check"""
        data = classroom.to_dict(sample())
        assert set(data) == {"version", "status", "max_score", "tests"}
        assert data["version"] == 1 and data["status"] == "error" and data["max_score"] == 14.0
        assert [t["name"] for t in data["tests"]] == [
            "ex01 greet is async", "ex01 runs at once", "ex01 secret", "ex01 crashes", "ex02 Add",
        ]  # fmt: skip
        assert [t["status"] for t in data["tests"]] == ["pass", "fail", "fail", "error", "fail"]
        assert data["tests"][3]["message"] == "ex01 crashes: boom", "the reporter prints only an error's message"
        assert posted_points([data]) == (1.6667, 14.0)
        for test in data["tests"]:
            assert set(test) == {"name", "status", "score", "message", "line_no", "execution_time"}

    def test_encoded_for_the_step_output(self) -> None:
        """the step output is base64 of the JSON, as the reporter decodes it"""
        assert json.loads(base64.b64decode(classroom.encode(sample()))) == classroom.to_dict(sample())

    def test_all_passing(self) -> None:
        """a run at full marks reports pass"""
        run = RunResult(target="x", python="3.12", exercises=sample().exercises[:1])
        checks = tuple(CheckResult(id=c.id, name=c.name, status=CheckStatus.PASSED) for c in run.exercises[0].checks)
        passing = exercise_result(id="ex01", slug="hello_run", title="First", points=10, checks=checks)
        assert classroom.to_dict(RunResult(target="x", python="3.12", exercises=(passing,)))["status"] == "pass"


def posted_points(objects: list[dict[str, Any]]) -> tuple[float, float]:
    """The reporter's NotifyClassroom (src/notify-classroom.js, v1): runners with a falsy
    max_score are skipped; else max_score is added, then each test's score, in order, as
    floats (JavaScript numbers are IEEE doubles, as Python's floats)."""
    total, maximum = 0.0, 0.0
    for obj in objects:
        if not obj["max_score"]:
            continue
        maximum += obj["max_score"]
        for test in obj["tests"]:
            total += test["score"]
    return total, maximum


def course_like(seed: int) -> RunResult:
    """Twelve exercises of 10 points whose checks weigh 1 to 4, passing at random: the shape
    of the real kit, where rounded shares once added up to 120.00010000000002."""
    rng = random.Random(seed)
    exercises = []
    for n in range(1, 13):
        checks = [CheckResult(id=f"c{k}", name=f"check {k}", weight=rng.choice([1, 1, 2, 3, 4]),
                              status=rng.choice([CheckStatus.PASSED, CheckStatus.PASSED, CheckStatus.FAILED]))
                  for k in range(rng.randint(3, 7))]  # fmt: skip
        exercises.append(exercise_result(id=f"ex{n:02d}", slug=f"s{n}", title=f"Exercise {n}", points=10,
                                         checks=checks))  # fmt: skip
    return RunResult(target="exercises", python="3.12.1", kit_version="0.1.0", exercises=tuple(exercises))


def all_passed(run: RunResult) -> RunResult:
    exercises = tuple(exercise_result(id=e.id, slug=e.slug, title=e.title, points=e.max_score,
                                      checks=[replace(c, status=CheckStatus.PASSED) for c in e.checks])
                      for e in run.exercises)  # fmt: skip
    return replace(run, exercises=exercises)


class TestClassroomPoints:
    """The points the reporter posts are the kit's, never above the maximum."""

    @pytest.mark.parametrize("seed", range(200))
    def test_posted_points_are_the_kits(self, seed: int) -> None:
        """per-exercise runners and the single object alike: posted == kit's score, max == the points"""
        for run in (course_like(seed), all_passed(course_like(seed))):
            objects = list(classroom.runners(run).values())
            assert posted_points(objects) == (run.score, run.max_score)
            assert posted_points([classroom.to_dict(run)]) == (run.score, run.max_score)
            assert run.score <= run.max_score
            for obj in objects:
                assert sum(t["score"] for t in obj["tests"] if t["status"] != "pass") == 0

    def test_full_marks_are_exactly_the_maximum(self) -> None:
        """three checks of 10/3 points each, twelve times: 120/120, not 120.00010000000002"""
        checks = [CheckResult(id=f"c{k}", name=f"check {k}", status=CheckStatus.PASSED) for k in range(3)]
        exercises = tuple(exercise_result(id=f"ex{n:02d}", slug="s", title="t", points=10, checks=checks)
                          for n in range(1, 13))  # fmt: skip
        run = RunResult(target="x", python="3.12", exercises=exercises)
        assert posted_points(list(classroom.runners(run).values())) == (120.0, 120.0)
        assert posted_points([classroom.to_dict(run)]) == (120.0, 120.0)


#: The official reporter's bundle, dist/main.js of classroom-resources/autograding-grading-reporter
#: at tag v1 (what `uses: ...@v1` runs): `git show v1:dist/main.js` of that repository. Not
#: shipped with the kit; the tests below run it with node when this variable points to it.
REPORTER = os.environ.get("AWAITLINGS_CLASSROOM_REPORTER", "")


def run_reporter(env: dict[str, str], runners: str) -> subprocess.CompletedProcess[str]:
    if not (REPORTER and Path(REPORTER).is_file() and shutil.which("node")):
        pytest.skip("set AWAITLINGS_CLASSROOM_REPORTER to the official reporter's dist/main.js (and install node)")
    full = {"PATH": os.environ["PATH"], "INPUT_RUNNERS": runners, **env}
    return subprocess.run(["node", REPORTER], env=full, capture_output=True, text=True, timeout=60, check=False)


def notice(stdout: str, title: str) -> str:
    match = re.search(rf"^::notice title={title}::(.*)$", stdout, re.MULTILINE)
    assert match, stdout
    return match.group(1)


class TestTheOfficialReporter:
    """autograding-grading-reporter@v1 itself, run with node on the kit's outputs."""

    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_posts_the_kits_points(self, seed: int) -> None:
        """the annotation Classroom reads says the kit's score over its maximum"""
        run = course_like(seed)
        encoded = classroom.encode_runners(run)
        done = run_reporter({f"{k.upper()}_RESULTS": v for k, v in encoded.items()}, ",".join(encoded))
        points = notice(done.stdout, "Autograding complete")
        assert points.startswith("Points ")
        score, maximum = (float(x) for x in points.removeprefix("Points ").split("/"))
        assert (score, maximum) == (run.score, run.max_score)
        assert json.loads(notice(done.stdout, "Autograding report")) == {"totalPoints": run.score, "maxPoints": 120}
        for ex in run.exercises:
            for check in ex.checks:
                mark = "✅" if check.passed else "❌"
                assert f"{mark} {ex.id} {check.name}" in done.stdout

    def test_failed_grader(self) -> None:
        """a grader that could not run: 0 points posted, the error and the way to staff in the log"""
        encoded = classroom.failure_runners([("ex01", 10.0), ("ex02", 4.0)], "it could not run here")
        done = run_reporter({f"{k.upper()}_RESULTS": v for k, v in encoded.items()}, "ex01,ex02")
        assert notice(done.stdout, "Autograding complete") == "Points 0/14"
        assert "The autograder could not grade this exercise: it could not run here" in done.stdout
        assert done.returncode != 0


class TestWorkflowStep:
    """`grade autograde --classroom`, as the workflow's Grade step runs it."""

    def test_log_summary_and_outputs(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """the explanations reach the log and the job summary; one output per exercise, read by the reporter"""
        kit = course_kit(tmp_path / "kit")
        (kit.exercises_dir / "ex02_adder.py").write_text(ADDER_INTS_ONLY, encoding="utf-8")
        outputs, summary = tmp_path / "output", tmp_path / "summary.md"
        monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        monkeypatch.setenv(KIT_ENV, str(kit.root))
        monkeypatch.setattr(cli_module, "_KIT", None)
        result = CliRunner().invoke(cli, ["autograde", "--classroom"], catch_exceptions=False)
        assert result.exit_code == 0
        assert "adds two strings" in result.output and "Points 2/14" in result.output
        markdown = summary.read_text()
        assert "## awaitlings: 2/14 points" in markdown and "| ex02 Add two things | 2/4 | failed |" in markdown
        assert "- ❌ **adds two strings**" in markdown
        values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
        assert sorted(values) == ["ex01", "ex02"]
        ex02 = json.loads(base64.b64decode(values["ex02"]))
        assert [t["status"] for t in ex02["tests"]] == ["pass", "fail", "pass"]
        done = run_reporter({f"{k.upper()}_RESULTS": v for k, v in values.items()}, "ex01,ex02")
        assert notice(done.stdout, "Autograding complete") == "Points 2/14"
