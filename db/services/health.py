"""Whether physician alerts are being sent, for every face."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from core.alert_health import AlertPathState
from db.alert_health import alert_path_state
from db.services.base import ServiceBase


class AlertHealthServices(ServiceBase):
    """The dispatcher's heartbeat against the outbox: the banner, the save message, --health."""

    def alert_path(self) -> AlertPathState:
        """The alert path now, judged with the clinic's grace period."""
        grace = timedelta(seconds=self.settings.alert_stall_grace_seconds)
        now = self.clock.now()

        def read(session: Session) -> AlertPathState:
            return alert_path_state(session, now, grace)

        return self._read(read)
