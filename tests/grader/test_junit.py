"""JUnit XML and GitHub Classroom's result object: one test per check, points attached,
and files that any consumer parses whatever the learner's code printed."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET

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


class TestJunit:
    """One testcase per check; points as properties; always well-formed XML."""

    def root(self) -> ET.Element:
        return ET.fromstring(junit.render(sample()).encode("utf-8"))

    def test_testcases_and_points(self) -> None:
        """each check is a testcase carrying score, max_score and check id"""
        suite = self.root().find("testsuite")
        assert suite is not None and suite.get("name") == "ex01_hello_run"
        cases = suite.findall("testcase")
        assert [c.get("name") for c in cases] == ["greet is async", "runs at once", "secret", "crashes"]
        props = [{p.get("name"): p.get("value") for p in c.iter("property")} for c in cases]
        assert [p["max_score"] for p in props] == ["1.6667", "5.0", "1.6667", "1.6667"]
        assert props[0]["score"] == "1.6667" and props[1]["score"] == "0.0"
        assert props[2]["hidden"] == "true" and "hidden" not in props[0]
        assert [child.tag for c in cases for child in c if child.tag in ("failure", "error")] == [
            "failure", "failure", "error",
        ]  # fmt: skip

    def test_counts_and_skipped(self) -> None:
        """a not-started exercise fails; one this Python cannot grade is skipped"""
        root = self.root()
        counts = (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped"))
        assert counts == ("6", "3", "1", "1")
        ex12 = root.findall("testsuite")[2]
        assert ex12.get("skipped") == "1" and ex12.find("testcase/skipped") is not None

    def test_control_characters_are_escaped(self) -> None:
        """NUL, escape codes and lone surrogates in messages or output never break the XML"""
        case = self.root().findall("testsuite/testcase")[1]
        failure, out = case.find("failure"), case.find("system-out")
        assert failure is not None and failure.text == "only 1 ran\\x00 at once \\x1b[31m"
        assert out is not None and out.text == "printed \\x07bell\\udcff\n"


class TestClassroom:
    """The object GitHub Classroom's autograding-grading-reporter reads."""

    def test_shape(self) -> None:
        """version, status, max_score and one test per check with its points"""
        data = classroom.to_dict(sample())
        assert set(data) == {"version", "status", "max_score", "tests"}
        assert data["version"] == 1 and data["status"] == "error" and data["max_score"] == 14.0
        assert [t["name"] for t in data["tests"]] == [
            "ex01 greet is async", "ex01 runs at once", "ex01 secret", "ex01 crashes", "ex02 Add",
        ]  # fmt: skip
        assert [t["status"] for t in data["tests"]] == ["pass", "fail", "fail", "error", "fail"]
        assert sum(t["score"] for t in data["tests"]) == 1.6667
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
