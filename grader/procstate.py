"""What a process is doing right now, read from Linux's ``/proc``: evidence for checks.

A check that runs the learner's program as a subprocess can wait for its output, but a
program that never prints leaves it waiting out a bound. This module answers "why not?"
at once, the way ``ps``, ``strace -p`` and ``ss`` would:

- :func:`process_state`: for every thread of a process, its scheduler state (``R``
  running, ``S`` asleep...), the system call it is blocked in (``read``,
  ``epoll_wait``, ``futex``...) with the file descriptor it waits on, its CPU time and
  context switches (so "asleep and not moving" and "spinning" can be told apart), and
  the kernel's ``wchan`` as a hint;
- :func:`fd_target`: what a descriptor is (``pipe:[123]``, ``socket:[456]``, a path);
- :func:`tcp_sockets`: a process's TCP sockets, each with its state and receive queue
  (bytes the peer sent that the program has not read yet);
- :func:`tcp_connection`: both ends of one TCP connection on this machine, whichever
  process holds them (the kernel's account of what each end holds unread or unsent);
- :func:`tcp_motion`: whether the kernel still moves bytes between the two ends of
  given connections (sent by one, not yet received by the other, or held by the sender
  while the receiver has read everything), from its socket diagnostics
  (``NETLINK_SOCK_DIAG``, what ``ss -i`` reads); :func:`tcp_look` adds what changed
  and when the kernel's next retransmission or window probe is due.

Every reader degrades gracefully: a file that is missing or unreadable (another kernel,
no permission, the process just exited) gives ``None`` or leaves the field ``None``,
never an exception. On anything but Linux, everything is ``None``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import platform
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass

#: System call numbers worth naming, per machine (``uname -m``). Calls that take a file
#: descriptor as their first argument are listed in ``FD_CALLS``.
SYSCALLS: dict[str, dict[int, str]] = {
    "x86_64": {
        0: "read", 1: "write", 7: "poll", 19: "readv", 23: "select", 34: "pause",
        35: "nanosleep", 42: "connect", 43: "accept", 44: "sendto", 45: "recvfrom",
        47: "recvmsg", 61: "wait4", 128: "rt_sigtimedwait", 202: "futex",
        230: "clock_nanosleep", 232: "epoll_wait", 247: "waitid", 270: "pselect6",
        271: "ppoll", 281: "epoll_pwait", 288: "accept4", 441: "epoll_pwait2",
        449: "futex_waitv",
    },
    "aarch64": {
        22: "epoll_pwait", 63: "read", 64: "write", 65: "readv", 72: "pselect6",
        73: "ppoll", 95: "waitid", 98: "futex", 101: "nanosleep", 115: "clock_nanosleep",
        137: "rt_sigtimedwait", 202: "accept", 203: "connect", 206: "sendto",
        207: "recvfrom", 212: "recvmsg", 242: "accept4", 260: "wait4",
        441: "epoll_pwait2", 449: "futex_waitv",
    },
}  # fmt: skip
SYSCALLS["arm64"] = SYSCALLS["aarch64"]

FD_CALLS = frozenset(
    {"read", "readv", "write", "recvfrom", "recvmsg", "sendto", "accept", "accept4",
     "connect", "epoll_wait", "epoll_pwait", "epoll_pwait2"}
)  # fmt: skip

#: Calls a program sits in while it waits for an event loop's next event.
EVENT_WAITS = frozenset({"epoll_wait", "epoll_pwait", "epoll_pwait2", "select", "pselect6", "poll", "ppoll"})

#: ``st`` column of ``/proc/net/tcp``.
TCP_STATES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
    6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING",
}  # fmt: skip

_PROC = "/proc"
_TICK_NS = 1_000_000_000 // (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)


@dataclass(frozen=True)
class ThreadState:
    """One thread at one moment. ``None`` fields could not be read."""

    tid: int
    #: ``R`` running or runnable, ``S`` asleep, ``D`` uninterruptible, ``Z`` zombie...
    state: str
    #: The system call it is blocked in (``"read"``; ``"syscall 99"`` when unnamed), or
    #: ``"running"`` when it is on a CPU, not in a call.
    syscall: str | None
    #: The call's first argument when it is a file descriptor.
    fd: int | None
    #: Time spent on a CPU, in nanoseconds.
    cpu_ns: int | None
    #: Voluntary plus involuntary context switches: unchanged means it has not run.
    switches: int | None
    #: The kernel function it sleeps in (a hint: ``do_epoll_wait``, ``pipe_read``).
    wchan: str | None
    #: In ``epoll_wait``/``epoll_pwait`` or ``poll``: the timeout it waits with, in
    #: milliseconds (-1: until something happens; None: not such a wait, or unreadable).
    timeout_ms: int | None = None

    @property
    def asleep(self) -> bool:
        return self.state in ("S", "D")

    def same_wait(self, other: ThreadState) -> bool:
        """Both asleep in the same call on the same descriptor, with no CPU time or
        context switch in between (it has not woken up at all)."""
        return (
            self.asleep
            and other.asleep
            and self.syscall == other.syscall
            and self.fd == other.fd
            and self.switches is not None
            and self.switches == other.switches
            and self.cpu_ns == other.cpu_ns
        )


@dataclass(frozen=True)
class ProcessState:
    """Every thread of a process at (about) one moment; the main thread first."""

    pid: int
    threads: tuple[ThreadState, ...]

    @property
    def main(self) -> ThreadState | None:
        return next((t for t in self.threads if t.tid == self.pid), None)

    @property
    def others(self) -> tuple[ThreadState, ...]:
        return tuple(t for t in self.threads if t.tid != self.pid)

    def idle_since(self, earlier: ProcessState) -> bool:
        """Every thread is asleep in the wait it was in at ``earlier``, not having run."""
        before = {t.tid: t for t in earlier.threads}
        return bool(self.threads) and all(t.tid in before and t.same_wait(before[t.tid]) for t in self.threads)


@dataclass(frozen=True)
class TcpSocket:
    """One TCP socket, from ``/proc/PID/net/tcp`` or ``tcp6``."""

    inode: int
    state: str  # "ESTABLISHED", "CLOSE_WAIT" (the peer closed, we have not)...
    rx_queue: int  # bytes received that the program has not read
    tx_queue: int  # bytes sent that the peer has not acknowledged
    local_port: int
    remote_port: int


def process_state(pid: int) -> ProcessState | None:
    """All threads of ``pid`` as they are now; ``None`` if it cannot be read (gone)."""
    try:
        tids = sorted(int(name) for name in os.listdir(f"{_PROC}/{pid}/task"))
    except (OSError, ValueError):
        return None
    threads = []
    for tid in sorted(tids, key=lambda t: t != pid):
        state = thread_state(pid, tid)
        if state is not None:
            threads.append(state)
    return ProcessState(pid, tuple(threads)) if threads else None


def thread_state(pid: int, tid: int) -> ThreadState | None:
    """One thread of ``pid`` (``tid == pid`` is the main thread); ``None`` if gone."""
    base = f"{_PROC}/{pid}/task/{tid}"
    stat = _read(f"{base}/stat")
    if stat is None or ")" not in stat:
        return None
    # The command name is in parentheses and may hold spaces: split after the last ")".
    fields = stat.rsplit(")", 1)[1].split()
    state = fields[0] if fields else "?"
    cpu_ns = _schedstat_ns(base)
    if cpu_ns is None and len(fields) > 12 and fields[11].isdigit() and fields[12].isdigit():
        cpu_ns = (int(fields[11]) + int(fields[12])) * _TICK_NS  # utime + stime, in ticks
    syscall, fd, timeout_ms = _syscall(base)
    wchan = _read(f"{base}/wchan")
    return ThreadState(
        tid=tid,
        state=state,
        syscall=syscall,
        fd=fd,
        cpu_ns=cpu_ns,
        switches=_switches(base),
        wchan=wchan.strip() if wchan and wchan.strip() not in ("", "0") else None,
        timeout_ms=timeout_ms,
    )


def thread_run_state(pid: int, tid: int) -> tuple[str, int] | None:
    """A quick look at one thread: its state (``R`` running or runnable, ``S`` asleep...)
    and its context switches (voluntary and not); ``None`` if gone or unreadable. Cheap
    enough to poll (two small reads)."""
    base = f"{_PROC}/{pid}/task/{tid}"
    stat = _read(f"{base}/stat")
    if stat is None or ")" not in stat:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    switches = _switches(base)
    if not fields or switches is None:
        return None
    return fields[0], switches


def fd_target(pid: int, fd: int) -> str | None:
    """What descriptor ``fd`` of ``pid`` is: ``pipe:[123]``, ``socket:[456]``, a path."""
    try:
        return os.readlink(f"{_PROC}/{pid}/fd/{fd}")
    except OSError:
        return None


def inode_of(target: str | None, kind: str) -> int | None:
    """The inode in ``kind:[inode]`` (``kind`` is ``"pipe"`` or ``"socket"``)."""
    prefix = f"{kind}:["
    if target is None or not target.startswith(prefix) or not target.endswith("]"):
        return None
    number = target[len(prefix) : -1]
    return int(number) if number.isdigit() else None


def tcp_sockets(pid: int) -> list[TcpSocket] | None:
    """The TCP sockets ``pid`` holds open (IPv4 and IPv6), as its network namespace sees
    them; ``None`` if its descriptors cannot be listed."""
    try:
        names = os.listdir(f"{_PROC}/{pid}/fd")
    except OSError:
        return None
    mine = {inode_of(fd_target(pid, int(n)), "socket") for n in names if n.isdigit()}
    mine.discard(None)
    if not mine:
        return []
    found = []
    for table in ("tcp", "tcp6"):
        text = _read(f"{_PROC}/{pid}/net/{table}")
        for line in (text or "").splitlines()[1:]:
            sock = _parse_tcp_line(line)
            if sock is not None and sock.inode in mine:
                found.append(sock)
    return found


def tcp_connection(port: int, peer_port: int) -> tuple[TcpSocket | None, TcpSocket | None] | None:
    """Both ends of the TCP connection between local ports ``port`` and ``peer_port`` as
    this process's network namespace sees them: ``(the end bound to port, the end bound
    to peer_port)``, either ``None`` when not found (closed, or in TIME_WAIT); ``None``
    if the tables cannot be read."""
    mine: TcpSocket | None = None
    theirs: TcpSocket | None = None
    read_any = False
    for table in ("tcp", "tcp6"):
        text = _read(f"{_PROC}/self/net/{table}")
        if text is None:
            continue
        read_any = True
        for line in text.splitlines()[1:]:
            sock = _parse_tcp_line(line)
            if sock is None or sock.state == "TIME_WAIT":
                continue
            if (sock.local_port, sock.remote_port) == (port, peer_port):
                mine = sock
            elif (sock.local_port, sock.remote_port) == (peer_port, port):
                theirs = sock
    return (mine, theirs) if read_any else None


@dataclass(frozen=True)
class TcpEnd:
    """One end of a TCP connection as the kernel's socket diagnostics report it."""

    local: tuple[str, int]
    remote: tuple[str, int]
    #: Bytes received that the program has not read.
    rx_queue: int
    #: Data bytes sent, counted once (retransmissions taken off).
    sent: int
    #: Data bytes received (counts the peer's end of file as one more).
    received: int
    #: Bytes written by the program that the kernel has not sent yet.
    not_sent: int
    #: The kernel's timer running on this end (``inet_diag_msg.idiag_timer``: 1 a
    #: retransmission, 4 a zero-window probe, 0 none...), and in how many ms it fires.
    timer: int = 0
    timer_due_ms: int = 0


