"""``grade release``: hidden checks are cut out exactly, the release is consistent, nothing
hidden leaks, and (slow) it installs with the README's command and grades."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from coursekit import ADDER_OK, SECRET_NEEDLES, course_kit, write

from grader import cli
from grader.errors import KitError, UsageError
from grader.hidden import strip_hidden
from grader.manifest import Kit, load_kit
from grader.platforms.classroom import WORKFLOW_PATH
from grader.release import build_release, filter_manifest, release_pyproject, strip_omitted

CHECKS = textwrap.dedent(
    '''\
    """Checks, some kept back."""

    import pytest


    @pytest.fixture
    def shared():
        return 1


    @pytest.fixture
    def only_for_hidden():
        return "the hidden fixture's own secret value"


    @pytest.fixture(autouse=True)
    def always(request):
        yield


    def _helper_for_hidden(x):
        return x * 2


    def _helper_both(x):
        return x


    def test_visible(ex, shared):
        """a visible check"""
        assert _helper_both(shared) == 1, "the visible message stays put"


    # Why this is hidden: it gives the answer away.
    @pytest.mark.hidden
    @pytest.mark.weight(2)
    async def test_secret(ex, only_for_hidden, shared):
        """a secret check"""
        assert _helper_for_hidden(_helper_both(shared)) == 2, "a message only the secret check has"


    class TestGroup:
        """Grouped checks."""

        def test_kept(self, ex):
            """kept in the group"""

        @pytest.mark.hidden()
        def test_hidden_method(self, ex):
            """hidden in the group"""


    @pytest.mark.hidden
    class TestAllHidden:
        def test_one(self, ex):
            """hidden by its class"""
    '''
)


class TestStripHidden:
    """Hidden checks and what only they use are cut out; everything else stays byte for byte."""

    def test_cuts_checks_helpers_and_fixtures(self) -> None:
        """hidden functions, methods and classes go, with their comment, helpers and fixtures"""
        text, cut = strip_hidden(CHECKS, "ex09", "test_ex09.py")
        assert [c.name for c in cut] == ["test_secret", "test_hidden_method", "TestAllHidden", "test_one"]
        tree = ast.parse(text)
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
        assert names == {"shared", "always", "_helper_both", "test_visible", "TestGroup", "test_kept"}
        for gone in ("hidden", "secret", "Why this is hidden", "_helper_for_hidden", "only_for_hidden"):
            assert gone not in text
        assert "the visible message stays put" in text and "@pytest.fixture(autouse=True)" in text
        assert cut[0].messages == ("a message only the secret check has",)

    def test_untouched_without_hidden_checks(self) -> None:
        """a file without hidden checks is returned as it was"""
        source = 'def test_a(ex):\n    """a"""\n'
        assert strip_hidden(source, "ex01", "t.py") == (source, [])

    def test_refuses_what_it_cannot_cut(self) -> None:
        """a hidden module or a hidden pytest.param stops the release with the line to change"""
        with pytest.raises(KitError, match="pytestmark"):
            strip_hidden("import pytest\npytestmark = pytest.mark.hidden\n", "ex01", "t.py")
        param = (
            "import pytest\n\n@pytest.mark.parametrize('n', [1, pytest.param(2, marks=pytest.mark.hidden)])\n"
            "def test_a(ex, n):\n    pass\n\n@pytest.mark.hidden\ndef test_b(ex):\n    pass\n"
        )
        with pytest.raises(KitError, match="line 3"):
            strip_hidden(param, "ex01", "t.py")


class TestReleaseFiles:
    """The manifest, README and pyproject are cut down for students."""

    def test_filter_manifest(self, tmp_path: Path) -> None:
        """only the named exercises' tables stay; defaults and order are kept"""
        kit = course_kit(tmp_path / "kit")
        text = (kit.exercises_dir / "exercises.toml").read_text()
        cut = filter_manifest(text, ["ex02"])
        data = tomllib.loads(cut)
        assert [e["id"] for e in data["exercise"]] == ["ex02"] and data["defaults"]["timeout"] == 3
        assert filter_manifest(text, ["ex01", "ex02"]) == text

    def test_readme_and_pyproject(self) -> None:
        """omitted README blocks go; testpaths keep only shipped folders"""
        readme = "# Kit\nintro\n\n<!-- release:omit -->\n## Authors\nsecret\n<!-- /release:omit -->\n\nend\n"
        assert strip_omitted(readme) == "# Kit\nintro\n\nend\n"
        pyproject = '[tool.pytest.ini_options]\ntestpaths = ["tests/grader", "tests/kit", "tests/release"]\n'
        assert 'testpaths = ["tests/release"]' in release_pyproject(pyproject, ["tests/release"])

    def test_release_pytest_runs_without_xdist(self) -> None:
        """the kit's own suite runs under xdist; the release's self-test needs only `pip install -e .`"""
        pyproject = (
            "[tool.pytest.ini_options]\n"
            'testpaths = ["tests/grader", "tests/release"]\n'
            'addopts = ["-ra", "-n", "auto", "--dist", "worksteal", "-p", "pytester"]\n'
        )
        options = tomllib.loads(release_pyproject(pyproject, ["tests/release"]))["tool"]["pytest"]["ini_options"]
        assert options["addopts"] == ["-ra", "-p", "pytester"]
        assert options["testpaths"] == ["tests/release"]

    def test_every_grader_package_is_installed(self) -> None:
        """pyproject names every package under grader/: a non-editable install (the
        Gradescope image's, a student's `pip install .`) gets only those"""
        root = Path(__file__).resolve().parents[2]
        declared = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
            "packages"
        ]
        found = {
            ".".join(path.parent.relative_to(root).parts)
            for path in (root / "grader").rglob("*.py")
            if "__pycache__" not in path.parts
        }
        assert found <= set(declared), sorted(found - set(declared))


