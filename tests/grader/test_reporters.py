"""Reporters are pure functions from results to text, pinned by golden files.

The golden files live in ``tests/grader/golden/``. After an intended change of output,
regenerate them with ``AWAITLINGS_UPDATE_GOLDEN=1 pytest tests/grader/test_reporters.py``
and review the diff.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from grader.reporters import gradescope, junit, renderer, terminal
from grader.reporters import json as json_reporter
from grader.results import (
    CheckResult,
    CheckStatus,
    ExerciseStatus,
    RunResult,
    exercise_result,
    zero_result,
)

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("AWAITLINGS_UPDATE_GOLDEN") == "1"
ANSI = re.compile(r"\x1b\[")


def _check(function: str, name: str, status: CheckStatus = CheckStatus.PASSED, **extra: Any) -> CheckResult:
    return CheckResult(id=f"test_{function.split(':', maxsplit=1)[0]}.py::test_{function.split(':')[1]}", name=name,
                       status=status, **extra)  # fmt: skip


def sample_run() -> RunResult:
    """One exercise of every status, with the awkward cases reporters must survive:
    weights, a hidden check, a timeout, output, markup-like and XML-special text."""
    passed = exercise_result(
        id="ex01", slug="hello_run", title="Your first coroutine", points=10.0, duration_s=0.812,
        checks=[
            _check("ex01_hello_run:greet_is_async", "greet is an async def function", duration_s=0.01),
            _check("ex01_hello_run:concurrent", "main runs all greetings at once", weight=3, duration_s=0.02),
        ],
    )  # fmt: skip
    failed = exercise_result(
        id="ex04", slug="echo_server", title="Write the echo server [part 1]", points=14.0, duration_s=2.5,
        checks=[
            _check("ex04_echo_server:roundtrip", "echoes raw bytes unchanged", weight=2, duration_s=0.1),
            _check(
                "ex04_echo_server:many", "serves 100 clients at once", CheckStatus.FAILED, weight=3,
                message="Only 1 client was served at a time: <handle_echo> & friends must not block.\n"
                "Use `await reader.read()` [not time.sleep].",
                output="debug: client 1 connected\n",
                duration_s=0.5,
            ),
            _check(
                "ex04_echo_server:eof", "closes after the client half-closes", CheckStatus.TIMEOUT,
                message="Did not finish within 10s. It was still waiting: ex04_echo_server.py:14: "
                "await reader.read(100).",
                duration_s=10.0,
            ),
            _check(
                "ex04_echo_server:secret", "survives a reset mid-write", CheckStatus.FAILED, hidden=True,
                message="ConnectionResetError was not handled", duration_s=0.2,
            ),
        ],
    )  # fmt: skip
    import_error = (
        "Importing ex05_echo_client.py raised NameError: name 'asyncoi' is not defined at "
        "ex05_echo_client.py:3: import asyncoi"
    )
    crashed = zero_result(
        id="ex05", slug="echo_client", title="A client that sends and receives", points=10.0,
        status=ExerciseStatus.ERROR, message=import_error, duration_s=0.3,
        checks=[
            _check("ex05_echo_client:roundtrip", "returns every byte echoed", CheckStatus.ERROR, message=import_error),
            _check("ex05_echo_client:large", "does not deadlock on 10 MiB", CheckStatus.ERROR, message=import_error),
        ],
    )  # fmt: skip
    crashed = replace(crashed, flags=("line 7: os._exit",))
    not_started = zero_result(
        id="ex06", slug="blocking_client", title="Unblock the chat client", points=10.0,
        status=ExerciseStatus.NOT_STARTED, message="not started yet: the file is still the stub",
    )  # fmt: skip
    unsupported = zero_result(
        id="ex12", slug="cpu_bound", title="CPU-bound work", points=10.0,
        status=ExerciseStatus.UNSUPPORTED, message="needs Python 3.14 or newer; this is 3.11.7",
    )  # fmt: skip
    return RunResult(
        target="exercises", python="3.11.7", kit_version="0.1.0",
        exercises=(passed, failed, crashed, not_started, unsupported),
    )  # fmt: skip


def passing_run() -> RunResult:
    return RunResult(target="solutions", python="3.12.1", kit_version="0.1.0", exercises=sample_run().exercises[:1])


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no golden file {path}: run with AWAITLINGS_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed: review, then regenerate the golden files"


class TestJson:
    """The json format is exactly the documented, versioned public contract."""

    # DESIGN.md section 5, plus kit_version (documented in the README) and the exercise's
    # static flags for course staff (grader/flags.py).
    RUN_KEYS = frozenset({"format", "version", "target", "python", "kit_version", "score", "max_score", "exercises"})
    EXERCISE_KEYS = frozenset(
        {"id", "slug", "title", "status", "score", "max_score", "duration_s", "message", "checks", "flags"}
    )
    CHECK_KEYS = frozenset({"id", "name", "status", "score", "max_score", "hidden", "message", "output"})

    def test_matches_golden(self) -> None:
        """the sample run renders byte for byte as the golden file"""
        assert_golden("results.json", json_reporter.render(sample_run()))

    def test_passing_run_matches_golden(self) -> None:
        """a run at full marks renders as its golden file"""
        assert_golden("results_passing.json", json_reporter.render(passing_run()))

    def test_keys_are_exactly_the_documented_ones(self) -> None:
        """every object has the documented keys, no more and no fewer (README, DESIGN.md section 5)"""
        data = json.loads(json_reporter.render(sample_run()))
        assert set(data) == self.RUN_KEYS
        assert (data["format"], data["version"]) == ("awaitlings-results", 1)
        for ex in data["exercises"]:
            assert set(ex) == self.EXERCISE_KEYS
            for check in ex["checks"]:
                assert set(check) == self.CHECK_KEYS

    def test_values_have_the_documented_types_and_enums(self) -> None:
        """statuses come from the documented sets; numbers are numbers; nulls where documented"""
        data = json.loads(json_reporter.render(sample_run()))
        assert isinstance(data["score"], float) and isinstance(data["max_score"], float)
        for ex in data["exercises"]:
            assert ex["status"] in {"passed", "failed", "error", "not_started", "unsupported"}
            assert isinstance(ex["duration_s"], float)
            assert ex["message"] is None or isinstance(ex["message"], str)
            assert isinstance(ex["flags"], list) and all(isinstance(f, str) for f in ex["flags"])
            for check in ex["checks"]:
                assert check["status"] in {"passed", "failed", "error", "timeout"}
                assert isinstance(check["hidden"], bool) and isinstance(check["output"], str)

    def test_scores_add_up(self) -> None:
        """the run's score is the sum of the exercises', each the sum of its checks'"""
        data = json.loads(json_reporter.render(sample_run()))
        assert data["score"] == pytest.approx(sum(e["score"] for e in data["exercises"]))
        for ex in data["exercises"]:
            if ex["checks"]:
                assert ex["score"] == pytest.approx(sum(c["score"] for c in ex["checks"]))
                assert ex["max_score"] == pytest.approx(sum(c["max_score"] for c in ex["checks"]))

    def test_renderer_lookup(self) -> None:
        """renderer('json') is this reporter; an unknown format is a ValueError"""
        assert renderer("json") is json_reporter.render
        with pytest.raises(ValueError, match="no renderer for format 'csv'"):
            renderer("csv")