#: ``idiag_timer`` values of the timers that send bytes: a retransmission, a window probe.
_SENDING_TIMERS = (1, 4)


@dataclass(frozen=True)
class TcpMotion:
    """The kernel's account of the bytes still moving between connected ends."""

    #: Bytes on their way (see :func:`tcp_motion`).
    moving: int
    #: What every end has sent, received, left unread and not sent yet: a look whose
    #: state differs from the last one's saw the kernel make progress in between.
    state: tuple[tuple[int, int, int, int], ...]
    #: Seconds until the first retransmission or window-probe timer fires on an end that
    #: holds bytes for a receiver that has read everything, and is not itself leaving
    #: unread what that receiver sends it (what sends them next when no acknowledgement
    #: will: its peer's window was closed, or a segment was lost); ``None`` if no such
    #: timer runs.
    due_s: float | None


#: Set by the sandbox's child when the run has a network namespace of its own: then
#: every socket the kernel lists in it is the run's (:func:`unix_sockets_of_others`).
PRIVATE_NETWORK = False


def unix_sockets_of_others() -> int | None:
    """How many Unix sockets exist in this network namespace (``/proc/net/unix``) that
    this process does not hold; None unless the run has the namespace to itself
    (elsewhere the count is the machine's). Each asyncio event loop holds two (its
    self-pipe), so the count follows how many loops the run's other processes hold,
    whatever they say."""
    if not PRIVATE_NETWORK:
        return None
    text = _read("/proc/net/unix")
    if text is None:
        return None
    inodes = {fields[6] for fields in (line.split() for line in text.splitlines()[1:]) if len(fields) >= 7}
    mine = 0
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/self/fd/{name}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    mine += 1
    return len(inodes) - mine


