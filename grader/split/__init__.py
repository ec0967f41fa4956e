"""Split runs: the checks in a trusted checker process, the learner's code in a worker.

:mod:`grader.split.wire` carries plain data between them, :mod:`grader.split.worker` is
the only process that runs the learner's code, and :mod:`grader.split.checker` gives the
checks proxies for it and keeps one virtual clock for both (SECURITY.md, "Split runs").
"""
