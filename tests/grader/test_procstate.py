"""grader.procstate reads what real processes are blocked in, from /proc."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from grader import procstate

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")

#: A backstop only: each child reaches its wait in milliseconds.
BOUND_S = 20.0


@contextmanager
def child(code: str, *, stdin: int = subprocess.PIPE) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``code`` in a Python child that prints ``ready`` once set up."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdin=stdin, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        yield proc
    finally:
        proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


def settled(pid: int, until: Callable[[procstate.ProcessState], bool]) -> procstate.ProcessState:
    """Poll ``pid`` until its state satisfies ``until`` (it gets there in milliseconds)."""
    deadline = time.monotonic() + BOUND_S
    while True:
        state = procstate.process_state(pid)
        if state is not None and until(state):
            return state
        assert time.monotonic() < deadline, f"never settled: {state}"
        time.sleep(0.005)


def main_in(*calls: str) -> Callable[[procstate.ProcessState], bool]:
    return lambda s: s.main is not None and s.main.asleep and s.main.syscall in calls


class TestBlockedCalls:
    """The main thread's blocking call is named, with the descriptor it waits on."""

    def test_input_is_a_read_on_the_stdin_pipe(self) -> None:
        with child("print('ready', flush=True); input()") as proc:
            state = settled(proc.pid, main_in("read"))
            assert state.main is not None and state.main.fd == 0
            assert (
                procstate.inode_of(procstate.fd_target(proc.pid, 0), "pipe")
                == os.fstat(
                    proc.stdin.fileno()  # type: ignore[union-attr]
                ).st_ino
            )

    def test_time_sleep_is_a_sleep(self) -> None:
        with child("import time; print('ready', flush=True); time.sleep(60)") as proc:
            state = settled(proc.pid, main_in("clock_nanosleep", "nanosleep"))
            assert state.main is not None and state.main.fd is None

    def test_threads_are_listed_main_first(self) -> None:
        code = """
            import threading, sys
            threading.Thread(target=sys.stdin.readline, daemon=True).start()
            print('ready', flush=True)
            threading.Event().wait()
        """
        with child(code) as proc:
            state = settled(
                proc.pid,
                lambda s: main_in("futex")(s) and any(t.syscall == "read" and t.fd == 0 for t in s.others),
            )
            assert state.threads[0].tid == proc.pid

    def test_an_idle_thread_stays_idle_and_a_spinning_one_moves(self) -> None:
        code = """
            import threading
            def spin():
                while True:
                    pass
            threading.Thread(target=spin, daemon=True).start()
            print('ready', flush=True)
            threading.Event().wait()
        """
        with child(code) as proc:
            first = settled(proc.pid, main_in("futex"))
            # Two samples an interval apart: the idle main thread has not moved between them,
            # the spinner has. On a loaded machine the main thread may first be seen waiting
            # for the GIL (a futex too) and the spinner may not run for a while: sample again
            # from the later state (bounded), rather than betting on one fixed interval.
            deadline = time.monotonic() + 20
            while True:
                time.sleep(0.05)
                second = procstate.process_state(proc.pid)
                assert second is not None and second.main is not None and first.main is not None
                before = {t.tid: t.cpu_ns or 0 for t in first.others}
                moved = any((t.cpu_ns or 0) > before[t.tid] for t in second.others if t.tid in before)
                if moved and second.main.same_wait(first.main):
                    break
                assert time.monotonic() < deadline, f"no idle main and moving spinner: {first} then {second}"
                first = second
            assert not second.idle_since(first)


class TestSockets:
    """A TCP socket's unread bytes and state are read from the process's own view."""

    def test_epoll_with_unread_bytes_in_the_socket(self) -> None:
        server = socket.create_server(("127.0.0.1", 0))
        code = f"""
            import asyncio, socket
            async def main():
                reader, writer = await asyncio.open_connection("127.0.0.1", {server.getsockname()[1]})
                writer.transport.pause_reading()  # the loop stops reading: bytes stay queued
                print('ready', flush=True)
                await asyncio.Event().wait()
            asyncio.run(main())
        """
        with server, child(code) as proc:
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"x" * 42)
                state = settled(proc.pid, main_in("epoll_wait", "epoll_pwait", "epoll_pwait2"))
                assert state.main is not None and state.main.fd is not None
                deadline = time.monotonic() + BOUND_S
                while (socks := procstate.tcp_sockets(proc.pid)) and socks[0].rx_queue < 42:
                    assert time.monotonic() < deadline
                    time.sleep(0.005)
                assert socks is not None and len(socks) == 1
                assert (socks[0].rx_queue, socks[0].state) == (42, "ESTABLISHED")
                assert socks[0].remote_port == server.getsockname()[1]
                conn.shutdown(socket.SHUT_WR)

                def peer_closed(_: procstate.ProcessState) -> bool:
                    socks = procstate.tcp_sockets(proc.pid)
                    return bool(socks) and socks[0].state == "CLOSE_WAIT"  # type: ignore[index]

                settled(proc.pid, peer_closed)