def tcp_ends(
    connections: Iterable[tuple[tuple[str, int], tuple[str, int]]],
) -> list[tuple[TcpEnd | None, TcpEnd | None]] | None:
    """For each connection, given as ``(local, remote)`` addresses of one of its ends,
    both ends as the kernel's socket diagnostics see them in this network namespace:
    ``(that end, its peer)``, either ``None`` when not found (closed, or a peer on
    another machine). ``None`` where the kernel cannot tell (not Linux, no socket
    diagnostics, or a kernel older than 4.19, whose counts lack what was sent).

    Each end is looked up by its address, never by listing every socket: a listing walks
    the kernel's whole connection table, milliseconds on a large machine."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG)
    except (OSError, AttributeError):
        return None
    found: list[tuple[TcpEnd | None, TcpEnd | None]] = []
    with sock:
        sock.settimeout(1.0)
        try:
            for local, remote in connections:
                found.append((_diag_one(sock, local, remote), _diag_one(sock, remote, local)))
        except _CannotTell:
            return None
    return found


def tcp_look(connections: Iterable[tuple[tuple[str, int], tuple[str, int]]]) -> TcpMotion | None:
    """:func:`tcp_motion` with what the kernel last did and will do next (:class:`TcpMotion`);
    ``None`` if the kernel cannot tell."""
    pairs = tcp_ends(connections)
    if pairs is None:
        return None
    ends = [end for pair in pairs for end in pair if end is not None]
    due: float | None = None
    for one, other in pairs:
        if one is None or other is None:
            continue
        for sender, receiver in ((one, other), (other, one)):
            # A sender deaf to its receiver only retries, its timer's backoff growing to
            # minutes, until it reads (seen: a client flooding a server it never read
            # from, both ends' timers backing off for a minute while nothing moved).
            if (
                holds_for(sender, receiver)
                and receiver.rx_queue == 0
                and not deaf_to(sender, receiver)
                and sender.timer in _SENDING_TIMERS
            ):
                fires = sender.timer_due_ms / 1000
                due = fires if due is None else min(due, fires)
    state = tuple((e.sent, e.received, e.rx_queue, e.not_sent) for e in ends)
    return TcpMotion(_motion(pairs), state, due)


def holds_for(sender: TcpEnd, receiver: TcpEnd) -> bool:
    """``sender`` still has bytes for ``receiver``: not sent yet, or sent and not arrived."""
    return sender.not_sent > 0 or sender.sent > receiver.received


def deaf_to(end: TcpEnd, peer: TcpEnd) -> bool:
    """``end`` leaves bytes unread while bytes ``peer`` sent it have not arrived: its
    buffer full, it drops what ``peer`` sends, the acknowledgements and window updates
    riding on it included, so it learns nothing of ``peer`` (what it sent is never
    acknowledged, a window that reopened stays closed for it) until it reads. Bytes
    ``peer`` holds back unsent for a closed window are not such: probing it, ``peer``
    sends none, and the answers carry what ``end`` says."""
    return end.rx_queue > 0 and peer.sent > end.received


def tcp_motion(connections: Iterable[tuple[tuple[str, int], tuple[str, int]]]) -> int | None:
    """Bytes the kernel is still moving between the two ends of these connections (see
    :func:`tcp_ends`), both ways: sent by one end and not yet received by the other (on
    loopback they wait in a queue that the kernel empties in its own time, later on a
    loaded machine), plus bytes a sender still holds while its receiver has read
    everything (what holds them is an acknowledgement on its way). ``0``: every byte is
    either delivered or held because its receiver does not read. Bytes sent to a
    receiver that has not read what it holds are not moving either: with its window
    closed, it drops what arrives beyond it (a sender probing a closed window keeps such
    a segment unacknowledged for as long as the receiver does not read). ``None`` if the
    kernel cannot tell."""
    pairs = tcp_ends(connections)
    return None if pairs is None else _motion(pairs)


def _motion(pairs: list[tuple[TcpEnd | None, TcpEnd | None]]) -> int:
    moving = 0
    for one, other in pairs:
        if one is None or other is None:
            continue
        for sender, receiver in ((one, other), (other, one)):
            if receiver.rx_queue == 0:
                moving += max(sender.sent - receiver.received, 0) + sender.not_sent
    return moving


def syscall_name(number: int, machine: str | None = None) -> str:
    """``"read"`` for 0 on x86_64; ``"syscall N"`` for a number not in the table."""
    table = SYSCALLS.get(machine or platform.machine(), {})
    return table.get(number, f"syscall {number}")


# --- private helpers --------------------------------------------------------------------


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            return file.read()
    except OSError:
        return None


#: Calls whose timeout in milliseconds is an argument, and which one (0-based).
_TIMEOUT_ARG = {"epoll_wait": 3, "epoll_pwait": 3, "poll": 2}


def _syscall(base: str) -> tuple[str | None, int | None, int | None]:
    """``/proc/.../syscall``: ``NR arg1 ... arg6 sp pc``, ``running``, or ``-1 sp pc``:
    the call's name, its file descriptor and its timeout in ms, where it has them."""
    text = _read(f"{base}/syscall")
    words = text.split() if text else []
    if not words:
        return None, None, None
    if words[0] == "running":
        return "running", None, None
    try:
        number = int(words[0])
    except ValueError:
        return None, None, None
    if number < 0:
        return None, None, None  # blocked, but not in a system call
    name = syscall_name(number)
    fd = None
    if name in FD_CALLS and len(words) > 1:
        try:
            fd = int(words[1], 16)
        except ValueError:
            fd = None
    timeout = None
    index = _TIMEOUT_ARG.get(name)
    if index is not None and len(words) > index + 1:
        try:
            raw = int(words[index + 1], 16) & 0xFFFFFFFF  # an int: the low 32 bits, signed
            timeout = raw - (1 << 32) if raw >= 1 << 31 else raw
        except ValueError:
            timeout = None
    return name, fd, timeout


