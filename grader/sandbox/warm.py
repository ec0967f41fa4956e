"""The warm child: one process that has imported pytest and the grader, forked for each run.

A fresh interpreter that imports pytest, pytest-asyncio, pytest-timeout and the plugin
costs about 0.3 s of CPU before the first check; every exercise paid it. The warm child
(``python -I -B -m grader.sandbox.warm FD``, started once per grader process) pays it once: it
imports all of that (never a learner's code), then waits on a Unix socket. For each run
the parent sends the same settings and pytest arguments a fresh child would get, with
the run's two pipes (results, output); the warm child forks, and the fork becomes a
sandboxed child exactly as :mod:`grader.sandbox.child` makes one (new session, the run's
environment and folder, then isolation, limits, uid drop, pytest), so what contains the
learner's code and what decides a verdict are the same code either way.

The fork is safe because the warm child has a single thread and holds nothing the run
must not see: its socket and wake-up pipe are closed in the fork before anything else.
The exit status of each fork comes back over the socket. If the warm child is gone (a
learner's code of the same uid killed it), the run in flight is redone in a fresh
interpreter and the next run starts a new warm child. ``AWAITLINGS_WARM=0`` turns it off.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from typing import Any

#: The environment switch: "0" starts every run in a fresh interpreter.
SWITCH = "AWAITLINGS_WARM"
_MAX_MESSAGE = 1 << 20


class WarmLost(Exception):
    """The warm child ended while a run it forked was in flight."""


@dataclass
class Job:
    """One run, as a fork of the warm child receives it."""

    settings: dict[str, Any]
    args: list[str]
    cwd: str
    env: dict[str, str]
    key: str


# --- the warm child's side ------------------------------------------------------------------


def _serve(sock: socket.socket) -> Job | None:
    """Fork for each job received; return the job in the fork, None when the parent goes."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "job")
    sel.register(wake_r, selectors.EVENT_READ, "child")

    def send(message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            sock.send(json.dumps(message).encode())

    while True:
        for key, _ in sel.select():
            if key.data == "child":
                with contextlib.suppress(OSError):
                    while os.read(wake_r, 512):
                        pass
                while True:
                    try:
                        pid, status = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if pid == 0:
                        break
                    send({"exit": pid, "code": os.waitstatus_to_exitcode(status)})
                continue
            try:
                data, fds, _flags, _addr = socket.recv_fds(sock, _MAX_MESSAGE, 2)
            except OSError:
                data, fds = b"", []
            if not data:
                return None
            request = json.loads(data)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                # The fork: nothing of the warm child's plumbing stays open in it.
                sel.close()
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                sock.close()
                os.close(wake_r)
                os.close(wake_w)
                return _become_the_run(request, fds)
            for fd in fds:
                os.close(fd)
            send({"id": request["id"], "pid": pid})


def _become_the_run(request: dict[str, Any], fds: list[int]) -> Job:
    """In the fork: the session, pipes, folder, environment and argv of a fresh child."""
    from grader.sandbox.child import PR_SET_PDEATHSIG, _prctl

    os.setsid()
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # again after the uid drop (child.run)
    results_fd, output_fd = fds
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(output_fd)
    args = [str(results_fd) if a == "@RESULTS_FD@" else a for a in request["args"]]
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None  # TMPDIR is the run's
    sys.argv = [sys.modules["grader.sandbox.child"].__file__ or "", json.dumps(request["settings"]), "--", *args]
    return Job(request["settings"], args, request["cwd"], request["env"], request["key"])


def main() -> None:
    """``python -I -B -m grader.sandbox.warm FD``: import everything, then fork on request."""
    sock = socket.socket(fileno=int(sys.argv[1]))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    import grader.sandbox.child

    grader.sandbox.child.preload()
    grader.sandbox.child.freeze_heap()
    # Die with the grader; no ptrace from a learner's code of the same uid.
    grader.sandbox.child._prctl(grader.sandbox.child.PR_SET_PDEATHSIG, signal.SIGKILL)
    grader.sandbox.child._prctl(grader.sandbox.child.PR_SET_DUMPABLE, 0)
    job = _serve(sock)
    if job is None:
        sys.exit(0)
    grader.sandbox.child.finish(grader.sandbox.child.run(job.settings, job.args, job.key.encode()))


# --- the grader's side ----------------------------------------------------------------------


class WarmProcess:
    """A run forked by the warm child: the parts of ``subprocess.Popen`` the sandbox uses."""

    def __init__(self, server: _Server, pid: int, stdout_fd: int) -> None:
        self._server = server
        self.pid = pid
        self.stdout = open(stdout_fd, "rb", buffering=0)  # noqa: SIM115 (closed by the sandbox)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """Its exit code once known; raises :class:`WarmLost` if it never will be."""
        with self._server.cond:
            return self._status()

    def wait(self, timeout: float | None = None) -> int:
        with self._server.cond:
            if not self._server.cond.wait_for(lambda: self._status() is not None, timeout):
                raise subprocess.TimeoutExpired(f"warm run {self.pid}", timeout or 0)
            code = self._status()
            assert code is not None
            return code

    def _status(self) -> int | None:
        if self.returncode is None:
            if self.pid in self._server.exits:
                self.returncode = self._server.exits.pop(self.pid)
            elif self._server.gone:
                raise WarmLost("the warm child ended during the run")
        return self.returncode


class _Server:
    """The grader's connection to one warm child."""

    def __init__(self) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            "MALLOC_ARENA_MAX": "2",
            "NO_COLOR": "1",
        }
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-B", "-m", "grader.sandbox.warm", str(theirs.fileno())],
                cwd="/", env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), start_new_session=True,
            )  # fmt: skip
        finally:
            theirs.close()
        self.sock = mine
        self.cond = threading.Condition()
        self.exits: dict[int, int] = {}
        self.replies: dict[int, int] = {}
        self.gone = False
        self._next_id = 0
        self._send_lock = threading.Lock()
        threading.Thread(target=self._listen, name="awaitlings-warm", daemon=True).start()

    def _listen(self) -> None:
        while True:
            try:
                data = self.sock.recv(_MAX_MESSAGE)
            except OSError:
                data = b""
            with self.cond:
                if not data:
                    self.gone = True
                    self.cond.notify_all()
                    return
                message = json.loads(data)
                if "exit" in message:
                    self.exits[int(message["exit"])] = int(message["code"])
                else:
                    self.replies[int(message["id"])] = int(message["pid"])
                self.cond.notify_all()

    def start(self, job: Job, results_fd: int, output_fd: int) -> int:
        """Have the warm child fork ``job``; its pid. Raises :class:`WarmLost`."""
        with self._send_lock:
            self._next_id += 1
            ident = self._next_id
            request = {"id": ident, "settings": job.settings, "args": job.args, "cwd": job.cwd,
                       "env": job.env, "key": job.key}  # fmt: skip
            try:
                socket.send_fds(self.sock, [json.dumps(request).encode()], [results_fd, output_fd])
            except OSError as exc:
                raise WarmLost(f"the warm child is gone: {exc}") from exc
        with self.cond:
            self.cond.wait_for(lambda: ident in self.replies or self.gone, timeout=30)
            if ident not in self.replies:
                raise WarmLost("the warm child did not answer")
            return self.replies.pop(ident)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


