"""JUnit XML for GitHub Classroom, GitLab and CI dashboards.

One ``testsuite`` per exercise (``ex04_echo_server``), one ``testcase`` per check, named
by the check's one-line docstring. Points are properties: each suite has ``score``,
``max_score`` and ``status``; each testcase ``score``, ``max_score``, ``check_id`` (and
``hidden`` when it is a hidden check). Failed and timed-out checks are ``failure``
elements, crashed ones ``error``; the teaching message is the element's text and what the
learner's code printed is ``system-out``. An exercise with no check to run is one
testcase: a failure when not started or not gradable, ``skipped`` when this Python is too
old for it (the exit code does not count it either).

Learner output may hold characters XML 1.0 cannot carry (NUL, most control characters,
lone surrogates): they are replaced with ``\\xNN`` escapes, so the file always parses.
Pure: results in, text out.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from grader.results import CheckStatus, ExerciseResult, ExerciseStatus, RunResult

#: Characters outside XML 1.0's Char production (tab, newline and carriage return are fine).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
MESSAGE_ATTR_CAP = 500


def clean(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold escaped as ``\\xNN``/``\\uNNNN``."""
    return _ILLEGAL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"


def render(run: RunResult) -> str:
    suites = ET.Element("testsuites", name="awaitlings", tests="0", failures="0", errors="0",
                        time=f"{sum(e.duration_s for e in run.exercises):.3f}")  # fmt: skip
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for ex in run.exercises:
        counts = _suite(suites, ex)
        for key in totals:
            totals[key] += counts[key]
    for key in ("tests", "failures", "errors"):
        suites.set(key, str(totals[key]))
    if totals["skipped"]:
        suites.set("skipped", str(totals["skipped"]))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _suite(parent: ET.Element, ex: ExerciseResult) -> dict[str, int]:
    suite = ET.SubElement(parent, "testsuite", name=f"{ex.id}_{ex.slug}", time=f"{ex.duration_s:.3f}")
    props = ET.SubElement(suite, "properties")
    for key, value in (("score", ex.score), ("max_score", ex.max_score), ("status", ex.status.value)):
        ET.SubElement(props, "property", name=key, value=str(value))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if not ex.checks:
        counts["tests"] = 1
        case = ET.SubElement(suite, "testcase", classname=ex.id, name=clean(ex.title), time="0")
        message = clean(ex.message or ex.status.value)
        if ex.status is ExerciseStatus.UNSUPPORTED:
            ET.SubElement(case, "skipped", message=message)
            counts["skipped"] = 1
        else:
            ET.SubElement(case, "failure", message=message, type=ex.status.value)
            counts["failures"] = 1
    for check in ex.checks:
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=f"{ex.id}_{ex.slug}", name=clean(check.name),
                             time=f"{check.duration_s:.3f}")  # fmt: skip
        cprops = ET.SubElement(case, "properties")
        ET.SubElement(cprops, "property", name="score", value=str(check.score))
        ET.SubElement(cprops, "property", name="max_score", value=str(check.max_score))
        ET.SubElement(cprops, "property", name="check_id", value=clean(check.id))
        if check.hidden:
            ET.SubElement(cprops, "property", name="hidden", value="true")
        if check.status is CheckStatus.PASSED:
            continue
        tag = "error" if check.status is CheckStatus.ERROR else "failure"
        text = clean(check.message or "")
        summary = (text or check.status.value)[:MESSAGE_ATTR_CAP]
        node = ET.SubElement(case, tag, message=summary, type=check.status.value)
        node.text = text
        counts["errors" if tag == "error" else "failures"] += 1
        if check.output:
            ET.SubElement(case, "system-out").text = clean(check.output)
    suite.set("tests", str(counts["tests"]))
    suite.set("failures", str(counts["failures"]))
    suite.set("errors", str(counts["errors"]))
    if counts["skipped"]:
        suite.set("skipped", str(counts["skipped"]))
    return counts