def _schedstat_ns(base: str) -> int | None:
    text = _read(f"{base}/schedstat")
    first = text.split()[0] if text and text.split() else ""
    return int(first) if first.isdigit() else None


def _switches(base: str) -> int | None:
    text = _read(f"{base}/status")
    if text is None:
        return None
    total, seen = 0, 0
    for line in text.splitlines():
        if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
            value = line.split(":", 1)[1].strip()
            if value.isdigit():
                total += int(value)
                seen += 1
    return total if seen == 2 else None


def _parse_tcp_line(line: str) -> TcpSocket | None:
    """``sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`` (hex fields)."""
    words = line.split()
    try:
        local, remote, st, queues, inode = words[1], words[2], words[3], words[4], words[9]
        tx, rx = queues.split(":")
        return TcpSocket(
            inode=int(inode),
            state=TCP_STATES.get(int(st, 16), st),
            rx_queue=int(rx, 16),
            tx_queue=int(tx, 16),
            local_port=int(local.rsplit(":", 1)[1], 16),
            remote_port=int(remote.rsplit(":", 1)[1], 16),
        )
    except (IndexError, ValueError):
        return None


# --- socket diagnostics (NETLINK_SOCK_DIAG) ---------------------------------------------

_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 0x1
_NLMSG_ERROR = 2
_INET_DIAG_INFO = 2
#: Every TCP state that can still carry data either way (not LISTEN, SYN_*, TIME_WAIT, CLOSE).
_DATA_STATES = sum(1 << state for state in (1, 4, 5, 8, 9, 11))
_NLMSG = struct.Struct("=IHHII")
#: inet_diag_req_v2: family, protocol, extensions, pad, states (the sockid follows).
_REQUEST = struct.Struct("=BBBxI")
#: The sockid's interface (any) and cookie (none: look the socket up by its addresses).
_NO_COOKIE = struct.pack("=III", 0, 0xFFFFFFFF, 0xFFFFFFFF)
#: inet_diag_msg: family, state, timer, retrans; sockid (ports big-endian, two 16-byte
#: addresses, interface, cookie); expires, rqueue, wqueue, uid, inode.
_MESSAGE = struct.Struct("=BBBB2H16s16sI8xIIIII")
_RTATTR = struct.Struct("=HH")
#: Offsets in ``struct tcp_info`` (include/uapi/linux/tcp.h): tcpi_bytes_received,
#: tcpi_notsent_bytes, tcpi_bytes_sent and tcpi_bytes_retrans (the last two since 4.19).
_INFO_RECEIVED, _INFO_NOTSENT, _INFO_SENT, _INFO_RETRANS = 128, 144, 200, 208
_INFO_NEEDED = _INFO_RETRANS + 8


