"""Reading the alert path's heartbeat and its oldest unclaimed due delivery."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.alert_health import AlertPathState
from core.domain import NotificationStatus
from db.escalations import OUTBOX_LEASE
from db.models import DispatcherLease, OutboxNotification


def alert_path_state(session: Session, now: datetime, grace: timedelta) -> AlertPathState:
    """The heartbeat and the unclaimed due rows, read in two small queries (the
    outbox's (status, next_attempt_at) index serves the second)."""
    lease = session.get(DispatcherLease, OUTBOX_LEASE, populate_existing=True)
    # Due, and in no live dispatcher's hands: pending rows, and rows whose claim ran out.
    unclaimed = or_(
        OutboxNotification.status == NotificationStatus.PENDING,
        (OutboxNotification.status == NotificationStatus.SENDING)
        & (OutboxNotification.lease_expires_at <= now),
    )
    oldest, waiting = session.execute(
        select(func.min(OutboxNotification.next_attempt_at), func.count()).where(
            unclaimed, OutboxNotification.next_attempt_at <= now
        )
    ).one()
    return AlertPathState(
        now=now,
        heartbeat_at=lease.renewed_at if lease is not None else None,
        lease_expires_at=lease.expires_at if lease is not None else None,
        owner=lease.owner if lease is not None else None,
        oldest_due_at=oldest,
        waiting=waiting or 0,
        grace=grace,
    )
