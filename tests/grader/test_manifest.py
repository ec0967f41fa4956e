"""Unit tests of grader.manifest: parsing exercises.toml and looking exercises up."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from grader.errors import GraderError, KitError, UnknownExercise, UsageError
from grader.manifest import KIT_ENV, STUBS_DIR, Exercise, Kit, find_kit_root, load_kit, parse_manifest

MANIFEST = textwrap.dedent(
    """\
    [defaults]
    points = 10
    timeout = 10
    min_python = "3.11"

    [[exercise]]
    id = "ex01"
    slug = "hello_run"
    title = "Your first coroutine"
    concepts = ["coroutines"]
    hints = ["one", "two"]

    [[exercise]]
    id = "ex04"
    slug = "echo_server"
    title = "Write the echo server"
    points = 20
    timeout = 5
    hints = ["one", "two", "three"]

    [[exercise]]
    id = "ex12"
    slug = "cpu_bound"
    title = "CPU-bound work"
    min_python = "3.13"
    hints = ["one", "two", "three", "four"]
    """
)


def exercise_entry(index: int, **fields: object) -> str:
    values: dict[str, object] = {"id": f"ex{index:02d}", "slug": f"slug{index}", "title": f"Title {index}"}
    values["hints"] = ["a", "b"]
    values.update(fields)
    lines = ["[[exercise]]"]
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, list):
            lines.append(f"{key} = [{', '.join(repr(v) for v in value)}]")
        else:
            lines.append(f"{key} = {value!r}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def kit() -> Kit:
    return Kit(root=Path("/kit"), exercises=parse_manifest(MANIFEST))


class TestParsing:
    """The manifest becomes frozen exercises in course order, defaults applied."""

    def test_reads_every_exercise_in_order(self, kit: Kit) -> None:
        """exercises come in the order the manifest lists them"""
        assert [e.id for e in kit.exercises] == ["ex01", "ex04", "ex12"]
        assert [e.order for e in kit.exercises] == [1, 2, 3]

    def test_defaults_fill_missing_fields(self, kit: Kit) -> None:
        """points, timeout and min_python fall back to [defaults]"""
        ex01, ex04, ex12 = kit.exercises
        assert (ex01.points, ex01.limit, ex01.min_python) == (10.0, 10.0, (3, 11))
        assert (ex04.points, ex04.limit) == (20.0, 5.0)
        assert ex12.min_python == (3, 13)

    def test_fields_are_typed(self, kit: Kit) -> None:
        """hints and concepts are tuples of str, numbers are floats"""
        ex01 = kit.exercises[0]
        assert ex01.hints == ("one", "two")
        assert ex01.concepts == ("coroutines",)
        assert type(ex01.points) is float and type(ex01.limit) is float

    def test_exercises_are_frozen(self, kit: Kit) -> None:
        """an exercise cannot be changed after loading"""
        with pytest.raises(AttributeError):
            kit.exercises[0].points = 99  # type: ignore[misc]

    def test_explicit_order_sorts(self) -> None:
        """an explicit `order` wins over the position in the file"""
        text = exercise_entry(1, order=2) + exercise_entry(2, order=1)
        assert [e.id for e in parse_manifest(text)] == ["ex02", "ex01"]

    def test_built_in_defaults_without_a_defaults_table(self) -> None:
        """with no [defaults], 10 points, 10 s and Python 3.11"""
        (ex,) = parse_manifest(exercise_entry(1))
        assert (ex.points, ex.limit, ex.min_python) == (10.0, 10.0, (3, 11))

    def test_names_derived_from_id_and_slug(self, kit: Kit) -> None:
        """module, file and checks file names follow exNN_slug"""
        ex04 = kit.exercises[1]
        assert ex04.module == "ex04_echo_server"
        assert ex04.filename == "ex04_echo_server.py"
        assert ex04.checks_filename == "test_ex04_echo_server.py"

    def test_paths_follow_the_layout(self, kit: Kit) -> None:
        """stub, checks and state paths hang off the kit root"""
        ex04 = kit.exercises[1]
        assert kit.stub_path(ex04) == Path("/kit/exercises/ex04_echo_server.py")
        assert kit.checks_path(ex04) == Path("/kit/tests/checks/test_ex04_echo_server.py")
        assert kit.solutions_dir == Path("/kit/solutions")
        assert kit.mutants_dir == Path("/kit/tests/mutants")
        assert kit.state_dir == Path("/kit/.awaitlings")
        assert kit.pristine_stub(ex04) == STUBS_DIR / "ex04_echo_server.py"

    def test_supported_compares_versions(self, kit: Kit) -> None:
        """min_python gates an exercise on the running (or given) Python"""
        ex12 = kit.exercises[2]
        assert ex12.supported((3, 13))
        assert ex12.supported((3, 14))
        assert not ex12.supported((3, 12))
        assert kit.exercises[0].supported() is (sys.version_info[:2] >= (3, 11))


    def test_equal_fields_mean_equal_exercises(self) -> None:
        """two exercises with the same fields are equal and hash alike (frozen dataclass)"""
        fields = dict(order=1, id="ex01", slug="s", title="t", points=1.0, limit=1.0, hints=("a", "b"),
                      min_python=(3, 11))  # fmt: skip
        assert Exercise(**fields) == Exercise(**fields)  # type: ignore[arg-type]
        assert len({Exercise(**fields), Exercise(**fields)}) == 1  # type: ignore[arg-type]


class TestLookup:
    """An exercise is found by id, number, slug or module name; a typo gets a suggestion."""

    @pytest.mark.parametrize(
        "name",
        ["ex04", "4", "04", "ex4", "echo_server", "ex04_echo_server", "ex04_echo_server.py", "EX04", " ex04 "],
    )
    def test_every_spelling_finds_the_exercise(self, kit: Kit, name: str) -> None:
        """ex04, 4, ex4, echo_server and the module name all mean ex04"""
        assert kit.resolve(name).id == "ex04"

    def test_numbers_do_not_match_other_numbers(self, kit: Kit) -> None:
        """1 is ex01 and 12 is ex12, never a prefix match"""
        assert kit.resolve("1").id == "ex01"
        assert kit.resolve("12").id == "ex12"

    def test_unknown_id_suggests_the_closest(self, kit: Kit) -> None:
        """a near miss raises UnknownExercise with a did-you-mean"""
        with pytest.raises(UnknownExercise) as caught:
            kit.resolve("echo_servr")
        assert caught.value.suggestion == "echo_server"
        assert "did you mean 'echo_server'?" in str(caught.value)

    def test_unknown_number_is_not_found(self, kit: Kit) -> None:
        """a number with no exercise is unknown, not the nearest exercise"""
        with pytest.raises(UnknownExercise) as caught:
            kit.resolve("7")
        assert "no exercise called '7'" in str(caught.value)

    def test_far_off_name_points_to_the_list(self, kit: Kit) -> None:
        """with nothing close, the message points to `grade list`"""
        with pytest.raises(UnknownExercise) as caught:
            kit.resolve("zzzzzzzz")
        assert caught.value.suggestion is None
        assert "`grade list`" in str(caught.value)

    def test_unknown_exercise_is_a_usage_error(self) -> None:
        """an unknown id maps to exit code 2"""
        error = UnknownExercise("x", None)
        assert isinstance(error, UsageError) and isinstance(error, GraderError)
        assert error.exit_code == 2

    def test_select_keeps_manifest_order_without_repeats(self, kit: Kit) -> None:
        """select returns the named exercises once each, in course order"""
        chosen = kit.select(["cpu_bound", "1", "ex01", "ex04"])
        assert [e.id for e in chosen] == ["ex01", "ex04", "ex12"]

    def test_select_nothing_means_everything(self, kit: Kit) -> None:
        """no names selects the whole course"""
        assert kit.select([]) == kit.exercises


class TestErrors:
    """A broken manifest raises KitError naming the file, the exercise and what to fix."""

    def test_bad_toml_names_the_file(self) -> None:
        """invalid TOML names the source file and the parser's complaint"""
        with pytest.raises(KitError, match=r"^exercises/exercises.toml is not valid TOML: .*line 1"):
            parse_manifest("[[exercise]\nid = ", "exercises/exercises.toml")

    @pytest.mark.parametrize("missing", ["id", "slug", "title"])
    def test_missing_key_names_the_exercise(self, missing: str) -> None:
        """a missing id/slug/title names the exercise's position and the key"""
        text = exercise_entry(1) + exercise_entry(2, **{missing: None})
        with pytest.raises(KitError) as caught:
            parse_manifest(text, "m.toml")
        assert str(caught.value) == f"m.toml, exercise #2 has no '{missing}': add it"

    @pytest.mark.parametrize("count", [0, 1, 5])
    def test_hint_count_outside_two_to_four(self, count: int) -> None:
        """an exercise needs 2-4 hints; the error names it and the count"""
        text = exercise_entry(3, hints=[f"h{i}" for i in range(count)])
        with pytest.raises(KitError) as caught:
            parse_manifest(text, "m.toml")
        assert str(caught.value) == f"m.toml, exercise #1 (ex03) needs 2-4 hints, has {count}"

    def test_bad_min_python(self) -> None:
        """min_python that is not MAJOR.MINOR is rejected with the bad value"""
        with pytest.raises(KitError, match=r"m.toml, exercise #1: min_python must look like '3.11', got 'three'"):
            parse_manifest(exercise_entry(1, min_python="three"), "m.toml")

    def test_duplicate_ids(self) -> None:
        """an id used twice is named"""
        text = exercise_entry(1) + exercise_entry(1, slug="other")
        with pytest.raises(KitError, match=r"m\.toml: exercise ids used twice: ex01"):
            parse_manifest(text, "m.toml")

    def test_kit_error_means_exit_three(self) -> None:
        """a broken kit is the grader's problem, exit code 3"""
        assert KitError("x").exit_code == 3