class TestGradescope:
    """results.json follows Gradescope's autograder specification."""

    # Gradescope's example has no top-level max_score (the assignment's settings hold the
    # total); it is written anyway for people and scripts, and repeated in extra_data.
    TOP_LEVEL = frozenset(
        {"score", "max_score", "execution_time", "output", "visibility", "stdout_visibility", "extra_data", "tests"}
    )
    TEST_KEYS = frozenset({"name", "number", "score", "max_score", "status", "output", "visibility", "tags"})
    VISIBILITY = frozenset({"hidden", "after_due_date", "after_published", "visible"})

    def validate(self, data: dict[str, Any]) -> None:
        assert set(data) <= self.TOP_LEVEL
        assert {"score", "output", "tests"} <= set(data)
        assert isinstance(data["score"], float) and isinstance(data["extra_data"]["max_score"], float)
        # Optional in the specification: the wall time, only when the caller measured it.
        assert isinstance(data.get("execution_time", 0), int) and isinstance(data["output"], str)
        assert data["visibility"] in self.VISIBILITY and data["stdout_visibility"] in self.VISIBILITY
        numbers = []
        for test in data["tests"]:
            assert set(test) == self.TEST_KEYS, test
            assert isinstance(test["name"], str) and test["name"]
            assert isinstance(test["number"], str)
            assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
            assert 0 <= test["score"] <= test["max_score"]
            assert test["status"] in {"passed", "failed"}
            assert (test["status"] == "passed") == (test["score"] == test["max_score"] > 0)
            assert isinstance(test["output"], str)
            assert test["visibility"] in self.VISIBILITY
            assert isinstance(test["tags"], list) and all(isinstance(t, str) for t in test["tags"])
            numbers.append(test["number"])
        assert len(numbers) == len(set(numbers)), "test numbers are unique"
        assert data["extra_data"]["max_score"] == pytest.approx(sum(t["max_score"] for t in data["tests"]))
        assert data["max_score"] == data["extra_data"]["max_score"]
        assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))

    def test_matches_golden(self) -> None:
        """the sample run renders byte for byte as the golden file"""
        assert_golden("gradescope.json", gradescope.render(sample_run()))

    def test_follows_the_specification(self) -> None:
        """documented fields only, with the documented types and values"""
        self.validate(json.loads(gradescope.render(sample_run())))
        self.validate(json.loads(gradescope.render(passing_run(), execution_time=0.9)))

    def test_one_test_per_check_and_per_exercise_without_checks(self) -> None:
        """each check is a test; a not started or unsupported exercise is one failed test"""
        data = gradescope.to_dict(sample_run())
        numbers = [t["number"] for t in data["tests"]]
        assert numbers == ["1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "4", "5"]
        assert data["tests"][8]["output"] == "not started yet: the file is still the stub"

    def test_hidden_checks_show_after_publishing(self) -> None:
        """a hidden check is visible only after grades are published (configurable)"""
        hidden = [t for t in gradescope.to_dict(sample_run())["tests"] if t["visibility"] != "visible"]
        assert [t["name"] for t in hidden] == ["ex04 survives a reset mid-write"]
        assert hidden[0]["visibility"] == "after_published"
        custom = gradescope.to_dict(sample_run(), hidden_visibility="after_due_date")
        assert [t["visibility"] for t in custom["tests"]].count("after_due_date") == 1

    def test_the_overview_hides_what_hidden_checks_decided(self) -> None:
        """with a hidden check concealed, the always-visible output has no total and no score
        or verdict for its exercise; the others keep theirs"""
        output = gradescope.to_dict(sample_run())["output"]
        assert "14/54" not in output and "4/14" not in output
        assert "ex04 Write the echo server [part 1]: 1 of 3 visible checks passed, 1 hidden" in output
        assert "ex01 Your first coroutine: 10/10 (passed)" in output

    def test_import_error_is_explained_on_each_check(self) -> None:
        """every check of a crashed exercise carries the import error"""
        tests = [t for t in gradescope.to_dict(sample_run())["tests"] if t["tags"][0] == "ex05"]
        assert all(t["output"].startswith("Importing ex05_echo_client.py raised NameError") for t in tests)


class TestJunit:
    """JUnit XML parses, with one testcase per check and points as properties."""

    def parse(self, run: RunResult) -> ET.Element:
        return ET.fromstring(junit.render(run).encode("utf-8"))

    def test_matches_golden(self) -> None:
        """the sample run renders byte for byte as the golden file"""
        assert_golden("junit.xml", junit.render(sample_run()))

    def test_one_testcase_per_check(self) -> None:
        """each check is a testcase; an exercise without checks is one failing testcase"""
        root = self.parse(sample_run())
        suites = root.findall("testsuite")
        assert [s.get("name") for s in suites] == [
            "ex01_hello_run", "ex04_echo_server", "ex05_echo_client", "ex06_blocking_client", "ex12_cpu_bound",
        ]  # fmt: skip
        assert [len(s.findall("testcase")) for s in suites] == [2, 4, 2, 1, 1]
        assert root.get("tests") == "10"
        assert [s.get("tests") for s in suites] == ["2", "4", "2", "1", "1"]

    def test_points_are_suite_properties(self) -> None:
        """each suite carries its totals and each check's score and max_score (junit-10.xsd
        allows properties on a testsuite only)"""
        root = self.parse(sample_run())
        ex04 = root.findall("testsuite")[1]
        props = {p.get("name"): p.get("value") for p in ex04.findall("properties/property")}
        assert (props["score"], props["max_score"], props["status"]) == ("4.0", "14.0", "failed")
        names = [case.get("name") for case in ex04.findall("testcase")]
        assert not ex04.findall("testcase/properties")
        assert [props[f"{n} | max_score"] for n in names] == ["4.0", "6.0", "2.0", "2.0"]
        assert sum(float(props[f"{n} | score"]) for n in names) == 4.0
        assert props["survives a reset mid-write | hidden"] == "true"

    def test_verdicts_are_failure_and_error_elements(self) -> None:
        """failed and timed-out checks are failures, crashed ones errors; counts agree"""
        root = self.parse(sample_run())
        ex04, ex05 = root.findall("testsuite")[1:3]
        cases = ex04.findall("testcase")
        kinds = [[child.tag for child in case if child.tag in ("failure", "error")] for case in cases]
        assert kinds == [[], ["failure"], ["failure"], ["failure"]]
        assert ex04.get("failures") == "3" and ex04.get("errors") == "0"
        assert ex05.get("errors") == "2"
        assert root.get("failures") == "4" and root.get("errors") == "2" and root.get("skipped") is None
        timeout = ex04.findall("testcase")[2].find("failure")
        assert timeout is not None and timeout.get("type") == "timeout"

    def test_special_characters_survive(self) -> None:
        """messages with <, & and newlines round-trip through the XML"""
        root = self.parse(sample_run())
        failure = root.findall("testsuite")[1].findall("testcase")[1].find("failure")
        assert failure is not None
        assert failure.text == sample_run().exercises[1].checks[1].message
        out = root.findall("testsuite")[1].findall("testcase")[1].find("system-out")
        assert out is not None and out.text == "debug: client 1 connected\n"


class TestTerminal:
    """The terminal output is plain text without colour, and says what to do next."""

    def test_summary_matches_golden(self) -> None:
        """the course table renders as its golden file"""
        assert_golden("summary.txt", terminal.render_summary(sample_run(), color=False, width=80))

    def test_detail_matches_golden(self) -> None:
        """the per-check detail renders as its golden file"""
        assert_golden("detail.txt", terminal.render_detail(sample_run(), color=False, width=80))

    def test_passing_detail_matches_golden(self) -> None:
        """one exercise at full marks renders as its golden file"""
        assert_golden("detail_passing.txt", terminal.render_detail(passing_run(), color=False, width=80))

    @pytest.mark.parametrize("render", [terminal.render_summary, terminal.render_detail])
    def test_no_ansi_codes_without_color(self, render: Any) -> None:
        """color=False gives plain text"""
        assert not ANSI.search(render(sample_run(), color=False, width=80))

    @pytest.mark.parametrize("render", [terminal.render_summary, terminal.render_detail])
    def test_ansi_codes_with_color(self, render: Any) -> None:
        """color=True styles the verdicts"""
        assert ANSI.search(render(sample_run(), color=True, width=80))

    def test_messages_are_not_read_as_markup(self) -> None:
        """brackets in titles and messages are printed as written"""
        text = terminal.render_detail(sample_run(), color=False, width=80)
        assert "Write the echo server [part 1]" in text
        assert "[not time.sleep]" in text

    def test_hidden_check_names_stay_in_staff_view(self) -> None:
        """the reporter shows what it is given; masking is without_hidden's job"""
        assert "survives a reset mid-write" in terminal.render_detail(sample_run(), color=False)

    def test_next_step_points_at_the_first_unfinished_exercise(self) -> None:
        """the summary names the first failing exercise and its first failing check"""
        text = terminal.render_summary(sample_run(), color=False, width=80)
        assert "Next: ex04: serves 100 clients at once" in text
        assert terminal.next_exercise(passing_run()) is None
        assert "Next:" not in terminal.render_summary(passing_run(), color=False)


class TestTerminalReadability:
    """What a learner reads at 80 columns: clean numbers, words and links never broken."""

    LINK = "https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.connect_read_pipe"

    def eleven_weights(self) -> RunResult:
        """ex06-like: 10 points over weights 3, 2, 1, 2, 2, 1; the weight-2 check fails
        with a message holding a link longer than the line, and a long check name."""
        names = ["prints the server's lines while waiting for input", "exits with code 0 when its input ends",
                 "exits with code 0 when the server closes first, although its standard input is still open",
                 "sends every line", "never blocks", "returns 0"]  # fmt: skip
        checks = [
            _check(f"ex06_blocking_client:c{i}", name, weight=weight,
                   status=CheckStatus.FAILED if i == 1 else CheckStatus.PASSED,
                   message=f"Stdin was never read. See {self.LINK} for the pipe." if i == 1 else None)
            for i, (name, weight) in enumerate(zip(names, [3, 2, 1, 2, 2, 1], strict=True))
        ]  # fmt: skip
        ex = exercise_result(id="ex06", slug="blocking_client", title="Unblock the chat client", points=10,
                             checks=checks)  # fmt: skip
        return RunResult(target="exercises", python="3.11.7", exercises=(ex,))

    def test_points_have_at_most_one_decimal(self) -> None:
        """shares of 10/11 read 2.7, 1.8, 0.9 and the score 8.2: never 1.8182"""
        text = terminal.render_detail(self.eleven_weights(), width=80)
        assert "ex06 Unblock the chat client  ✘ failing  8.2/10" in text
        assert "0/1.8" in text and "2.7/2.7" in text and "0.9/0.9" in text
        assert not re.search(r"\d\.\d\d", text), text

    def test_the_json_keeps_exact_numbers(self) -> None:
        """the machine format is not rounded for reading"""
        data = json.loads(json_reporter.render(self.eleven_weights()))
        assert data["exercises"][0]["score"] == 8.1818
        assert data["exercises"][0]["checks"][1]["max_score"] == 1.8182

    def test_a_link_is_never_broken(self) -> None:
        """a link longer than the line sits whole on a line of its own"""
        text = terminal.render_detail(self.eleven_weights(), width=80)
        assert f"    {self.LINK}" in text.splitlines()
        assert "for the pipe." in text

    def test_a_long_check_name_wraps_at_spaces_under_itself(self) -> None:
        """the name goes on, indented under itself, with its points at the end"""
        lines = terminal.render_detail(self.eleven_weights(), width=80).splitlines()
        first = next(i for i, line in enumerate(lines) if "exits with code 0 when the server" in line)
        assert lines[first].startswith("  ✔ exits with code 0 when the server closes first")
        assert lines[first + 1].startswith("    ") and lines[first + 1].rstrip().endswith("0.9/0.9")
        words = {w for line in lines for w in line.split()}
        assert "although" in words or "standard" in words  # whole words on both lines
        assert all(len(line) <= 80 for line in lines if "https://" not in line)

    def test_not_started_reads_as_in_grade_list(self) -> None:
        """an untouched exercise: "· not started" and no points, -/10, as `grade list` shows it"""
        summary = terminal.render_summary(sample_run(), width=80)
        assert re.search(r"ex06\s+blocking_client\s+· not started\s+-/10", summary)
        assert "ex06 Unblock the chat client  · not started  -/10" in terminal.render_detail(sample_run(), width=80)

    def test_total_is_the_sum_of_the_rows_shown(self) -> None:
        """two rows of 6.3636 read 6.4 each; the total reads 12.8, not 12.7"""
        checks = [_check("x:a", "a", weight=7), _check("x:b", "b", CheckStatus.FAILED, weight=4, message="no")]
        exercises = tuple(
            exercise_result(id=f"ex0{n}", slug=f"s{n}", title=f"t{n}", points=10, checks=checks) for n in (1, 2)
        )
        run = RunResult(target="exercises", python="3.11.7", exercises=exercises)
        assert "Total 12.8/20" in terminal.render_summary(run, width=80)
        assert "Total 12.8/20" in terminal.render_detail(run, width=80)