class TestTcpConnection:
    """Both ends of a connection, whichever process holds them."""

    def test_both_ends_with_their_queues(self) -> None:
        server = socket.create_server(("127.0.0.1", 0))
        with server, socket.create_connection(server.getsockname()) as client:
            conn, _ = server.accept()
            with conn:
                client.sendall(b"x" * 1000)
                port, peer_port = client.getsockname()[1], server.getsockname()[1]
                deadline = time.monotonic() + BOUND_S
                while True:
                    found = procstate.tcp_connection(port, peer_port)
                    assert found is not None
                    mine, theirs = found
                    assert mine is not None and theirs is not None
                    if theirs.rx_queue == 1000 and mine.tx_queue == 0:
                        break
                    assert time.monotonic() < deadline
                    time.sleep(0.005)
                assert (mine.local_port, mine.remote_port) == (port, peer_port)
                assert (theirs.local_port, theirs.remote_port) == (peer_port, port)
                assert mine.rx_queue == 0 and mine.state == theirs.state == "ESTABLISHED"
                conn.recv(1000)
                found = procstate.tcp_connection(port, peer_port)
                assert found is not None and found[1] is not None and found[1].rx_queue == 0

    def test_an_end_not_found(self) -> None:
        with socket.create_server(("127.0.0.1", 0)) as server:
            assert procstate.tcp_connection(server.getsockname()[1], 1) == (None, None)


class TestDegradesGracefully:
    """What cannot be read is None, never an exception."""

    def test_a_process_that_is_gone(self) -> None:
        proc = subprocess.Popen([sys.executable, "-c", "pass"])
        proc.wait()
        assert procstate.process_state(proc.pid) is None
        assert procstate.thread_state(proc.pid, proc.pid) is None
        assert procstate.fd_target(proc.pid, 0) is None
        assert procstate.tcp_sockets(proc.pid) is None

    def test_no_tcp_tables(self, monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]) -> None:
        monkeypatch.setattr(procstate, "_PROC", str(tmp_path))
        assert procstate.tcp_connection(1, 2) is None

    def test_unreadable_proc_files(self, monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]) -> None:
        fake = os.path.join(tmp_path, "1", "task", "1")
        os.makedirs(fake)
        with open(os.path.join(fake, "stat"), "w") as f:
            f.write("1 (a b) S 0")
        monkeypatch.setattr(procstate, "_PROC", str(tmp_path))
        state = procstate.process_state(1)
        assert state is not None and state.main is not None
        assert (state.main.state, state.main.syscall, state.main.cpu_ns, state.main.switches) == ("S", None, None, None)
        assert not state.main.same_wait(state.main)  # unknown progress is never "idle"

    def test_names_and_inodes(self) -> None:
        assert procstate.syscall_name(0, "x86_64") == "read"
        assert procstate.syscall_name(63, "aarch64") == "read"
        assert procstate.syscall_name(9999, "x86_64") == "syscall 9999"
        assert procstate.inode_of("pipe:[123]", "pipe") == 123
        assert procstate.inode_of("socket:[9]", "pipe") is None
        assert procstate.inode_of(None, "socket") is None


