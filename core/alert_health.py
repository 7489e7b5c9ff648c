"""Whether physician alerts are being sent: one judgement for the queue banner,
the triage save message and `aftercare dispatch --health`.

A dispatcher proves it is alive by renewing its lease every round (the
heartbeat). Alerts are *not being sent* when an outbox row has been due for
longer than the grace period and no live dispatcher holds a claim on it: then
every coordinator must know at once, whatever the reason (the service stopped,
its host down, its database connection broken). A row already in a live
dispatcher's hands is not a stall, however slow the mail server.

Pure: the caller reads the lease and the oldest unclaimed due row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Final

DEFAULT_GRACE: Final = timedelta(seconds=60)


class Health(IntEnum):
    """The state of the alert path; the value is `aftercare dispatch --health`'s exit status."""

    SENDING = 0
    """A dispatcher is alive, or nothing has been waiting beyond the grace period."""
    NO_DISPATCHER = 1
    """Nothing is waiting now, but no dispatcher is alive: the next alert would wait."""
    STALLED = 2
    """An alert has waited beyond the grace period with nobody sending it."""


@dataclass(frozen=True)
class AlertPathState:
    """What the stored heartbeat and outbox say, read at `now`."""

    now: datetime
    heartbeat_at: datetime | None
    """When a dispatcher last renewed its lease (None: no dispatcher ever ran)."""
    lease_expires_at: datetime | None
    owner: str | None
    oldest_due_at: datetime | None
    """When the longest-waiting unclaimed row fell due (None: nothing is waiting)."""
    waiting: int
    """Unclaimed rows due now."""
    grace: timedelta = DEFAULT_GRACE

    @property
    def dispatcher_alive(self) -> bool:
        return self.lease_expires_at is not None and self.lease_expires_at > self.now

    @property
    def health(self) -> Health:
        if self.oldest_due_at is not None and self.now - self.oldest_due_at > self.grace:
            return Health.STALLED
        if not self.dispatcher_alive:
            return Health.NO_DISPATCHER
        return Health.SENDING

    def banner(self) -> str | None:
        """The queue's red banner, or None while alerts go out."""
        if self.health is not Health.STALLED:
            return None
        return (
            f"Physician alerts are NOT being sent: {self._waited()}. Phone the on-call "
            "physician yourself now, and ask the clinic admin to start the dispatcher "
            "(systemctl start aftercare-dispatch)."
        )

    def after_save(self) -> str:
        """What the save of an urgent or emergency triage adds about its pages."""
        if self.health is Health.STALLED:
            return "Physician alerts are NOT being sent: phone the on-call physician yourself now"
        if not self.dispatcher_alive:
            return (
                "no dispatcher is running to send it: phone the on-call physician "
                "yourself if nobody answers within a minute"
            )
        return "the dispatcher is sending it"

    def report(self) -> list[str]:
        """`aftercare dispatch --health`: one fact per line."""
        heartbeat = (
            f"last heartbeat {self._ago(self.heartbeat_at)} ago by {self.owner}"
            if self.heartbeat_at is not None
            else "no dispatcher has ever run on this database"
        )
        alive = "alive" if self.dispatcher_alive else "not alive"
        oldest = "no alert delivery is waiting"
        if self.oldest_due_at is not None:
            since = self._ago(self.oldest_due_at)
            oldest = f"{self.waiting} alert deliveries waiting; the oldest due {since} ago"
        words = {
            Health.SENDING: "ok: alerts are being sent",
            Health.NO_DISPATCHER: "warning: no dispatcher is alive (nothing waiting yet)",
            Health.STALLED: "critical: physician alerts are NOT being sent",
        }[self.health]
        return [words, f"dispatcher: {alive}; {heartbeat}", oldest]

    def _waited(self) -> str:
        count = "1 alert has" if self.waiting == 1 else f"{self.waiting} alerts have"
        return f"{count} waited {self._ago(self.oldest_due_at)}"

    def _ago(self, at: datetime | None) -> str:
        if at is None:
            return "never"
        seconds = max(0, int((self.now - at).total_seconds()))
        if seconds < 120:
            return f"{seconds} s"
        if seconds < 7200:
            return f"{seconds // 60} min"
        return f"{seconds // 3600} h"
