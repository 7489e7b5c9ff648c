"""Screens that stay live: re-read when someone changed something, and no more.

A thread worker reads the change marker (every write bumps it); only when it
moved, or when the last full read is older than `FULL_READ_EVERY` (time alone
ages "due in 3m" and "5d left"), does it read the screen's page. The read
happens off the event loop; the page is shown on it. A failed read keeps the
last page on screen and says why: stale but visible beats empty. On
PostgreSQL the app also calls `refresh_now` on NOTIFY (db.listen).

Everything is read through the app's `Clinic` (db.services): the marker with
`clinic.change_marker()`, the page by the screen's `read_page(clinic, now,
marker)`, which calls the Clinic's read methods. A refusal from the Clinic
(`core.refusals.Refused`, e.g. `Unavailable`) is shown in its own words. One
refusal is not a stale page but the end of the session: the signed-in login
was disabled (`db.services.base.SignedOut`); the screen then tells the app
(`SessionEnded`), which takes every patient screen away and shows the sentence.

The first page a screen shows also starts, once per process, the loading of
what later keys need (tui.warmup), a few seconds later and off the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from textual.message import Message
from textual.timer import Timer

if TYPE_CHECKING:
    from db.services import Clinic
    from tui.app import AftercareApp


class LivePage(Protocol):
    """What every page read keeps: when it was read and the marker it saw."""

    @property
    def read_at(self) -> datetime: ...

    @property
    def marker(self) -> int: ...


PageT = TypeVar("PageT", bound=LivePage)


class PageRead(Message):
    """A thread worker read a new page."""

    def __init__(self, page: Any) -> None:
        self.page = page
        super().__init__()


class PageUnchanged(Message):
    """A poll found nothing new."""


class PageReadFailed(Message):
    """Reading failed; the reason is one line for the status bar."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__()


class SessionEnded(Message):
    """The Clinic refused to read for the signed-in login any more (it was disabled);
    bubbles up to the app, which stops showing patient data (tui.app)."""

    def __init__(self, sentence: str) -> None:
        self.sentence = sentence
        super().__init__()


class LiveReading(Generic[PageT]):
    """Mixin for a Screen; call `start_live()` in `__init__` and `poll()` on mount."""

    FULL_READ_EVERY: ClassVar[timedelta] = timedelta(seconds=30)
    READ_GROUP: ClassVar[str] = "live-read"
    WHAT: ClassVar[str] = "the screen"
    """Named in a failure: 'could not read the alerts: ...'."""

    page: PageT | None
    """The last successful read (tests use it)."""

    # Members of Screen, typed here for mypy.
    app: Any
    post_message: Callable[[Message], bool]
    run_worker: Callable[..., Any]
    set_timer: Callable[..., Timer]

    def start_live(self) -> None:
        """Nothing read yet; the first poll reads in full."""
        self.page = None
        self._force = True
        self._timer: Timer | None = None

    def read_page(self, clinic: Clinic, now: datetime, marker: int) -> PageT:
        """Read the page through `clinic` (in a worker thread); the screen implements it."""
        raise NotImplementedError

    def show_page(self, page: PageT) -> None:
        """Show a new page (on the event loop); the screen implements it."""
        raise NotImplementedError

    def show_read_failure(self, reason: str) -> None:
        """Say why the page is stale; the screen implements it."""
        raise NotImplementedError

    def page_outdated(self, page: PageT) -> bool:
        """Whether `page` no longer answers what the screen asks (its filters changed)."""
        return False

    def poll(self) -> None:
        """Read the marker, and the page when something changed (off the event loop)."""
        self.run_worker(
            self._read, thread=True, exclusive=True, group=self.READ_GROUP, exit_on_error=False
        )

    def _read(self) -> None:
        from db.services.base import SignedOut  # loaded with the Clinic already

        app: AftercareApp = self.app
        clinic, now = app.clinic, app.clock.now()
        page, force = self.page, self._force
        try:
            marker = clinic.change_marker()
            stale = (
                force
                or page is None
                or page.marker != marker
                or now - page.read_at >= self.FULL_READ_EVERY
                or self.page_outdated(page)
            )
            if not stale:
                self.post_message(PageUnchanged())
                return
            fresh = self.read_page(clinic, now, marker)
        except SignedOut as exc:
            # Not a stale page to keep showing: no more patient data for this login.
            self.post_message(SessionEnded(str(exc)))
            return
        except Exception as exc:
            # Usually a `Refused` (`Unavailable`: the database is gone for a moment)
            # with its own sentence; anything else must not kill the screen either.
            # Keep showing the last read.
            self.post_message(PageReadFailed(f"could not read {self.WHAT}: {exc}"))
            return
        self.post_message(PageRead(fresh))

    def _arm_next_poll(self) -> None:
        # One armed timer at most: a read started by a key must not start a second chain.
        if self._timer is not None:
            self._timer.stop()
        app: AftercareApp = self.app
        self._timer = self.set_timer(app.settings.refresh_seconds, self.poll)

    def poll_now(self) -> None:
        """Look for news at once (the next poll, brought forward)."""
        if self._timer is not None:
            self._timer.stop()
        self.poll()

    def refresh_now(self) -> None:
        """Re-read at once (after our own writes, a filter change, a NOTIFY, or `r`)."""
        self._force = True
        self.poll_now()

    def on_page_unchanged(self, _: PageUnchanged) -> None:
        """Nothing new: look again later."""
        self._arm_next_poll()

    def on_page_read_failed(self, message: PageReadFailed) -> None:
        """Keep the last page, say why, look again later."""
        self.show_read_failure(message.reason)
        self._arm_next_poll()

    def on_page_read(self, message: PageRead) -> None:
        """Show the new page in one repaint."""
        self._force = False
        if self.page_outdated(message.page):  # filters changed while reading: read again
            self.refresh_now()
            return
        first = self.page is None
        self.page = message.page
        with self.app.batch_update():
            self.show_page(message.page)
        self._arm_next_poll()
        if first and not self.app.is_headless:
            # The first page is on screen: load what later keys need, off the event loop
            # and after a pause (tui.warmup). Tests run headless and import on first use.
            from tui.warmup import WARM_UP_AFTER, warm_up_once

            self.set_timer(WARM_UP_AFTER, warm_up_once)
            self.app.collector.start(self.app)