class _CannotTell(Exception):
    """The kernel's socket diagnostics cannot answer (none here, or too old)."""


def _diag_one(sock: socket.socket, local: tuple[str, int], remote: tuple[str, int]) -> TcpEnd | None:
    """The end bound to ``local`` and connected to ``remote``; ``None`` if there is none."""
    family = socket.AF_INET6 if ":" in local[0] else socket.AF_INET
    try:
        sockid = (
            struct.pack("!HH", local[1], remote[1])
            + socket.inet_pton(family, local[0]).ljust(16, b"\0")
            + socket.inet_pton(family, remote[0]).ljust(16, b"\0")
            + _NO_COOKIE
        )
        request = _REQUEST.pack(family, socket.IPPROTO_TCP, 1 << (_INET_DIAG_INFO - 1), _DATA_STATES) + sockid
        sock.send(_NLMSG.pack(_NLMSG.size + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0) + request)
        data = sock.recv(1 << 16)
    except (OSError, ValueError) as exc:
        raise _CannotTell from exc
    if len(data) < _NLMSG.size + 4:
        raise _CannotTell
    length, kind, _, _, _ = _NLMSG.unpack_from(data)
    if kind == _NLMSG_ERROR:
        (error,) = struct.unpack_from("=i", data, _NLMSG.size)
        if -error == errno.ENOENT:
            return None
        raise _CannotTell
    return _parse_diag(family, data[_NLMSG.size : length])


