"""JUnit XML: one ``testsuite`` per exercise, one ``testcase`` per check, points as
properties (GitHub Classroom, GitLab and CI dashboards read this)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from grader.results import CheckStatus, RunResult


def render(run: RunResult) -> str:
    suites = ET.Element(
        "testsuites", name="awaitlings", tests="0", failures="0", errors="0",
        time=f"{sum(e.duration_s for e in run.exercises):.3f}",
    )  # fmt: skip
    total = failures = errors = 0
    for ex in run.exercises:
        suite = ET.SubElement(suites, "testsuite", name=f"{ex.id}_{ex.slug}", time=f"{ex.duration_s:.3f}")
        props = ET.SubElement(suite, "properties")
        for key, value in (("score", ex.score), ("max_score", ex.max_score), ("status", ex.status.value)):
            ET.SubElement(props, "property", name=key, value=str(value))
        checks = ex.checks or ()
        s_fail = s_err = 0
        if not checks:
            case = ET.SubElement(suite, "testcase", classname=ex.id, name=ex.title, time="0")
            ET.SubElement(case, "failure", message=ex.message or ex.status.value, type=ex.status.value)
            s_fail = 1
            total += 1
        for check in checks:
            total += 1
            case = ET.SubElement(
                suite, "testcase", classname=f"{ex.id}_{ex.slug}", name=check.name,
                time=f"{check.duration_s:.3f}",
            )  # fmt: skip
            cprops = ET.SubElement(case, "properties")
            ET.SubElement(cprops, "property", name="score", value=str(check.score))
            ET.SubElement(cprops, "property", name="max_score", value=str(check.max_score))
            ET.SubElement(cprops, "property", name="check_id", value=check.id)
            if check.status is CheckStatus.PASSED:
                continue
            tag = "error" if check.status is CheckStatus.ERROR else "failure"
            node = ET.SubElement(case, tag, message=(check.message or check.status.value)[:500], type=check.status.value)
            node.text = check.message or ""
            if tag == "error":
                s_err += 1
            else:
                s_fail += 1
            if check.output:
                ET.SubElement(case, "system-out").text = check.output
        suite.set("tests", str(max(len(checks), 1)))
        suite.set("failures", str(s_fail))
        suite.set("errors", str(s_err))
        failures += s_fail
        errors += s_err
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    suites.set("errors", str(errors))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
