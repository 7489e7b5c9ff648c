"""Loading, while the coordinator reads the queue, what later keys would otherwise load
on first use.

The first summary/PDF or FHIR export imported fpdf2 and fhir.resources (about
1.5 s of CPU) when the key was pressed, so the first "Written:" came seconds
late; the first patient screen imported its own modules the same way. These
imports run once, on a daemon thread, a few seconds after the queue's first
page is on screen (`WARM_UP_AFTER`), so the first paint never waits for them
and the coordinator's first keys rarely meet them. Python imports hold a lock
per module: a key that needs a module while it is being loaded waits for that
load to finish, never loads it twice.

The cost is memory: every workstation holds the export libraries from then on
(bench/queue.py measures the resident size).

Once loaded, everything alive is frozen out of the garbage collector's view
(`gc.freeze`): modules, classes and caches never become garbage, and a full
collection no longer walks them (tui.collector runs those when nobody types).
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading

log = logging.getLogger("aftercare.tui")

WARM_UP_AFTER = 3.0
"""Seconds after the queue's first page is shown before the loading starts."""

MODULES = (
    # The patient screen and the forms it opens.
    "tui.screens.patient",
    # The export libraries: fpdf2, fhir.resources (pydantic models), the renderers.
    "core.exports.formats",
    "db.exports",
)

_started = threading.Lock()
_done = threading.Event()


def load_modules() -> None:
    """Import every module in MODULES (a failure is logged: the key that needs the
    module will import it again and say what is wrong then)."""
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:
            log.warning("could not load %s ahead of use", name, exc_info=True)
    # Collect once, then set aside what survives: modules, classes, caches.
    gc.collect()
    gc.freeze()
    _done.set()


def warm_up_once() -> None:
    """Start loading MODULES on a daemon thread, the first time only in this process."""
    if not _started.acquire(blocking=False):
        return
    threading.Thread(target=load_modules, name="aftercare-warm-up", daemon=True).start()


def warmed_up(timeout: float | None = None) -> bool:
    """Whether the loading has finished (waiting up to `timeout` seconds)."""
    return _done.wait(timeout)
