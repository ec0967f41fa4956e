"""``grade batch``: safe submission intake, resume keys, class statistics, the gradebook,
and (slow) a real class of mixed submissions graded in parallel, killed and resumed."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from coursekit import ADDER_OK, course_kit, ex01_solution, make_class, write

from grader import batch, submissions
from grader.manifest import Kit
from grader.reporters import classreport, gradebook
from grader.results import CheckResult, CheckStatus, ExerciseStatus, RunResult, exercise_result, zero_result
from grader.sandbox import probe
from grader.stats import class_stats, shown


@pytest.fixture
def ckit(tmp_path: Path) -> Kit:
    return course_kit(tmp_path / "kit")


class TestCollect:
    """Exercise files are found by name, safely, wherever the student put them."""

    def test_top_level_exercises_and_nested(self, ckit: Kit, tmp_path: Path) -> None:
        """files are found at the top level, in exercises/ or deeper; the shallowest wins"""
        sub = tmp_path / "s"
        write(sub / "a" / "b" / "exercises" / "ex01_hello_run.py", "deep")
        write(sub / "x" / "ex01_hello_run.py", "shallow")
        write(sub / "exercises" / "ex02_adder.py", ADDER_OK)
        got = submissions.collect(sub, ckit.exercises)
        assert got.files["ex01"].path == "x/ex01_hello_run.py" and got.files["ex01"].data == b"shallow"
        assert got.files["ex02"].path == "exercises/ex02_adder.py"
        assert any("also found a/b/exercises/ex01_hello_run.py" in n for n in got.notes)

    def test_exercises_folder_wins_a_tie(self, ckit: Kit, tmp_path: Path) -> None:
        """at equal depth, the copy in an exercises/ folder is graded"""
        write(tmp_path / "s" / "drafts" / "ex02_adder.py", "old")
        write(tmp_path / "s" / "exercises" / "ex02_adder.py", "new")
        assert submissions.collect(tmp_path / "s", ckit.exercises).files["ex02"].data == b"new"

    def test_symlinks_are_never_followed(self, ckit: Kit, tmp_path: Path) -> None:
        """a symlink named like an exercise (to a file or a folder) is reported, not read"""
        secret = write(tmp_path / "secret.py", "TOP SECRET")
        write(tmp_path / "other" / "ex02_adder.py", "someone else's")
        sub = tmp_path / "s"
        sub.mkdir()
        os.symlink(secret, sub / "ex01_hello_run.py")
        os.symlink(tmp_path / "other", sub / "linked")
        got = submissions.collect(sub, ckit.exercises)
        assert got.files == {}
        assert sorted(got.notes) == ["ignored symlink ex01_hello_run.py", "ignored symlink linked"]
        linked = submissions.collect(sub / "linked", ckit.exercises)
        assert linked.notes == ("the submission is a symlink: not followed",)

    def test_zip_entries_that_escape_are_ignored(self, ckit: Kit, tmp_path: Path) -> None:
        """'..', absolute and symlink entries are reported; only real files are taken"""
        archive = tmp_path / "s.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("../ex01_hello_run.py", "escape")
            zf.writestr("/abs/ex02_adder.py", "absolute")
            zf.writestr("C:/win/ex02_adder.py", "drive")
            link = zipfile.ZipInfo("ex02_adder.py")
            link.external_attr = 0o120777 << 16
            zf.writestr(link, "/etc/passwd")
            zf.writestr("hw/ex02_adder.py", ADDER_OK)
        got = submissions.collect(archive, ckit.exercises)
        assert set(got.files) == {"ex02"} and got.files["ex02"].data == ADDER_OK.encode()
        assert len([n for n in got.notes if n.startswith("ignored unsafe zip entry")]) == 3
        assert "ignored symlink ex02_adder.py" in got.notes

    def test_sizes_are_capped(self, ckit: Kit, tmp_path: Path) -> None:
        """an exercise file over the cap is rejected with a message, in a folder or a zip"""
        big = b"x = 1\n" * (submissions.MAX_FILE_BYTES // 6 + 10)
        write(tmp_path / "s" / "ex01_hello_run.py", big)
        with zipfile.ZipFile(tmp_path / "s.zip", "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("ex01_hello_run.py", big)  # compresses to almost nothing: a zip bomb in miniature
        for source in (tmp_path / "s", tmp_path / "s.zip"):
            got = submissions.collect(source, ckit.exercises)
            assert "ex01" not in got.files
            assert "over the 512 KiB limit" in got.rejected["ex01"]

    def test_unreadable_zip_and_non_utf8_names(self, ckit: Kit, tmp_path: Path) -> None:
        """a corrupt zip is a note, not a crash; undecodable names are shown escaped"""
        write(tmp_path / "bad.zip", b"PK\x03\x04 not really")
        assert submissions.collect(tmp_path / "bad.zip", ckit.exercises).notes[0].startswith("not a readable zip")
        weird = tmp_path / "s" / os.fsdecode(b"caf\xe9")
        write(weird / "ex02_adder.py", ADDER_OK)
        got = submissions.collect(tmp_path / "s", ckit.exercises)
        assert got.files["ex02"].path == "caf\\xe9/ex02_adder.py"

    def test_absent_exercises_explain_themselves(self, ckit: Kit, tmp_path: Path) -> None:
        """a missing file names the expected file name"""
        (tmp_path / "s").mkdir()
        got = submissions.collect(tmp_path / "s", ckit.exercises)
        result = submissions.absent_result(ckit.resolve("ex01"), got)
        assert result.status is ExerciseStatus.ERROR and result.score == 0
        assert result.message is not None and "ex01_hello_run.py was not found" in result.message


class TestDiscoverAndKeys:
    """Submissions are listed safely; resume keys change exactly when grading would."""

    def test_discover(self, tmp_path: Path) -> None:
        """folders and zips are students; other files, dot entries and symlinks are not"""
        root = tmp_path / "subs"
        (root / "alice").mkdir(parents=True)
        (root / ".DS_Store").write_text("x")
        (root / "notes.txt").write_text("x")
        (root / "bob.zip").write_bytes(b"")
        (root / "bob").mkdir()
        os.symlink(root / "alice", root / "eve")
        (root / os.fsdecode(b"k\xe9vin")).mkdir()
        found, ignored = batch.discover(root)
        assert [s.student for s in found] == ["alice", "bob", "k\\xe9vin"]
        assert found[2].stem.startswith("k_xe9vin-") and found[2].stem.isascii()
        assert sorted(ignored) == [
            "bob.zip: another submission already uses the id 'bob'",
            "eve: a symlink, not followed",
            "notes.txt: not a folder or a .zip",
        ]

    def test_keys(self, ckit: Kit, tmp_path: Path) -> None:
        """same kit and files give the same key; a changed file or check gives another"""
        write(tmp_path / "s" / "ex02_adder.py", ADDER_OK)
        collected = submissions.collect(tmp_path / "s", ckit.exercises)
        first = batch.submission_key(batch.kit_fingerprint(ckit, ckit.exercises), collected)
        assert first == batch.submission_key(batch.kit_fingerprint(ckit, ckit.exercises), collected)
        write(tmp_path / "s" / "ex02_adder.py", ADDER_OK + "# edited\n")
        edited = submissions.collect(tmp_path / "s", ckit.exercises)
        assert batch.submission_key(batch.kit_fingerprint(ckit, ckit.exercises), edited) != first
        checks = ckit.checks_dir / "test_ex02_adder.py"
        checks.write_text(checks.read_text() + "\n# a changed check\n")
        assert batch.submission_key(batch.kit_fingerprint(ckit, ckit.exercises), collected) != first


def _run(
    student: str,
    ex01: CheckStatus,
    ex02_status: ExerciseStatus | None = None,
    message: str = "",
    ex02_message: str = "not started yet",
) -> RunResult:
    ex01_result = exercise_result(
        id="ex01", slug="hello_run", title="Your first coroutine", points=10,
        checks=[
            CheckResult(id="t::a", name="greet is async", status=CheckStatus.PASSED),
            CheckResult(id="t::b", name="runs at once", status=ex01, message=message or None, weight=3),
        ],
    )  # fmt: skip
    ex02_result = zero_result(id="ex02", slug="adder", title="Add", points=4,
                              status=ex02_status or ExerciseStatus.NOT_STARTED, message=ex02_message)  # fmt: skip
    return RunResult(target=student, python="3.11.7", kit_version="0.1.0", exercises=(ex01_result, ex02_result))


class TestStatsAndReports:
    """Statistics, the CSV and the HTML page are pure and exact."""

    def runs(self) -> dict[str, RunResult]:
        return {
            "ann": _run("ann", CheckStatus.PASSED),
            "ben": _run("ben", CheckStatus.FAILED, message="At most 1 greeting(s) ran at the same time; all 3 should."),
            "cy": _run("cy", CheckStatus.FAILED, message="At most 2 greeting(s) ran at the same time; all 3 should."),
            "=cmd|' /C calc'!A0": _run("x", CheckStatus.TIMEOUT, message="<script>alert(1)</script> stuck"),
        }

    def test_pass_rates_and_common_failures(self) -> None:
        """rates count the students whose run had the check; messages keep their numbers"""
        stats = class_stats(self.runs())
        ex01, ex02 = stats.exercises
        assert [(c.name, c.passed, c.ran) for c in ex01.checks] == [("greet is async", 4, 4), ("runs at once", 1, 4)]
        assert ex01.checks[1].failures == (
            ("<script>alert(1)</script> stuck", 1),
            ("At most 1 greeting(s) ran at the same time; all 3 should.", 1),
            ("At most 2 greeting(s) ran at the same time; all 3 should.", 1),
        ), "1 and 2 greetings at once are different misunderstandings: not grouped, numbers shown"
        assert ex02.checks == () and dict(ex02.statuses) == {"not_started": 4}
        assert stats.not_started == 4 and stats.not_submitted == 0
        assert stats.mean_total == pytest.approx((10 + 2.5 * 3) / 4)

    def test_learner_lines_and_temp_paths_do_not_split_a_group(self) -> None:
        """one mistake at different lines of different files is one group, shown as a real message"""
        at = [(3, 9), (3, 9), (12, 5)]
        runs = {
            f"s{i}": _run(f"s{i}", CheckStatus.PASSED, ExerciseStatus.ERROR,
                          ex02_message=f"ex02_adder.py has a syntax error at line {line}, column {col}: "
                                       f"'(' was never closed\n    def add(a, b:")
            for i, (line, col) in enumerate(at)
        }  # fmt: skip
        runs["t"] = _run(
            "t", CheckStatus.FAILED, message="/tmp/x/awaitlings-ex01-ab12/target/ex01.py:7: took 0x7f00aa11bb22"
        )
        runs["u"] = _run("u", CheckStatus.FAILED, message="/tmp/y/awaitlings-ex01-cd34/ex01.py:9: took 0x7f00cc33dd44")
        stats = class_stats(runs)
        assert stats.exercises[1].problems == (
            ("ex02_adder.py has a syntax error at line 3, column 9: '(' was never closed", 3),
        )
        assert stats.exercises[0].checks[1].failures == (("ex01.py:7: took 0x7f00aa11bb22", 2),)
        assert [(f.check, f.students) for f in stats.top_failures] == [("could not be graded", 3), ("runs at once", 2)]
        assert shown("  \n/tmp/x/awaitlings-ex01-ab12/target/ex01.py:3 failed\nmore") == "ex01.py:3 failed"

    def test_absent_and_untouched_are_kept_apart(self) -> None:
        """files not submitted and untouched stubs never crowd the real failures out of the table"""
        runs = {f"absent{i:02d}": _run(f"absent{i:02d}", CheckStatus.PASSED, ExerciseStatus.ERROR,
                                       ex02_message="ex02_adder.py was not found in the submission")
                for i in range(12)}  # fmt: skip
        runs.update({f"stub{i}": _run(f"stub{i}", CheckStatus.PASSED) for i in range(3)})
        runs["ben"] = _run(
            "ben", CheckStatus.FAILED, message="At most 1 greeting(s) ran at the same time; all 3 should."
        )
        stats = class_stats(runs, {student: ("ex02",) for student in runs if student.startswith("absent")})
        assert [(f.check, f.message) for f in stats.top_failures] == [
            ("runs at once", "At most 1 greeting(s) ran at the same time; all 3 should.")
        ]
        assert dict(stats.exercises[1].statuses) == {"not_submitted": 12, "not_started": 4}
        assert stats.exercises[1].problems == ()
        assert (stats.not_submitted, stats.not_started) == (12, 4)
        page = classreport.render_html(stats)
        assert "12 not submitted, 4 not started" in page
        absentees = "12 exercise files not submitted (not found), 4 untouched stubs (not started)"
        assert f"Not failures, so not in this table: {absentees}." in page
        assert f"  ({absentees})" in classreport.render_text(stats)

    def test_the_order_of_students_does_not_matter(self) -> None:
        """the statistics are a function of the runs, not of the order they come in"""
        runs = self.runs()
        assert class_stats(dict(reversed(list(runs.items())))) == class_stats(runs)

    def test_gradebook_csv(self) -> None:
        """a row per student, sorted, points per exercise; formula-like cells are defused"""
        rows = [gradebook.Row(n, run, ("missing: ex02",) if n == "ben" else ()) for n, run in self.runs().items()]
        text = gradebook.render(rows, ["ex01", "ex02"])
        table = list(csv.reader(io.StringIO(text)))
        assert table[0] == ["student", "ex01", "ex02", "total", "max_total", "kit_version", "python", "status", "notes"]
        assert [r[0] for r in table[1:]] == ["'=cmd|' /C calc'!A0", "ann", "ben", "cy"]
        assert table[2] == ["ann", "10", "0", "10", "14", "0.1.0", "3.11.7", "graded", ""]
        assert table[3][-1] == "missing: ex02"
        assert text == gradebook.render(list(reversed(rows)), ["ex01", "ex02"]), "order of input does not matter"

    def test_html_is_self_contained_and_escaped(self) -> None:
        """one page, no external resources, no script, untrusted text escaped"""
        page = classreport.render_html(class_stats(self.runs()), meta="subs · test")
        assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
        assert "<script" not in page and "&lt;script&gt;" in page
        assert not any(token in page for token in ("http://", "https://", "src=", "<link"))
        assert 'style="width: 25.0%"' in page and "1/4 · 25%" in page

    def test_text_summary(self) -> None:
        """the terminal summary names the checks passed least often"""
        text = classreport.render_text(class_stats(self.runs()))
        assert text.splitlines()[0] == "4 students · mean 4.38/14 · 0 at full marks"
        assert "25%  runs at once (1/4)" in text


# --- a real class, graded for real ----------------------------------------------------------


Graded = tuple[Kit, Path, dict[str, float | None], batch.BatchReport]


def _table(path: Path) -> dict[str, list[str]]:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    return {row[0]: row for row in rows[1:]}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    base = tmp_path_factory.mktemp("class")
    kit = course_kit(base / "kit")
    expected = make_class(base / "subs", kit)
    report = batch.run_batch(kit, base / "subs", jobs=2, generated_at="2024-01-01 00:00")
    return kit, base, expected, report


@pytest.mark.slow
class TestRealBatch:
    """A class of mixed submissions: each scores exactly what it should; none stops the batch."""

    def test_gradebook_scores(self, graded_class: Graded) -> None:
        """correct, partial, broken, hostile, empty and misnamed submissions score as expected"""
        kit, base, expected, report = graded_class
        table = _table(base / "subs-gradebook" / "gradebook.csv")
        assert set(table) == set(expected)
        isolated = bool(probe(kit).get("mount_ns"))
        for student, total in expected.items():
            # frank reads alice's folder: only a sandbox with mount namespaces stops him
            want = (4.0 if isolated else 0.0) if total is None else total
            assert float(table[student][3]) == want, (student, table[student])
            assert table[student][6] == sys.version.split()[0] and table[student][4] == "14"
            assert table[student][7] == "graded"
        assert "missing: ex02" in table["erin"][8] and "missing: ex01, ex02" in table["grace"][8]
        syntax_error = "ex01: ex01_hello_run.py has a syntax error at line 1, column 16: '(' was never closed"
        assert syntax_error in table["erin"][8], "an ungradable file's reason is in the notes"
        assert "graded hello_run.py (its name differs: without its ex01_ prefix)" in table["heidi"][8]
        assert "rejected" in table["ivan"][8] and "ignored symlink ex01_hello_run.py" in table["judy"][8]
        assert "ignored unsafe zip entry" in table["carol"][8]
        assert sorted(report.ignored) == ["README.txt: not a folder or a .zip", "alice-link: a symlink, not followed"]

    def test_student_files(self, graded_class: Graded) -> None:
        """each student's JSON holds the full results, the graded files' hashes and the key"""
        _kit, base, _expected, _report = graded_class
        data = json.loads((base / "subs-gradebook" / "students" / "bob.json").read_text())
        assert data["format"] == "awaitlings-batch-student" and data["complete"] is True
        assert data["files"]["ex02"]["path"] == "exercises/ex02_adder.py"
        assert data["results"]["format"] == "awaitlings-results" and data["results"]["score"] == 14.0
        checks = data["results"]["exercises"][1]["checks"]
        assert [c["hidden"] for c in checks].count(True) == 1, "staff see hidden checks"
        erin = json.loads((base / "subs-gradebook" / "students" / "erin.json").read_text())
        assert "syntax error at line 1" in erin["results"]["exercises"][0]["message"]

    def test_summary(self, graded_class: Graded) -> None:
        """summary.json and summary.html describe the class"""
        _kit, base, expected, report = graded_class
        out = base / "subs-gradebook"
        summary = json.loads((out / "summary.json").read_text())
        assert summary["stats"]["students"] == len(expected) and summary["incomplete"] == []
        page = (out / "summary.html").read_text()
        assert "adds two negative numbers, secretly" in page and "hidden</span>" in page
        assert report.stats.exercises[0].checks[0].ran > 0

    def test_interrupted_batch_resumes_and_matches(self, graded_class: Graded) -> None:
        """kill a batch after a few students; the re-run grades only the rest, and the
        gradebook is byte for byte the uninterrupted one (grading is deterministic)"""
        kit, base, _expected, _report = graded_class
        out = base / "resumed"
        env = {**os.environ, "AWAITLINGS_KIT": str(kit.root)}
        cmd = [sys.executable, "-m", "grader", "batch", str(base / "subs"), "--out", str(out), "--jobs", "1"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list((out / "students").glob("*.json"))) < 4:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        done_before = len(list((out / "students").glob("*.json")))
        assert 4 <= done_before < 12
        assert not list((out / "students").glob(".*.tmp")), "no half-written student file"
        finished = subprocess.run([*cmd, "--format", "json"], env=env, capture_output=True, text=True, check=False)
        assert finished.returncode == 0, finished.stderr
        account = json.loads(finished.stdout)
        assert account["resumed"] >= done_before and account["students"] == 12
        assert (out / "gradebook.csv").read_bytes() == (base / "subs-gradebook" / "gradebook.csv").read_bytes()
        again = subprocess.run([*cmd, "--format", "json"], env=env, capture_output=True, text=True, check=False)
        assert json.loads(again.stdout)["resumed"] == 12, "a finished batch re-grades nothing"

    def test_batch_of_one_exercise(self, tmp_path: Path) -> None:
        """naming exercises grades only those; the gradebook has their columns only"""
        kit = course_kit(tmp_path / "kit")
        write(tmp_path / "subs" / "zoe" / "ex01_hello_run.py", ex01_solution())
        report = batch.run_batch(kit, tmp_path / "subs", exercises=[kit.resolve("ex01")], out=tmp_path / "gb")
        assert (tmp_path / "gb" / "gradebook.csv").read_text().splitlines() == [
            "student,ex01,total,max_total,kit_version,python,status,notes",
            f"zoe,10,10,10,{report.outcomes[0].run.kit_version},{sys.version.split()[0]},graded,",
        ]
