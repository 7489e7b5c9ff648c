"""Python's full garbage collection, moved to the moments nobody is typing.

A full collection walks every object the process holds and stops the event loop
while it does. With the export libraries loaded and the kept screens' rows
(2,000 open incidents at 100,000 patients) it took 100-480 ms, several times a
minute while keys were pressed: bench/keys.py saw those pauses as its slowest
keys. Here the young generations are still collected as usual (a few ms), but
the full collection runs only after `IDLE_FOR` seconds without a key, at most
every `AT_MOST_EVERY` seconds, and after `AT_LEAST_EVERY` seconds whatever
happens, so memory held by garbage cycles is still given back.

Only the real terminal app does this (started with the first page on screen);
tests run with Python's defaults.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any, Protocol

YOUNG_OBJECTS = 5_000
"""Allocations between two collections of the youngest generation (Python: 700)."""
NEVER_ON_ITS_OWN = 1_000_000
"""The oldest generation's threshold: high enough that Python never starts it."""
IDLE_FOR = 3.0
AT_MOST_EVERY = 30.0
AT_LEAST_EVERY = 600.0
CHECK_EVERY = 5.0


class HasTimers(Protocol):
    """The app, as far as the collector needs it."""

    def set_interval(self, interval: float, callback: Callable[[], Any]) -> Any: ...


class IdleCollector:
    """Full collections when the coordinator is not typing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._now = clock
        self.last_key = self._now()
        self.last_full = self._now()
        self.started = False
        self.collections = 0
        """How many full collections this ran (tests read it)."""

    def start(self, app: HasTimers) -> None:
        """Take over the full collections (once)."""
        if self.started:
            return
        self.started = True
        gc.set_threshold(YOUNG_OBJECTS, gc.get_threshold()[1], NEVER_ON_ITS_OWN)
        app.set_interval(CHECK_EVERY, self.check)

    def key_pressed(self) -> None:
        """A key came in: the coordinator is working."""
        self.last_key = self._now()

    def check(self) -> bool:
        """Collect in full if the keyboard has been still long enough (or it is overdue);
        whether it did."""
        now = self._now()
        idle = now - self.last_key >= IDLE_FOR and now - self.last_full >= AT_MOST_EVERY
        if not (idle or now - self.last_full >= AT_LEAST_EVERY):
            return False
        gc.collect()
        self.last_full = self._now()
        self.collections += 1
        return True
