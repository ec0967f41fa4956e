"""Grade one exercise in a sandboxed child: the learner's code runs in a limited process,
verdicts come back over an authenticated pipe, the score is decided here.

DESIGN.md section 3, step by step, one module per concern:

- :mod:`~grader.sandbox.run`: the steps in order (:func:`grade_exercise`);
- :mod:`~grader.sandbox.intake`: reading the learner's file once (what is scanned is what runs);
- :mod:`~grader.sandbox.uids`: a dedicated uid per child, when the grader is root;
- :mod:`~grader.sandbox.spawn`: the child's settings, environment and arguments, and starting it;
- :mod:`~grader.sandbox.warm`: the warm child each run forks from;
- :mod:`~grader.sandbox.child`: what the child does before pytest (isolation, limits, uid drop);
- :mod:`~grader.sandbox.isolation`: its namespaces and allow-list root (in a user namespace
  when not root);
- :mod:`~grader.sandbox.landlock`: the same allow-list where no namespace can be made;
- :mod:`~grader.sandbox.pidns`: its PID namespace, whose end the kernel enforces;
- :mod:`~grader.sandbox.reading`: the child's messages and output, against the parent's deadlines;
- :mod:`~grader.sandbox.verdicts`: verdicts for checks left without one, and the score;
- :mod:`~grader.sandbox.tree`: killing and reaping the child's whole process tree;
- :mod:`~grader.sandbox.config`: limits, the child's pytest configuration, the parent's clock;
- :mod:`~grader.sandbox.flags`: static flags for course staff (never change a score).
"""

from __future__ import annotations

from grader.sandbox.config import CHILD_INI, HARD_MARGIN_S, LINGER_S, SANDBOX_ENV_MARK, STARTUP_S, Limits
from grader.sandbox.run import grade_exercise
from grader.sandbox.spawn import probe, warm_up
from grader.sandbox.uids import UID_BASE, UID_BLOCK, uid_block

__all__ = [
    "CHILD_INI", "HARD_MARGIN_S", "LINGER_S", "SANDBOX_ENV_MARK", "STARTUP_S", "UID_BASE", "UID_BLOCK",
    "Limits", "grade_exercise", "probe", "uid_block", "warm_up",
]  # fmt: skip
