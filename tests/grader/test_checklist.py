"""What ``grade show`` lists: the checks a checks file declares, read with ``ast``."""

from __future__ import annotations

import textwrap

import pytest

from grader.checklist import DeclaredCheck, declared_checks, shares
from grader.errors import KitError
from grader.grading import grade_target
from grader.manifest import Kit

#: Every way a check file marks its checks: pytestmark, class marks, hidden, parametrize.
CHECKS = textwrap.dedent('''\
    """Checks for ex02 adder, marked every way pytest allows."""

    import pytest

    pytestmark = [pytest.mark.weight(2)]


    def helper(ex):
        """not a check: its name does not start with test"""


    def test_adds_ints(ex):
        """adds two ints."""
        assert ex.add(2, 3) == 5


    @pytest.mark.hidden
    @pytest.mark.weight(1)
    def test_adds_negatives(ex):
        """adds negative numbers"""
        assert ex.add(-2, -3) == -5


    @pytest.mark.parametrize("a, b", [(1, 2), (3, 4), (5, 6)])
    @pytest.mark.weight(1)
    def test_adds_pairs(ex, a, b):
        """adds each pair"""
        assert ex.add(a, b) == a + b


    @pytest.mark.weight(3)
    class TestStrings:
        def test_concatenates(self, ex):
            assert ex.add("a", "b") == "ab"

        @pytest.mark.weight(1)
        def test_empty(self, ex):
            """the empty string changes nothing"""
            assert ex.add("", "x") == "x"


    class Helpers:
        def test_not_collected(self):
            """a class not named Test* is not collected"""
    ''')


class TestDeclaredChecks:
    """Each check in file order, with the weight and hidden mark pytest would give it."""

    def test_every_kind_of_mark(self) -> None:
        """the closest weight wins (function, class, module); names are the docstrings'
        first lines, or the function's name; parametrize multiplies"""
        assert declared_checks(CHECKS, "test_ex02_adder.py") == (
            DeclaredCheck("adds two ints", weight=2.0),
            DeclaredCheck("adds negative numbers", hidden=True, weight=1.0),
            DeclaredCheck("adds each pair", weight=1.0, cases=3),
            DeclaredCheck("test_concatenates", weight=3.0),
            DeclaredCheck("the empty string changes nothing", weight=1.0),
        )

    def test_hidden_class_hides_its_methods(self) -> None:
        """@pytest.mark.hidden on a class hides every check in it"""
        source = "import pytest\n\n@pytest.mark.hidden\nclass TestSecret:\n    def test_a(self):\n        '''a'''\n"
        assert declared_checks(source, "t.py") == (DeclaredCheck("a", hidden=True),)

    def test_values_only_pytest_knows(self) -> None:
        """a weight or a list of cases that is not a literal is unknown, and so are the points"""
        source = textwrap.dedent("""\
            import pytest
            W = 2
            CASES = [1, 2]

            @pytest.mark.weight(W)
            def test_a(ex):
                '''a'''

            @pytest.mark.parametrize("n", CASES)
            def test_b(ex, n):
                '''b'''
            """)
        checks = declared_checks(source, "t.py")
        assert checks == (DeclaredCheck("a", weight=None), DeclaredCheck("b", cases=None))
        assert shares(checks, 10) is None

    def test_not_python(self) -> None:
        """a checks file with a syntax error is the kit's fault, named with its line"""
        with pytest.raises(KitError, match=r"test_ex02_adder.py:2: the checks are not valid Python"):
            declared_checks("def test_a(ex):\n    return (\n", "test_ex02_adder.py")


class TestShares:
    """Points per check as grading gives them: weight times cases over the total."""

    def test_shares_add_up_to_the_exercise(self) -> None:
        """2, 1, 3x1, 3 and 1 of 10 weight units share 10 points"""
        assert shares(declared_checks(CHECKS, "t.py"), 10) == (2.0, 1.0, 3.0, 3.0, 1.0)

    def test_no_weight_no_points(self) -> None:
        """all weights 0: every check is worth 0, not a division by zero"""
        assert shares([DeclaredCheck("a", weight=0.0)], 10) == (0.0,)


@pytest.mark.slow
def test_grading_collects_what_show_lists(kit: Kit) -> None:
    """the real grader, on the same checks file: the same checks, names, hidden marks and
    points, in the same order"""
    ex02 = kit.resolve("ex02")
    kit.checks_path(ex02).write_text(CHECKS, encoding="utf-8")
    declared = declared_checks(CHECKS, "test_ex02_adder.py")
    points = shares(declared, ex02.points)
    assert points is not None
    expected = [
        (check.name, check.hidden, check.weight, round(share / (check.cases or 1), 4))
        for check, share in zip(declared, points, strict=True)
        for _case in range(check.cases or 1)
    ]
    graded = grade_target(kit, [ex02], kit.solutions_dir).exercises[0].checks
    assert [(c.name, c.hidden, c.weight, c.max_score) for c in graded] == expected