class TestFindingTheKit:
    """The kit is found through AWAITLINGS_KIT, then upwards from the current folder."""

    @pytest.fixture
    def kit_root(self, tmp_path: Path) -> Path:
        root = tmp_path / "kit"
        (root / "exercises").mkdir(parents=True)
        (root / "exercises" / "exercises.toml").write_text(MANIFEST, encoding="utf-8")
        return root

    def test_environment_variable_wins(self, kit_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """AWAITLINGS_KIT points at the kit"""
        monkeypatch.setenv(KIT_ENV, str(kit_root))
        assert find_kit_root(Path("/")) == kit_root.resolve()

    def test_environment_variable_without_manifest(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """AWAITLINGS_KIT pointing at a folder with no manifest is a KitError"""
        monkeypatch.setenv(KIT_ENV, str(tmp_path))
        with pytest.raises(KitError, match=r"has no exercises/exercises\.toml"):
            find_kit_root()

    def test_found_upwards_from_a_subfolder(self, kit_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """run from inside the kit (any depth), the kit is found"""
        monkeypatch.delenv(KIT_ENV, raising=False)
        deep = kit_root / "exercises" / "notes"
        deep.mkdir()
        assert find_kit_root(deep) == kit_root.resolve()

    def test_load_kit_reads_the_manifest(self, kit_root: Path) -> None:
        """load_kit gives the exercises and uses the packaged stubs when the kit has none"""
        kit = load_kit(kit_root)
        assert kit.root == kit_root
        assert [e.id for e in kit.exercises] == ["ex01", "ex04", "ex12"]
        assert kit.stubs_dir == STUBS_DIR

    def test_load_kit_prefers_its_own_stubs(self, kit_root: Path) -> None:
        """a kit with grader/stubs/ keeps its pristine stubs there"""
        (kit_root / "grader" / "stubs").mkdir(parents=True)
        kit = load_kit(kit_root)
        assert kit.pristine_stub(kit.exercises[0]) == kit_root / "grader" / "stubs" / "ex01_hello_run.py"

    def test_load_kit_without_manifest(self, tmp_path: Path) -> None:
        """a folder with no manifest is a KitError naming the path"""
        with pytest.raises(KitError, match=r"cannot read .*exercises.toml"):
            load_kit(tmp_path)

    def test_load_kit_names_the_manifest_in_errors(self, kit_root: Path) -> None:
        """parse errors name the manifest's full path"""
        manifest = kit_root / "exercises" / "exercises.toml"
        manifest.write_text("not = [valid", encoding="utf-8")
        with pytest.raises(KitError, match=f"^{manifest} is not valid TOML"):
            load_kit(kit_root)