_server: _Server | None = None
_server_lock = threading.Lock()


def available() -> str | None:
    """None if runs may fork from a warm child here, else why not (``grade doctor``)."""
    if os.environ.get(SWITCH, "1") == "0":
        return f"turned off ({SWITCH}=0)"
    if not sys.platform.startswith("linux"):
        return "not on Linux (the warm child relies on Linux's process model)"
    if not hasattr(socket, "send_fds"):
        return "this Python cannot pass file descriptors over a socket"
    return None


def server(register: Any = None) -> _Server | None:
    """The warm child of this grader process, started on first use; None if unavailable.

    ``register(pid)`` is called with its pid while the lock is held (the sandbox records
    it among its own children, so no sweep takes it for an orphan).
    """
    global _server
    if available() is not None:
        return None
    with _server_lock:
        if _server is None or _server.gone or _server.proc.poll() is not None:
            if _server is not None:
                _server.close()
            _server = _Server()
            if register is not None:
                register(_server.proc.pid)
        return _server


def pid() -> int | None:
    """The warm child's pid, if one is running."""
    current = _server
    return current.proc.pid if current is not None and not current.gone else None


def shutdown() -> None:
    """End the warm child (it also ends by itself when this process does)."""
    global _server
    with _server_lock:
        if _server is not None:
            _server.close()
            _server = None


if __name__ == "__main__":
    main()
