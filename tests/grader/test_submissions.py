"""Submission intake (``grader.submissions``): near-miss file names are taken when only one
file fits and said so, named with their rename otherwise; a whole-repository upload is
graded from the learner's ``exercises/``, never from the kit's own stubs or solutions."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
from coursekit import ADDER_OK, course_kit, ex01_solution, write

from grader import submissions
from grader.manifest import Kit
from grader.results import ExerciseStatus


@pytest.fixture
def ckit(tmp_path: Path) -> Kit:
    return course_kit(tmp_path / "kit")


def _missing(ckit: Kit, collected: submissions.Collected, exercise: str) -> str:
    result = submissions.absent_result(ckit.resolve(exercise), collected)
    assert result.status is ExerciseStatus.ERROR and result.score == 0 and result.message is not None
    return result.message


class TestNearMissNames:
    """A file named almost right is graded when it is the only candidate, and the note says so."""

    @pytest.mark.parametrize(
        ("name", "why"),
        [
            ("ex01_hello_run (1).py", "a copy suffix"),
            ("ex01_hello_run - Copy.py", "a copy suffix"),
            ("Ex01_Hello_Run.py", "letter case"),
            ("EX01_HELLO_RUN.PY", "letter case"),
            ("ex01-hello-run.py", "spaces or dashes"),
            ("hello_run.py", "without its ex01_ prefix"),
        ],
    )
    def test_taken_and_reported(self, ckit: Kit, tmp_path: Path, name: str, why: str) -> None:
        """the file is graded for the exercise; the note names the difference and the rename"""
        write(tmp_path / "s" / "exercises" / name, "mine")
        got = submissions.collect(tmp_path / "s", ckit.exercises)
        assert got.files["ex01"] == submissions.Found(f"exercises/{name}", b"mine", renamed=True)
        assert got.notes == (
            f"ex01_hello_run.py: graded exercises/{name} (its name differs: {why}); rename it to ex01_hello_run.py",
        )

    def test_in_a_zip_too(self, ckit: Kit, tmp_path: Path) -> None:
        """near misses inside a zip are taken the same way"""
        with zipfile.ZipFile(tmp_path / "s.zip", "w") as zf:
            zf.writestr("hw/Ex02_Adder (2).py", ADDER_OK)
        got = submissions.collect(tmp_path / "s.zip", ckit.exercises)
        assert got.files["ex02"].path == "hw/Ex02_Adder (2).py" and got.files["ex02"].data == ADDER_OK.encode()

    def test_the_exact_name_wins(self, ckit: Kit, tmp_path: Path) -> None:
        """with the exact name present, a near miss (even shallower) is neither taken nor noted"""
        write(tmp_path / "s" / "ex01_hello_run (1).py", "old download")
        write(tmp_path / "s" / "exercises" / "ex01_hello_run.py", "mine")
        got = submissions.collect(tmp_path / "s", ckit.exercises)
        assert got.files["ex01"] == submissions.Found("exercises/ex01_hello_run.py", b"mine")
        assert got.notes == ()

    def test_identical_copies_are_not_ambiguous(self, ckit: Kit, tmp_path: Path) -> None:
        """two near misses with the same bytes: the shallowest is taken"""
        write(tmp_path / "s" / "adder (1).py", ADDER_OK)
        write(tmp_path / "s" / "old" / "adder.py", ADDER_OK)
        assert submissions.collect(tmp_path / "s", ckit.exercises).files["ex02"].path == "adder (1).py"

    def test_ambiguous_ones_are_listed_not_graded(self, ckit: Kit, tmp_path: Path) -> None:
        """two different near misses: neither is graded; "not found" lists both and the name to use"""
        write(tmp_path / "s" / "adder (1).py", ADDER_OK)
        write(tmp_path / "s" / "Ex02_Adder.py", "def add(a, b):\n    return 0\n")
        got = submissions.collect(tmp_path / "s", ckit.exercises)
        assert "ex02" not in got.files
        assert _missing(ckit, got, "ex02").splitlines()[1] == (
            "Found several files that could be it (Ex02_Adder.py, adder (1).py): "
            "keep the one to grade and name it ex02_adder.py."
        )

    @pytest.mark.parametrize("name", ["ex01_helo_run.py", "ex01_hello_run.py.txt", "ex01_hello_run.txt", "ex1.py"])
    def test_likely_names_are_named_with_their_rename(self, ckit: Kit, tmp_path: Path, name: str) -> None:
        """a typo, a wrong extension or the id alone is never graded, but "not found" says what to rename"""
        write(tmp_path / "s" / "work" / name, "mine")
        got = submissions.collect(tmp_path / "s", ckit.exercises)
        assert "ex01" not in got.files and got.notes == ()
        assert _missing(ckit, got, "ex01").splitlines() == [
            submissions.missing_message(ckit.resolve("ex01")),
            f"Found work/{name}: rename it to ex01_hello_run.py.",
        ]

    def test_unrelated_files_are_not_suggested(self, ckit: Kit, tmp_path: Path) -> None:
        """another exercise's file, or an unrelated script, is no suggestion"""
        write(tmp_path / "s" / "ex02_adder.py", ADDER_OK)
        write(tmp_path / "s" / "scratch.py", "print(1)")
        got = submissions.collect(tmp_path / "s", ckit.exercises)
        assert _missing(ckit, got, "ex01") == submissions.missing_message(ckit.resolve("ex01"))


