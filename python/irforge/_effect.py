"""What irforge's streaming effects share (the seed of their common base).

:class:`FairLock` is the lock each effect's ``process()`` holds: calls on one shared effect
from several threads take turns in the order they arrive. A plain ``threading.Lock`` let one
thread starve the others (600 calls from four threads switched threads only 3-11 times): a
thread that releases it and calls again re-acquires before a woken waiter runs.
"""
from __future__ import annotations

import threading


class FairLock:
    """A first-come, first-served (ticket) lock, used as a context manager.

    A thread interrupted while it waits (KeyboardInterrupt, say) gives up its ticket, so it
    cannot block those behind it."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._next = 0       # the next ticket to hand out
        self._serving = 0    # the ticket that may run now
        self._abandoned: set[int] = set()

    def _advance(self) -> None:
        self._serving += 1
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._cond.notify_all()

    def __enter__(self) -> "FairLock":
        with self._cond:
            ticket = self._next
            self._next += 1
            try:
                while ticket != self._serving:
                    self._cond.wait()
            except BaseException:
                if ticket == self._serving:
                    self._advance()
                else:
                    self._abandoned.add(ticket)
                raise
        return self

    def __exit__(self, *exc) -> None:
        with self._cond:
            self._advance()