class TestTcpMotion:
    """The kernel's byte counts for both ends of a connection (socket diagnostics)."""

    @staticmethod
    def pair(family: int = socket.AF_INET) -> tuple[socket.socket, socket.socket, socket.socket]:
        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        server = socket.create_server((host, 0), family=family)
        client = socket.create_connection(server.getsockname()[:2])
        conn, _ = server.accept()
        return server, client, conn

    @staticmethod
    def ends(sock: socket.socket) -> tuple[procstate.TcpEnd | None, procstate.TcpEnd | None]:
        found = procstate.tcp_ends([(sock.getsockname()[:2], sock.getpeername()[:2])])
        assert found is not None, "this kernel gives no socket diagnostics"
        return found[0]

    @pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
    def test_both_ends_count_what_was_sent_and_received(self, family: int) -> None:
        if family == socket.AF_INET6 and not socket.has_ipv6:
            pytest.skip("no IPv6")
        server, client, conn = self.pair(family)
        with server, client, conn:
            client.sendall(b"x" * 1000)
            conn.sendall(b"y" * 10)
            mine, theirs = self.ends(client)
            assert mine is not None and theirs is not None
            assert (mine.local, mine.remote) == (client.getsockname()[:2], client.getpeername()[:2])
            assert (theirs.local, theirs.remote) == (mine.remote, mine.local)
            # On loopback a small send is delivered within the call: nothing moves.
            assert (mine.sent, theirs.received, theirs.rx_queue) == (1000, 1000, 1000)
            assert (theirs.sent, mine.received, mine.rx_queue) == (10, 10, 10)
            assert procstate.tcp_motion([(client.getsockname()[:2], client.getpeername()[:2])]) == 0
            conn.recv(1000)
            assert self.ends(client)[1].rx_queue == 0  # type: ignore[union-attr]

    def test_bytes_held_because_the_receiver_does_not_read_are_not_moving(self) -> None:
        server, client, conn = self.pair()
        with server, client, conn:
            client.setblocking(False)
            written = 0
            with pytest.raises(BlockingIOError):
                while True:
                    written += client.send(b"z" * 65536)
            mine, theirs = self.ends(client)
            assert mine is not None and theirs is not None
            assert mine.sent + mine.not_sent == written and theirs.rx_queue > 0
            assert procstate.tcp_motion([(client.getsockname(), client.getpeername())]) == 0

    def test_what_counts_as_moving(self) -> None:
        a, b = ("127.0.0.1", 1), ("127.0.0.1", 2)
        sender = procstate.TcpEnd(a, b, rx_queue=0, sent=5000, received=0, not_sent=300)
        on_the_way = procstate.TcpEnd(b, a, rx_queue=0, sent=0, received=3000, not_sent=0)
        assert procstate._motion([(sender, on_the_way)]) == 2000 + 300  # read all: an ack is due
        unread = procstate.TcpEnd(b, a, rx_queue=5000, sent=0, received=5000, not_sent=0)
        assert procstate._motion([(sender, unread)]) == 0  # held: the receiver does not read
        closed = procstate.TcpEnd(b, a, rx_queue=0, sent=0, received=5001, not_sent=0)
        assert procstate._motion([(procstate.TcpEnd(a, b, 0, 5000, 0, 0), closed)]) == 0  # FIN counts one
        assert procstate._motion([(sender, None), (None, None)]) == 0
        # A receiver that leaves bytes unread closed its window: a segment sent beyond it
        # (a window probe's) waits unacknowledged for as long, and is not on its way.
        full = procstate.TcpEnd(b, a, rx_queue=61440, sent=0, received=4000, not_sent=0)
        assert procstate._motion([(procstate.TcpEnd(a, b, 0, 5000, 0, 0), full)]) == 0

    def test_the_timer_that_sends_the_rest(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """What a look says of the kernel's next retransmission or window probe: only on an
        end that holds bytes for a receiver that has read everything, and that does not
        leave unread what that receiver sends it."""
        a, b = ("127.0.0.1", 1), ("127.0.0.1", 2)
        probing = procstate.TcpEnd(a, b, 0, 5000, 5000, 64000, timer=4, timer_due_ms=1600)
        reading = procstate.TcpEnd(b, a, 0, 0, 5000, 0)
        not_reading = procstate.TcpEnd(b, a, 9000, 0, 5000, 0)
        idle = procstate.TcpEnd(a, b, 0, 5000, 5000, 0, timer=2, timer_due_ms=7000)  # a keepalive
        pairs: list[object] = []
        monkeypatch.setattr(procstate, "tcp_ends", lambda _connections: pairs)
        pairs[:] = [(probing, reading)]
        look = procstate.tcp_look([(a, b)])
        assert look is not None and look.moving == 64000 and look.due_s == pytest.approx(1.6)
        pairs[:] = [(reading, probing)]  # either end of the pair may be the one sending
        assert procstate.tcp_look([(a, b)]).due_s == pytest.approx(1.6)  # type: ignore[union-attr]
        pairs[:] = [(probing, not_reading)]
        look = procstate.tcp_look([(a, b)])
        assert look is not None and look.moving == 0 and look.due_s is None
        pairs[:] = [(idle, reading)]
        assert procstate.tcp_look([(a, b)]).due_s is None  # type: ignore[union-attr]
        # A client that sends and never reads, as the kernel showed it (ex04's flood against
        # a line-by-line echo, the clock held for a minute): the server has read everything
        # and retransmits what the client's full buffer drops; the client probes the
        # server's window. Neither timer moves a byte until the client reads.
        flooding = procstate.TcpEnd(a, b, 58383, 354304, 244967, 98223, timer=4, timer_due_ms=1384)
        echoing = procstate.TcpEnd(b, a, 0, 245559, 354304, 63311, timer=1, timer_due_ms=824)
        pairs[:] = [(flooding, echoing)]
        assert procstate.tcp_look([(a, b)]).due_s is None  # type: ignore[union-attr]
        assert procstate.deaf_to(flooding, echoing) and not procstate.deaf_to(echoing, flooding)
        # Once the client reads (figures seen a second later): the server, its handler in
        # drain, leaves what the client sent unread, and the client holds the rest back
        # for the server's closed window (probing it, not sending). The server is not
        # deaf: its retransmission to the client, which reads, sends the rest.
        reading_client = procstate.TcpEnd(a, b, 0, 389120, 221701, 45056, timer=4, timer_due_ms=192)
        paused_server = procstate.TcpEnd(b, a, 59392, 221701, 389120, 63562, timer=1, timer_due_ms=3016)
        assert not procstate.deaf_to(paused_server, reading_client)
        pairs[:] = [(reading_client, paused_server)]
        assert procstate.tcp_look([(a, b)]).due_s == pytest.approx(3.016)  # type: ignore[union-attr]
        # A server that has not read the last bytes while its own wait on a retransmission
        # to a client that reads everything (and sends nothing more): that timer counts.
        unread_server = procstate.TcpEnd(b, a, 4096, 10, 354304, 65536, timer=1, timer_due_ms=1600)
        done_client = procstate.TcpEnd(a, b, 0, 354304, 10, 0)
        pairs[:] = [(done_client, unread_server)]
        assert procstate.tcp_look([(a, b)]).due_s == pytest.approx(1.6)  # type: ignore[union-attr]
        before = procstate.tcp_look([(a, b)])
        pairs[:] = [(idle, procstate.TcpEnd(b, a, 0, 10, 5000, 0))]
        assert procstate.tcp_look([(a, b)]).state != before.state  # type: ignore[union-attr]

    def test_an_end_not_found(self) -> None:
        assert procstate.tcp_ends([(("127.0.0.1", 1), ("127.0.0.1", 2))]) == [(None, None)]


class TestUnixSocketsOfOthers:
    """The kernel's count of the Unix sockets the run's other processes hold (two per event
    loop), where the run has its network namespace to itself."""

    def test_no_private_network_no_count(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(procstate, "PRIVATE_NETWORK", False)
        assert procstate.unix_sockets_of_others() is None

    @pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace of its own needs root here")
    def test_counts_what_other_processes_hold(self) -> None:
        script = textwrap.dedent(
            """
            import ctypes, socket, subprocess, sys
            assert ctypes.CDLL(None, use_errno=True).unshare(0x40000000) == 0  # CLONE_NEWNET
            from grader import procstate
            procstate.PRIVATE_NETWORK = True
            base = procstate.unix_sockets_of_others()
            mine = socket.socketpair()
            assert procstate.unix_sockets_of_others() == base, "its own sockets are not counted"
            child = subprocess.Popen(
                [sys.executable, "-c", "import socket, sys; pairs = [socket.socketpair() for _ in range(2)]; "
                 "print(flush=True); sys.stdin.read()"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            )
            child.stdout.readline()
            print(base, procstate.unix_sockets_of_others())
            child.stdin.close()
            child.wait()
            """
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        base, during = map(int, done.stdout.split())
        assert during == base + 4  # two socket pairs: two event loops' worth


class TestAMainThreadWokenWithItsLoop:
    """What the checker's witness of ex11 reads (grader.split.checker: _settled, _wakes): a
    main thread asleep in its selector wakes when the selector's pipe is written to; one
    held in another wait (a lock, as the learner's thread is held in a call) sleeps on.
    The write stands for the worker's poke (a write to the loop's self-pipe)."""

    CHILD = textwrap.dedent(
        """
        import os, selectors, sys, threading
        read_end = int(sys.argv[2])
        print("ready", flush=True)
        if sys.argv[1] == "selector":
            with selectors.DefaultSelector() as sel:
                sel.register(read_end, selectors.EVENT_READ)
                while True:
                    sel.select()
                    os.read(read_end, 100)
        else:
            held = threading.Lock()
            held.acquire()
            held.acquire()
        """
    )

    @pytest.mark.parametrize(("waits_in", "wakes"), [("selector", True), ("lock", False)])
    def test_woken_or_not(self, waits_in: str, wakes: bool) -> None:
        from grader.split.checker import _settled, _wakes

        read_end, write_end = os.pipe()
        child = subprocess.Popen(
            [sys.executable, "-c", self.CHILD, waits_in, str(read_end)],
            pass_fds=(read_end,),
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            switches = _settled(child.pid, 5.0)
            assert switches is not None and switches >= 0  # asleep in one wait
            os.write(write_end, b"poke")
            assert _wakes(child.pid, switches, 0.5) is wakes
        finally:
            child.kill()
            child.wait()
            os.close(read_end)
            os.close(write_end)

    def test_a_thread_that_keeps_running_never_settles(self) -> None:
        from grader.split.checker import _settled

        child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            assert _settled(child.pid, 0.3) == -1
        finally:
            child.kill()
            child.wait()

    def test_a_process_that_is_gone(self) -> None:
        from grader.split.checker import _settled

        child = subprocess.Popen([sys.executable, "-c", "pass"])
        child.wait()
        assert _settled(child.pid, 0.3) is None
