"""Course-staff test helpers: the grader's test kit (``conftest.build_kit``: the real ex01
and a tiny ex02 ``adder``) with a hidden check added, and a class of submissions.

Points: ex01 10; ex02 4, shared by weight between ``test_adds_ints`` (1), the hidden
``test_adds_negative_numbers`` (2) and ``test_adds_strings`` (3): 0.6667, 1.3333, 2.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from conftest import ROOT, build_kit

from grader.manifest import Kit

HIDDEN_CHECK = '''

# The secret case: students never see it before grades are published.
@pytest.mark.hidden
@pytest.mark.weight(2)
def test_adds_negative_numbers(ex):
    """adds two negative numbers, secretly"""
    assert _secret_sum(ex) == -5, "Sums of negative numbers come out wrong: mind the signs of both."


def _secret_sum(ex):
    return ex.add(-2, -3)
'''

SECRET_NEEDLES = ("test_adds_negative_numbers", "adds two negative numbers, secretly", "_secret_sum",
                  "Sums of negative numbers come out wrong")  # fmt: skip

ADDER_OK = "def add(a, b):\n    return a + b\n"
ADDER_INTS_ONLY = "def add(a, b):\n    return int(a) + int(b)\n"  # ints and negatives: 0.6667 + 1.3333
EX01_SYNTAX_ERROR = "async def greet(name, delay:\n    return name\n"
EX01_EXITS = "import os\nos._exit(0)\n"


def course_kit(root: Path, timeout: float = 3) -> Kit:
    """The test kit with a hidden check in ex02's checks."""
    kit = build_kit(root, timeout=timeout)
    checks = kit.checks_dir / "test_ex02_adder.py"
    checks.write_text(checks.read_text(encoding="utf-8") + HIDDEN_CHECK, encoding="utf-8")
    return kit


def ex01_solution() -> bytes:
    return (ROOT / "solutions" / "ex01_hello_run.py").read_bytes()


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def make_class(subs: Path, kit: Kit) -> dict[str, float | None]:
    """Write a class of submissions under ``subs``; return each student's expected total
    (``None``: depends on the sandbox's isolation, see ``frank``)."""
    subs.mkdir(parents=True)
    solution = ex01_solution()
    # correct, at the top level
    write(subs / "alice" / "ex01_hello_run.py", solution)
    write(subs / "alice" / "ex02_adder.py", ADDER_OK)
    # correct, in exercises/, with a stale copy deeper down that must not win
    write(subs / "bob" / "exercises" / "ex01_hello_run.py", solution)
    write(subs / "bob" / "exercises" / "ex02_adder.py", ADDER_OK)
    write(subs / "bob" / "old" / "backup" / "ex02_adder.py", "def add(a, b):\n    return 0\n")
    # correct, zipped and nested, with path-traversal and absolute entries that must be ignored
    with zipfile.ZipFile(subs / "carol.zip", "w") as zf:
        zf.writestr("carol/hw3/exercises/ex01_hello_run.py", solution)
        zf.writestr("carol/hw3/exercises/ex02_adder.py", ADDER_OK)
        zf.writestr("../ex02_adder.py", "def add(a, b):\n    return 'pwned'\n")
        zf.writestr("/etc/ex01_hello_run.py", "raise SystemExit\n")
        link = zipfile.ZipInfo("ex01_hello_run.py")
        link.external_attr = 0o120777 << 16  # a symlink entry named like the exercise
        zf.writestr(link, "/etc/passwd")
    # partly correct: ex01 right, adder handles ints but not strings
    write(subs / "dave" / "ex01_hello_run.py", solution)
    write(subs / "dave" / "ex02_adder.py", ADDER_INTS_ONLY)
    # broken: a syntax error, and no adder at all
    write(subs / "erin" / "ex01_hello_run.py", EX01_SYNTAX_ERROR)
    # hostile: ex01 ends the process at import; the adder tries to read alice's answer
    spy = (
        f"def add(a, b):\n    try:\n        open({str(subs / 'alice' / 'ex02_adder.py')!r}).read()\n"
        "        return 'I can read other submissions'\n    except OSError:\n        return a + b\n"
    )
    write(subs / "frank" / "ex01_hello_run.py", EX01_EXITS)
    write(subs / "frank" / "ex02_adder.py", spy)
    # empty
    (subs / "grace").mkdir()
    # near-miss file names: the slug alone, taken (with a note) since only one file fits
    write(subs / "heidi" / "hello_run.py", solution)
    write(subs / "heidi" / "adder.py", ADDER_OK)
    # a huge exercise file (over the cap) and a correct adder
    write(subs / "ivan" / "ex01_hello_run.py", solution + b"#" * (600 * 1024) + b"\n")
    write(subs / "ivan" / "ex02_adder.py", ADDER_OK)
    # a symlink named like the exercise, pointing at another student's answer
    write(subs / "judy" / "ex02_adder.py", ADDER_OK)
    os.symlink(subs / "alice" / "ex01_hello_run.py", subs / "judy" / "ex01_hello_run.py")
    # the untouched stub, and a correct adder
    shutil.copyfile(kit.pristine_stub(kit.resolve("ex01")), write(subs / "mallory" / "ex01_hello_run.py", b""))
    write(subs / "mallory" / "ex02_adder.py", ADDER_OK)
    # a folder name that is not UTF-8, correct files
    weird = os.fsdecode(b"k\xe9vin")
    write(subs / weird / "ex01_hello_run.py", solution)
    write(subs / weird / "ex02_adder.py", ADDER_OK)
    # not submissions: a stray file and a symlink to a folder
    write(subs / "README.txt", "submissions exported from the LMS\n")
    os.symlink(subs / "alice", subs / "alice-link")
    return {
        "alice": 14.0, "bob": 14.0, "carol": 14.0, "dave": 12.0, "erin": 0.0, "frank": None, "grace": 0.0,
        "heidi": 14.0, "ivan": 4.0, "judy": 4.0, "mallory": 4.0, "k\\xe9vin": 14.0,
    }  # fmt: skip