def _parse_diag(family: int, body: bytes) -> TcpEnd | None:
    """One socket's message: its end, or ``None`` if it has no counts (closing meanwhile).
    Raises :class:`_CannotTell` when the kernel's ``tcp_info`` is too old to hold them."""
    if len(body) < _MESSAGE.size:
        return None
    _, _, timer, _, sport, dport, src, dst, _, expires, rqueue, _, _, _ = _MESSAGE.unpack_from(body)
    size = 4 if family == socket.AF_INET else 16
    local = (socket.inet_ntop(family, src[:size]), socket.ntohs(sport))
    remote = (socket.inet_ntop(family, dst[:size]), socket.ntohs(dport))
    offset = _MESSAGE.size
    while offset + _RTATTR.size <= len(body):
        length, kind = _RTATTR.unpack_from(body, offset)
        if length < _RTATTR.size:
            return None
        if kind == _INET_DIAG_INFO:
            info = body[offset + _RTATTR.size : offset + length]
            if len(info) < _INFO_NEEDED:
                raise _CannotTell
            (received,) = struct.unpack_from("=Q", info, _INFO_RECEIVED)
            (not_sent,) = struct.unpack_from("=I", info, _INFO_NOTSENT)
            sent, retrans = struct.unpack_from("=QQ", info, _INFO_SENT)
            return TcpEnd(local, remote, rqueue, sent - retrans, received, not_sent, timer, expires)
        offset += (length + 3) & ~3
    return None
