"""JUnit XML for GitLab, Jenkins and other CI dashboards, valid against ``junit-10.xsd``.

The schema is the Jenkins xUnit plugin's (the strictest one in common use; a copy is in
``tests/grader/junit-10.xsd``). One ``testsuite`` per exercise (``ex04_echo_server``),
one ``testcase`` per check, named by the check's one-line docstring; every testcase of an
exercise has the same ``classname``, the suite's name. Failed and timed-out checks are
``failure`` elements, crashed ones ``error``, always with a text that says why; what the
learner's code printed is the testcase's ``system-out``.

The schema allows ``properties`` only on a suite, so points live there: ``score``,
``max_score`` and ``status`` for the exercise, then ``<check name> | score``, ``<check
name> | max_score`` (and ``<check name> | hidden``) for each check. An exercise with no
check to run is one testcase: an ``error`` when the file could not be graded (missing,
syntax error), a ``failure`` when it is not started, ``skipped`` when this Python is too
old for it. ``skipped`` is counted on the suite only: ``testsuites`` has no such attribute.

Learner output may hold characters XML 1.0 cannot carry (NUL, most control characters,
lone surrogates): they are replaced with ``\\xNN`` escapes, so the file always parses.
Pure: results in, text out.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from grader.results import CheckResult, CheckStatus, ExerciseResult, ExerciseStatus, RunResult

#: Characters outside XML 1.0's Char production (tab, newline and carriage return are fine).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
MESSAGE_ATTR_CAP = 500
#: What a verdict without a message says, so no failure or error element is empty.
_NO_MESSAGE = {
    CheckStatus.FAILED: "the check failed without a message",
    CheckStatus.TIMEOUT: "the check did not finish in time",
    CheckStatus.ERROR: "the check could not run",
}


def clean(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold escaped as ``\\xNN``/``\\uNNNN``."""
    return _ILLEGAL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"


def render(run: RunResult) -> str:
    suites = ET.Element("testsuites", name="awaitlings", tests="0", failures="0", errors="0",
                        time=f"{sum(e.duration_s for e in run.exercises):.3f}")  # fmt: skip
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for ex in run.exercises:
        counts = _suite(suites, ex)
        for key in totals:
            totals[key] += counts[key]
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _suite(parent: ET.Element, ex: ExerciseResult) -> dict[str, int]:
    classname = f"{ex.id}_{ex.slug}"
    suite = ET.SubElement(parent, "testsuite", name=classname, time=f"{ex.duration_s:.3f}")
    props = ET.SubElement(suite, "properties")
    points = [("score", ex.score), ("max_score", ex.max_score), ("status", ex.status.value)]
    for check in ex.checks:
        points += [(f"{check.name} | score", check.score), (f"{check.name} | max_score", check.max_score)]
        if check.hidden:
            points.append((f"{check.name} | hidden", "true"))
    for key, value in points:
        ET.SubElement(props, "property", name=clean(key), value=str(value))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if not ex.checks:
        counts["tests"] = 1
        case = ET.SubElement(suite, "testcase", classname=classname, name=clean(ex.title), time="0")
        message = clean(ex.message or ex.status.value)
        if ex.status is ExerciseStatus.UNSUPPORTED:
            kind = "skipped"
        elif ex.status is ExerciseStatus.NOT_STARTED:
            kind = "failures"
        else:  # missing, a syntax error, no check collected: the file could not be graded
            kind = "errors"
        tag = {"skipped": "skipped", "failures": "failure", "errors": "error"}[kind]
        ET.SubElement(case, tag, message=message[:MESSAGE_ATTR_CAP], type=ex.status.value).text = message
        counts[kind] = 1
    for check in ex.checks:
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=classname, name=clean(check.name),
                             time=f"{check.duration_s:.3f}")  # fmt: skip
        if check.status is CheckStatus.PASSED:
            continue
        tag = "error" if check.status is CheckStatus.ERROR else "failure"
        text = clean(_why(ex, check))
        ET.SubElement(case, tag, message=text[:MESSAGE_ATTR_CAP], type=check.status.value).text = text
        counts["errors" if tag == "error" else "failures"] += 1
        if check.output:
            ET.SubElement(case, "system-out").text = clean(check.output)
    for key in ("tests", "failures", "errors"):
        suite.set(key, str(counts[key]))
    if counts["skipped"]:
        suite.set("skipped", str(counts["skipped"]))
    return counts


def _why(ex: ExerciseResult, check: CheckResult) -> str:
    """The check's teaching message; else the exercise's (a crash at import); else the verdict."""
    if check.message:
        return check.message
    if ex.message and ex.status is ExerciseStatus.ERROR:
        return ex.message
    return _NO_MESSAGE.get(check.status, check.status.value)
