"""What bounds a child: its pytest configuration, its resource limits, and the parent's
clock (how long past a check's limit, before the first check, after the last verdict)."""

from __future__ import annotations

from dataclasses import dataclass

#: The child's own pytest configuration (``-c``): nothing from the submission is read.
CHILD_INI = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
timeout_method = signal
timeout_func_only = false
python_files = test_*.py
console_output_style = classic
filterwarnings =
    always::ResourceWarning
    always::RuntimeWarning
"""

#: Extra wall-clock seconds the parent allows past a check's own limit before killing.
HARD_MARGIN_S = 5.0
#: Seconds allowed from spawn to the first check starting (interpreter + pytest start-up).
STARTUP_S = 30.0
#: Seconds a child may linger after its last verdict before it is killed.
LINGER_S = 1.0
#: Seconds from one check's verdict to the next check's start (or "done"): pytest's own
#: bookkeeping, which no learner code needs. Past it the child is killed and the checks
#: left are re-run in a fresh child: a stall charged to no check costs this, not a limit.
BETWEEN_CHECKS_S = 10.0
SANDBOX_ENV_MARK = "AWAITLINGS_SANDBOX"
#: Once the child has closed its pipes, the time its process gets to exit by itself (its
#: PID namespace's relay ends a moment after the run) before the tree is killed.
EXIT_GRACE_S = 1.0


@dataclass(frozen=True)
class Limits:
    """Resource limits for one child. Threads need address space (asyncio's default
    executor and DNS use them), hence a generous address-space limit."""

    memory_bytes: int = 4 * 1024**3
    open_files: int = 1024
    file_size_bytes: int = 64 * 1024**2
    #: Size of the child's private, writable tmpfs (its TMPDIR and HOME; in a mount
    #: namespace only): all it may write, in total, where one file may reach ``file_size_bytes``.
    tmp_bytes: int = 128 * 1024**2
    output_bytes: int = 256 * 1024
    #: Processes and threads of the sandbox uid; applied only under a dedicated uid
    #: (RLIMIT_NPROC counts every process of the real uid, the grader's too otherwise).
    processes: int = 512
    #: When the grader runs as root: drop the child to a dedicated unprivileged uid...
    drop_uid: bool = True
    #: ...and give it private mount and network namespaces (see ``grader.sandbox.isolation``);
    #: not root, in a user namespace of its own where the kernel allows one.
    isolate: bool = True
    #: Build them in a user namespace even as root (what a grader that is not root does;
    #: the tests take this path as root).
    user_namespace: bool = False
    #: No namespaces: hold the child to the allow-list with Landlock alone (what a grader
    #: that is not root does where user namespaces are refused; the tests take this path).
    landlock_only: bool = False
    #: Extra folders the child must not see (other submissions in a batch).
    hide: tuple[str, ...] = ()
    #: Course mode: a child that reports a missing defense stops grading (exit code 3).
    strict: bool = False


#: Seconds a sweep keeps killing and reaping a sandbox uid's processes before giving up
#: (hundreds of processes with large address spaces take a while to die on a busy machine).
SWEEP_S = 5.0