class TestWholeRepositoryUpload:
    """A copy of the whole kit is graded from its exercises/, quietly."""

    def _upload(self, ckit: Kit, where: Path) -> Path:
        shutil.copytree(ckit.root, where)
        write(where / "exercises" / "ex01_hello_run.py", ex01_solution())
        return where

    def test_the_learners_exercises_are_graded(self, ckit: Kit, tmp_path: Path) -> None:
        """exercises/ is taken, not grader/stubs/ nor solutions/; no "also found" note"""
        repo = self._upload(ckit, tmp_path / "s" / "awaitlings-main")
        got = submissions.collect(tmp_path / "s", ckit.exercises)
        assert {k: f.path for k, f in got.files.items()} == {
            "ex01": "awaitlings-main/exercises/ex01_hello_run.py",
            "ex02": "awaitlings-main/exercises/ex02_adder.py",
        }
        assert got.files["ex01"].data == ex01_solution()
        assert got.files["ex02"].data == (repo / "exercises" / "ex02_adder.py").read_bytes()
        assert got.notes == ()

    def test_the_kit_copies_are_never_taken(self, ckit: Kit, tmp_path: Path) -> None:
        """a learner's exercise missing from exercises/ is not found: the kit's copy is named, not graded"""
        repo = self._upload(ckit, tmp_path / "s")
        (repo / "exercises" / "ex02_adder.py").unlink()
        got = submissions.collect(repo, ckit.exercises)
        assert set(got.files) == {"ex01"} and got.notes == ()
        assert _missing(ckit, got, "ex02").splitlines()[1] == (
            "Found only the kit's own copy grader/stubs/ex02_adder.py, which is never graded: "
            "your work goes in exercises/ex02_adder.py."
        )

    def test_in_a_zip(self, ckit: Kit, tmp_path: Path) -> None:
        """a zipped repository (GitHub's "Download ZIP") is read the same way"""
        repo = self._upload(ckit, tmp_path / "repo")
        with zipfile.ZipFile(tmp_path / "s.zip", "w") as zf:
            for path in sorted(repo.rglob("*")):
                if path.is_file():
                    zf.write(path, f"awaitlings-main/{path.relative_to(repo).as_posix()}")
        got = submissions.collect(tmp_path / "s.zip", ckit.exercises)
        assert got.files["ex01"].path == "awaitlings-main/exercises/ex01_hello_run.py" and got.notes == ()

    def test_a_folder_named_solutions_outside_a_kit_is_the_learners(self, ckit: Kit, tmp_path: Path) -> None:
        """without a kit copy around it, solutions/ is just a folder of the student's"""
        write(tmp_path / "s" / "solutions" / "ex02_adder.py", ADDER_OK)
        assert submissions.collect(tmp_path / "s", ckit.exercises).files["ex02"].path == "solutions/ex02_adder.py"