def _release(tmp_path: Path) -> tuple[Kit, Path]:
    kit = course_kit(tmp_path / "kit")
    out = tmp_path / "release"
    build_release(kit, out)
    return kit, out


class TestBuildRelease:
    """A release has what students need and nothing they must not see."""

    def test_layout(self, tmp_path: Path) -> None:
        """stubs, visible checks, the grader, README, pyproject, workflow; no solutions or kit tests"""
        kit, out = _release(tmp_path)
        files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
        assert {"pyproject.toml", "README.md", WORKFLOW_PATH, "exercises/exercises.toml", "grader/cli.py",
                "exercises/ex01_hello_run.py", "exercises/ex02_adder.py", "grader/stubs/ex01_hello_run.py",
                "tests/checks/test_ex01_hello_run.py", "tests/checks/test_ex02_adder.py",
                "tests/release/test_student_kit.py"} <= files  # fmt: skip
        for forbidden in ("solutions/", "tests/mutants/", "tests/kit/", "tests/grader/", "benchmarks/", ".ci/"):
            assert not any(f.startswith(forbidden) for f in files), forbidden
        assert not any("__pycache__" in f for f in files)
        release = load_kit(out)
        for exercise in release.exercises:
            assert (out / "exercises" / exercise.filename).read_bytes() == kit.pristine_stub(exercise).read_bytes()
            assert release.pristine_stub(exercise).read_bytes() == kit.pristine_stub(exercise).read_bytes()
        assert "## For kit authors" not in (out / "README.md").read_text()
        assert tomllib.loads((out / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["testpaths"] == [
            "tests/release"
        ]

    def test_nothing_hidden_leaks(self, tmp_path: Path) -> None:
        """no file of the release names a hidden check, its docstring, helper or message"""
        _kit, out = _release(tmp_path)
        for path in out.rglob("*"):
            if path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                for needle in SECRET_NEEDLES:
                    assert needle not in text, (path, needle)
        checks = (out / "tests" / "checks" / "test_ex02_adder.py").read_text()
        assert "def test_adds_ints" in checks and "def test_adds_strings" in checks
        compile(checks, "test_ex02_adder.py", "exec")

    def test_workflow_reports_to_github_classroom(self, tmp_path: Path) -> None:
        """the workflow installs the kit, grades (`grade autograde --classroom`) and runs the reporter on
        one runner per exercise, even after a failed grading step"""
        _kit, out = _release(tmp_path)
        workflow = (out / WORKFLOW_PATH).read_text()
        for expected in ("name: Autograding Tests", "python -m pip install -e .", "grade autograde --classroom",
                         "classroom-resources/autograding-grading-reporter@v1", "if: ${{ !cancelled() }}",
                         'EX01_RESULTS: "${{ steps.awaitlings.outputs.ex01 }}"',
                         'EX02_RESULTS: "${{ steps.awaitlings.outputs.ex02 }}"', "runners: ex01,ex02",
                         "checks: write"):  # fmt: skip
            assert expected in workflow

    def test_a_subset_of_exercises(self, tmp_path: Path) -> None:
        """naming exercises releases only those (manifest, stubs, checks)"""
        kit = course_kit(tmp_path / "kit")
        build_release(kit, tmp_path / "part1", [kit.resolve("ex01")])
        assert [e.id for e in load_kit(tmp_path / "part1").exercises] == ["ex01"]
        assert not (tmp_path / "part1" / "tests" / "checks" / "test_ex02_adder.py").exists()
        assert not (tmp_path / "part1" / "grader" / "stubs" / "ex02_adder.py").exists()

    def test_refuses_to_overwrite_or_leak(self, tmp_path: Path) -> None:
        """an existing OUT is refused; a leak found while verifying leaves no OUT behind"""
        kit = course_kit(tmp_path / "kit")
        write(tmp_path / "taken" / "x.txt", "mine")
        with pytest.raises(UsageError, match="not empty"):
            build_release(kit, tmp_path / "taken")
        with pytest.raises(UsageError, match="inside the kit"):
            build_release(kit, kit.root / "release")
        write(kit.root / "README.md", "# Course\nDo not miss: adds two negative numbers, secretly.\n")
        with pytest.raises(KitError, match="mentions the hidden check ex02::test_adds_negative_numbers"):
            build_release(kit, tmp_path / "leaky")
        assert not (tmp_path / "leaky").exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".leaky")]

    def test_missing_checks_stop_the_release(self, tmp_path: Path) -> None:
        """an exercise without checks cannot be released"""
        kit = course_kit(tmp_path / "kit")
        (kit.checks_dir / "test_ex02_adder.py").unlink()
        with pytest.raises(KitError, match="ex02 has no checks"):
            build_release(kit, tmp_path / "out")

    def test_cli(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """`grade release OUT` reports what it wrote; a second run is a usage error (exit 2)"""
        kit = course_kit(tmp_path / "kit")
        monkeypatch.setenv("AWAITLINGS_KIT", str(kit.root))
        monkeypatch.setattr(cli, "_KIT", None)
        result = CliRunner().invoke(cli.cli, ["release", str(tmp_path / "out")], standalone_mode=False)
        assert result.exception is None, result.output
        assert "2 exercises" in result.output and "1 hidden check(s) left out" in result.output
        again = subprocess.run([sys.executable, "-m", "grader", "release", str(tmp_path / "out")],
                               env={"AWAITLINGS_KIT": str(kit.root), "PATH": "/usr/bin:/bin"},
                               capture_output=True, text=True, check=False)  # fmt: skip
        assert again.returncode == 2 and "not empty" in again.stderr


@pytest.mark.slow
class TestReleaseInstalls:
    """The release installs with the README's command and grades in a fresh venv."""

    def test_install_grade_and_self_test(self, tmp_path: Path) -> None:
        """pip install -e . works; `grade` reports every exercise not started; a correct
        answer gets full marks on the visible checks; the release's own pytest passes"""
        _kit, out = _release(tmp_path)
        venv = tmp_path / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-e", "."],
                                 cwd=out, capture_output=True, text=True, check=False)  # fmt: skip
        assert install.returncode == 0, install.stderr[-2000:]
        env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
        first = subprocess.run(["grade", "--format", "json"], cwd=out, env=env, capture_output=True, text=True,
                               check=False)  # fmt: skip
        report = json.loads(first.stdout)
        assert first.returncode == 1 and {e["status"] for e in report["exercises"]} == {"not_started"}
        write(out / "exercises" / "ex02_adder.py", ADDER_OK)
        graded = subprocess.run(["grade", "ex02", "--format", "json"], cwd=out, env=env, capture_output=True,
                                text=True, check=False)  # fmt: skip
        ex02 = json.loads(graded.stdout)["exercises"][0]
        assert graded.returncode == 0 and ex02["score"] == 4.0
        assert [c["name"] for c in ex02["checks"]] == ["adds two ints", "adds two strings"]
        selftest = subprocess.run([str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                                  cwd=out, env=env, capture_output=True, text=True, check=False)  # fmt: skip
        assert selftest.returncode == 0, selftest.stdout[-2000:]
