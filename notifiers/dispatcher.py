"""The outbox dispatcher: the one process that sends physician alerts.

Each round: hold the dispatcher lease (only one dispatcher sends at a time),
move escalations whose wait ran out to their next step, claim due outbox rows
with a per-row lease, deliver each one outside any transaction, and record the
outcome. A crash anywhere loses nothing: unrecorded rows are claimed again
when their lease runs out (at-least-once delivery; duplicates only after a
crash, never while a lease holds).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from core.clock import Clock
from core.domain import Disposition
from core.escalation import EscalationPolicy
from db.database import Database
from db.engine import transaction
from db.escalations import (
    acquire_dispatcher,
    advance_escalations,
    claim_due,
    finish_delivery,
    release_dispatcher,
)
from db.models import OutboxNotification

log = logging.getLogger("aftercare.dispatch")


@dataclass(frozen=True)
class DeliveryReport:
    """What one send achieved, with each service's result (secrets already masked)."""

    delivered: bool
    services: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


Deliver = Callable[[str, str, str], DeliveryReport]
"""deliver(tag, title, body) -> DeliveryReport; must never raise for a failed send."""


@dataclass
class DispatchRound:
    """What one round did, for logs and tests."""

    held_lease: bool = False
    advanced: list[int] = field(default_factory=list)
    sent: int = 0
    retried: int = 0
    lost: int = 0


def default_owner() -> str:
    """host:pid:random, unique per dispatcher process and run."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Dispatcher:
    """Sends due outbox rows through `deliver`; safe to run several at once."""

    def __init__(
        self,
        database: Database,
        deliver: Deliver,
        clock: Clock,
        *,
        owner: str | None = None,
        lease: timedelta = timedelta(seconds=60),
        row_lease: timedelta = timedelta(seconds=120),
        policies: Mapping[Disposition, EscalationPolicy] | None = None,
        include_patient_name: bool = False,
        batch: int = 50,
    ) -> None:
        self.database = database
        self.deliver = deliver
        self.clock = clock
        self.owner = owner or default_owner()
        self.lease = lease
        self.row_lease = row_lease
        self.policies = policies
        self.include_patient_name = include_patient_name
        self.batch = batch

    def run_once(self) -> DispatchRound:
        """One round; returns at once with held_lease False when another dispatcher runs."""
        result = DispatchRound()
        sessions = self.database.sessions
        with transaction(sessions) as session:
            result.held_lease = acquire_dispatcher(
                session, owner=self.owner, now=self.clock.now(), ttl=self.lease
            )
        if not result.held_lease:
            return result
        with transaction(sessions) as session:
            result.advanced = advance_escalations(
                session,
                now=self.clock.now(),
                policies=self.policies,
                include_patient_name=self.include_patient_name,
            )
        with transaction(sessions) as session:
            claimed = claim_due(
                session,
                owner=self.owner,
                now=self.clock.now(),
                lease=self.row_lease,
                limit=self.batch,
            )
        for outbox_id in claimed:
            with sessions() as session:
                row = session.get_one(OutboxNotification, outbox_id)
                tag, title, body = row.target_tag, row.title, row.body
            # Deliver outside any transaction: a slow SMTP server must not hold locks.
            report = self.deliver(tag, title, body)
            with transaction(sessions) as session:
                recorded = finish_delivery(
                    session,
                    outbox_id=outbox_id,
                    owner=self.owner,
                    delivered=report.delivered,
                    results=report.services,
                    error=report.error,
                    now=self.clock.now(),
                )
                acquire_dispatcher(session, owner=self.owner, now=self.clock.now(), ttl=self.lease)
            if not recorded:
                result.lost += 1
            elif report.delivered:
                result.sent += 1
            else:
                result.retried += 1
        return result

    def run_forever(self, stop: threading.Event, interval: float = 2.0) -> None:
        """Rounds until `stop` is set; a database gone for a moment is retried, not fatal."""
        try:
            while not stop.is_set():
                try:
                    self.run_once()
                except Exception:  # keep paging through a transient outage, but say so
                    log.exception("dispatch round failed; retrying in %.0f s", interval)
                stop.wait(interval)
        finally:
            self.release()

    def release(self) -> None:
        """Hand the lease back so another dispatcher can start at once."""
        try:
            with transaction(self.database.sessions) as session:
                release_dispatcher(session, owner=self.owner, now=self.clock.now())
        except Exception:  # the lease simply expires instead
            log.warning("could not release the dispatcher lease; it will expire", exc_info=True)
