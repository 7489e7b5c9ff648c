"""Instant refresh on PostgreSQL: NOTIFY on every write, one LISTENing thread per app.

Every write bumps the change marker (`db.followup.mark_changed`); on PostgreSQL
it also queues `NOTIFY aftercare_changed` in the same transaction, so the
notification goes out on commit and never for a rolled-back write. The payload
is the writer's schema: installs (or test runs) sharing one server in
different schemas wake only their own listeners, as channels are per database.

`ChangeListener` holds its own psycopg connection (not one from the pool, which
would be returned and reused) in a daemon thread and calls back on each change.
Screens keep polling the marker either way: when the listener is down they are
only as late as their poll interval. On SQLite there is nothing to listen to
and the listener does nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from db.engine import parse_database_url

if TYPE_CHECKING:
    from psycopg import Connection

log = logging.getLogger("aftercare.listen")

CHANNEL: Final = "aftercare_changed"
"""The NOTIFY channel every write signals on (PostgreSQL only)."""
STOP_CHECK_SECONDS: Final = 0.25
"""How long one wait for notifications lasts, so `stop()` is noticed this quickly."""
FIRST_BACKOFF_SECONDS: Final = 0.5
MAX_BACKOFF_SECONDS: Final = 30.0
# Server-side death (restart, terminated backend) closes the socket and is seen at
# once; keepalives catch a network that silently drops it, within about a minute.
_KEEPALIVES: Final[dict[str, Any]] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "connect_timeout": 5,
}


def notify_change(session: Session) -> None:
    """On PostgreSQL, signal listeners when the caller's transaction commits.

    A no-op on SQLite. PostgreSQL delivers NOTIFY only on commit and folds
    identical notifications of one transaction into one.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, current_schema())"), {"channel": CHANNEL})


class ListenerState(StrEnum):
    """Where a `ChangeListener` is; `RECONNECTING` means changes arrive by polling only."""

    OFF = "off"
    """Not started, or a SQLite database (nothing to listen to)."""
    CONNECTING = "connecting"
    LISTENING = "listening"
    RECONNECTING = "reconnecting"
    """The server went away or refused; retrying with backoff."""
    STOPPED = "stopped"


class ChangeListener:
    """Calls `on_change` (on its own thread) whenever another session commits a write.

    A burst of writes wakes `on_change` at most once per `min_interval` seconds:
    a demo load or a busy dispatcher must not make every screen re-read
    hundreds of times. After a reconnection `on_change` is called once, since
    notifications sent while away are lost.
    """

    def __init__(
        self,
        url: str | URL,
        on_change: Callable[[], None],
        *,
        on_state: Callable[[ListenerState, str], None] | None = None,
        min_interval: float = 0.25,
    ) -> None:
        self.url = url if isinstance(url, URL) else parse_database_url(url)
        self.on_change = on_change
        self.on_state = on_state
        """Called on the listener's thread with the new state and a reason (may be empty)."""
        self.min_interval = min_interval
        self.state = ListenerState.OFF
        self.backend_pid: int | None = None
        """The server process of the listening connection, while listening."""
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        """Whether this database can notify at all (PostgreSQL)."""
        return self.url.get_backend_name() == "postgresql"

    def start(self) -> None:
        """Start listening on a daemon thread; does nothing on SQLite or when started."""
        if not self.active or self._thread is not None:
            return
        self._stop.clear()
        self._set_state(ListenerState.CONNECTING)
        self._thread = threading.Thread(target=self._run, name="aftercare-listener", daemon=True)
        self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        """Block until the LISTEN is in place (True) or `timeout` passes (False)."""
        return self._listening.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and close its connection; safe to call more than once."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout)
        self._thread = None

    # -- the thread --------------------------------------------------------

    def _run(self) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        missed = False
        while not self._stop.is_set():
            try:
                with self._connect() as connection:
                    schema = self._listen(connection)
                    backoff = FIRST_BACKOFF_SECONDS
                    self._set_state(ListenerState.LISTENING)
                    if missed:
                        self._fire()
                    self._receive(connection, schema)
            except Exception as exc:  # psycopg.Error mostly; anything else must not end it
                self._listening.clear()
                self.backend_pid = None
                if self._stop.is_set():
                    break
                missed = True
                self._set_state(ListenerState.RECONNECTING, _first_line(exc))
                log.warning("change listener lost the database (%s)", _first_line(exc))
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        self._listening.clear()
        self.backend_pid = None
        self._set_state(ListenerState.STOPPED)

    def _connect(self) -> Connection[Any]:
        # Imported here: the psycopg import is not worth paying in SQLite installs.
        import psycopg

        # The same arguments SQLAlchemy would pass (host, user, options=-csearch_path...).
        args, params = self.url.get_dialect()().create_connect_args(self.url)
        return psycopg.connect(*args, **{**_KEEPALIVES, **params}, autocommit=True)

    def _listen(self, connection: Connection[Any]) -> str:
        connection.execute(f"LISTEN {CHANNEL}")
        row = connection.execute("SELECT current_schema()").fetchone()
        schema = str(row[0]) if row else ""
        self.backend_pid = connection.info.backend_pid
        self._listening.set()
        return schema

    def _receive(self, connection: Connection[Any], schema: str) -> None:
        while not self._stop.is_set():
            ours = False
            for notification in connection.notifies(timeout=STOP_CHECK_SECONDS, stop_after=1):
                ours = ours or notification.payload == schema
            if ours:
                self._fire()
                # What arrives meanwhile waits in the socket and wakes us once, next round.
                self._stop.wait(self.min_interval)

    def _fire(self) -> None:
        try:
            self.on_change()
        except Exception:  # a failing callback must not end live updates
            log.exception("change listener callback failed")

    def _set_state(self, state: ListenerState, reason: str = "") -> None:
        if state == self.state:
            return
        self.state = state
        if self.on_state is not None:
            try:
                self.on_state(state, reason)
            except Exception:
                log.exception("change listener state callback failed")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
