"""The kit's self-check of its own layout (grader.verify.layout_problems), on a test kit."""

from __future__ import annotations

from grader.manifest import Kit
from grader.verify import layout_problems


def ex02(kit: Kit):  # type: ignore[no-untyped-def]
    return kit.resolve("ex02")


def add_mutants(kit: Kit, *must_fail: str) -> None:
    folder = kit.mutants_dir / ex02(kit).module
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(must_fail):
        (folder / f"wrong{i}.py").write_text(f'"""Wrong.\n\nMust fail: {name}\n"""\n', encoding="utf-8")


class TestLayoutProblems:
    """Each broken rule is named, with what to do; a sound exercise has none."""

    def test_a_sound_exercise_has_no_problem(self, kit: Kit) -> None:
        """with two mutants naming its checks, the test kit's ex02 passes every rule"""
        add_mutants(kit, "test_adds_ints", "test_adds_strings")
        assert [p for p in layout_problems(kit, ex02(kit)) if "checks; an exercise has" not in p] == []

    def test_a_missing_solution_is_named(self, kit: Kit) -> None:
        """no solution file: named by its path"""
        (kit.solutions_dir / ex02(kit).filename).unlink()
        assert layout_problems(kit, ex02(kit)) == [f"ex02: missing solutions/{ex02(kit).filename}"]

    def test_a_pristine_copy_that_differs(self, kit: Kit) -> None:
        """grader/stubs/ differs from exercises/: an author's error, a learner's work"""
        stub = kit.stub_path(ex02(kit))
        stub.write_text(stub.read_text(encoding="utf-8") + "\n# my work\n", encoding="utf-8")
        assert any("copy the stub over" in p for p in layout_problems(kit, ex02(kit)))
        assert not any("copy the stub over" in p for p in layout_problems(kit, ex02(kit), stubs_must_match=False))

    def test_undocumented_checks_and_bad_hint_marks(self, kit: Kit) -> None:
        """a check with no docstring, a hint mark past the manifest's hints"""
        checks = kit.checks_path(ex02(kit))
        checks.write_text(
            checks.read_text(encoding="utf-8")
            + "\n\n@pytest.mark.hint(99)\ndef test_nameless(ex):\n    pass\n",
            encoding="utf-8",
        )
        problems = layout_problems(kit, ex02(kit))
        assert "ex02: test_nameless needs a one-line docstring (its name in reports)" in problems
        assert any("points to hint 99" in p for p in problems)

    def test_mutants_are_counted_and_must_name_real_checks(self, kit: Kit) -> None:
        """fewer than two mutants, or one naming a check that does not exist"""
        add_mutants(kit, "test_nowhere")
        problems = layout_problems(kit, ex02(kit))
        assert any("mutant(s), needs at least 2" in p for p in problems)
        assert any("'test_nowhere', which is not a check of ex02" in p for p in problems)
