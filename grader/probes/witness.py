"""The checker's own witness of the learner's event loop while a fake blocks (ex11).

The fakes ``hash_fn`` of exercise 11 block the thread that calls them, so they run in
the worker beside the learner's threads (:mod:`grader.probes.unblock`), and what they see
is the worker's account. A :class:`LoopWitness` is the checker's: the worker's fake
calls it from inside each call of ``hash_fn``, as a plain call that holds the learner's
thread there, and while that thread is held the checker asks the kernel whether the
worker's main thread, which runs the learner's event loop, wakes when its loop is woken
(:meth:`grader.split.checker.Link.main_thread_wakes`). A call of ``hash_fn`` made on the
loop's own thread holds that thread in the call: it sleeps on. A worker that reports a
free loop cannot make the kernel say so while its loop's thread is held.
"""

from __future__ import annotations

from typing import Any

from grader.split import checker


class LoopWitness(checker.HeldCall):
    """Called by the worker's fake as ``witness(request, held)`` from inside ``hash_fn``;
    ``seen`` lists each call's request (as the fake passed it) and verdict: the loop's
    thread woke ("free"), slept on ("held"), the worker's fake said it was held ("said
    held": then nothing is asked of the kernel, as that account can only fail a check),
    or it could not be told ("unknown": no loop running there, the kernel's tables
    unreadable)."""

    def __init__(self) -> None:
        self.seen: list[tuple[object, str]] = []

    async def __call__(self, request: Any = None, held: Any = False) -> None:
        if held is True:
            verdict = "said held"
        else:
            link = checker.current()
            wakes = None if link is None else await link.main_thread_wakes()
            verdict = "unknown" if wakes is None else "free" if wakes else "held"
        self.seen.append((request if type(request) is bytes else repr(request)[:60], verdict))

    def requests(self) -> list[object]:
        return [request for request, _ in self.seen]

    def kernel_only(self) -> bool:
        """The kernel saw the loop's thread held where the worker's fake said it was free."""
        return any(verdict == "held" for _, verdict in self.seen)
