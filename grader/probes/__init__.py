"""Helpers for writing checks: observe concurrency by ordering and counting, never by
wall-clock races. Every public name is re-exported here (``from grader.probes import fail``).

- :mod:`~grader.probes.assertions`: fail a check with a teaching message (:func:`fail`,
  :func:`expect`, type-strict :func:`exact`) and link the Python docs (:func:`docs`).
- :mod:`~grader.probes.concurrency`: :class:`InFlight` counts calls running at once,
  :class:`EventLog` orders events, :class:`BarrierProbe` is a fake that sequential code
  cannot pass.
- :mod:`~grader.probes.blocking`: :func:`detect_blocking`, blockbuster scoped to the
  learner's module; it records every blocking call made on the loop thread, even when the
  learner's ``except Exception`` swallows the error.
- :mod:`~grader.probes.tasks`: the learner's tasks: where they wait, awaiting learner code
  with a bound (:func:`call_learner`, :func:`outcome_of`), cancelling what it leaves
  (:func:`cleaned_up`).
- :mod:`~grader.probes.network`: loopback peers with bounded clean-up (:class:`Client`,
  :func:`peer_server`).
- :mod:`~grader.probes.pools`: :class:`Switchboard`, process-pool work the check orders.

The sandboxed child imports this package before it drops privileges: keep its imports
cheap (blockbuster is imported only when :func:`detect_blocking` runs).
"""

from __future__ import annotations

from grader.probes.assertions import docs, exact, expect, fail, first_difference
from grader.probes.blocking import BlockingCall, detect_blocking, learner_location
from grader.probes.concurrency import BarrierProbe, EventLog, InFlight, settle, wait_event
from grader.probes.network import (
    Client,
    Peer,
    WriterWatch,
    close_writer,
    loopback_server,
    peer_server,
    running_server,
    watch_writer,
)
from grader.probes.pools import Switchboard
from grader.probes.tasks import (
    Outcome,
    call_learner,
    cancel_tasks,
    cleaned_up,
    current_loop,
    expect_finished,
    learner_waiting,
    logged_error,
    new_tasks,
    outcome_of,
    task_stacks,
)

#: Path of the learner's file under test; set by the plugin when it loads the module.
TARGET_FILE: str | None = None

__all__ = [
    "TARGET_FILE",
    "BarrierProbe",
    "BlockingCall",
    "Client",
    "EventLog",
    "InFlight",
    "Outcome",
    "Peer",
    "Switchboard",
    "WriterWatch",
    "call_learner",
    "cancel_tasks",
    "cleaned_up",
    "close_writer",
    "current_loop",
    "detect_blocking",
    "docs",
    "exact",
    "expect",
    "expect_finished",
    "fail",
    "first_difference",
    "learner_location",
    "learner_waiting",
    "logged_error",
    "loopback_server",
    "new_tasks",
    "outcome_of",
    "peer_server",
    "running_server",
    "settle",
    "task_stacks",
    "wait_event",
    "watch_writer",
]
