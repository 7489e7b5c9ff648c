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
from pathlib import Path
from typing import Any

from core.alert_links import LinkClaim, LinkKeys, SecretFileError, link_url, new_nonce, read_secret
from core.clock import Clock
from core.config import Settings
from core.domain import Disposition
from core.escalation import EscalationPolicy
from core.oncall import ONCALL, OnCallPhysician, PageRoute, fall_back, route_page
from db.database import Database
from db.engine import transaction
from db.escalations import (
    ClaimedDelivery,
    acquire_dispatcher,
    advance_escalations,
    claim_due,
    finish_delivery,
    release_dispatcher,
)
from db.followup import mark_changed
from db.oncall import on_call_physician

log = logging.getLogger("aftercare.dispatch")


@dataclass(frozen=True)
class DeliveryReport:
    """What one send achieved, with each service's result (secrets already masked)."""

    delivered: bool
    services: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    matched: bool = True
    """False when no configured service carries the tag (nothing was sent)."""


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


@dataclass(frozen=True)
class AlertLinks:
    """Signs the one-tap link each alert carries (core.alert_links), at sending time.

    Only the alert service reads the secret, so links are made here, never when a
    coordinator's triage queues the step.
    """

    keys: LinkKeys
    base_url: str

    def message(self, claim: ClaimedDelivery, tag: str) -> str:
        """The alert's text with a link signed for its escalation, step, cycle and the tag
        it is sent to, as the second line (right under the headline, where a phone
        shows it first). A fresh nonce each time: each link acts once per action."""
        signed = LinkClaim(claim.escalation_id, claim.step, claim.cycle, tag, new_nonce())
        url = link_url(self.base_url, self.keys.sign(signed))
        headline, newline, rest = claim.body.partition("\n")
        return f"{headline}\nAcknowledge or resolve from your phone: {url}{newline}{rest}"


def alert_links(settings: Settings) -> tuple[AlertLinks | None, list[str]]:
    """The link signer the settings ask for, and what the admin should hear.

    None without `web_base_url`. A secret that cannot be read does not stop the
    alerts: they go out without the link (the server command still works), and
    the warning says what to fix.
    """
    if not settings.web_base_url:
        return None, []
    try:
        keys, warnings = read_secret(Path(settings.web_secret_file))
    except SecretFileError as exc:
        return None, [f"{exc}; alerts are sent without the acknowledgement link"]
    return AlertLinks(keys, settings.web_base_url), warnings


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
        record_every: int = 5,
        links: AlertLinks | None = None,
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
        self.record_every = record_every
        self.links = links
        """When set, every message carries a signed one-tap link (see AlertLinks)."""

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
            # `oncall` means whoever is on call now, at sending, not when the alert was raised.
            on_call: OnCallPhysician | None = None
            if any(claim.target_tag == ONCALL for claim in claimed):
                on_call = on_call_physician(session, self.clock.now())
        renewed_at = self.clock.now()
        pending: list[tuple[ClaimedDelivery, DeliveryReport, PageRoute]] = []
        for claim in claimed:
            route = route_page(claim.target_tag, on_call)
            # Deliver outside any transaction: a slow SMTP server must not hold locks.
            report = self.deliver(route.tag, claim.title, self._text(claim, route.tag))
            backup = (
                None
                if report.delivered
                else fall_back(route, matched=report.matched, error=report.error)
            )
            if backup is not None:
                # The on-call physician's own tag did not deliver: the clinic's static
                # `oncall` group gets the page in this same attempt; both are recorded.
                second = self.deliver(backup.tag, claim.title, self._text(claim, backup.tag))
                report = DeliveryReport(
                    second.delivered, report.services + second.services, second.error
                )
                route = backup
            pending.append((claim, report, route))
            if len(pending) >= self.record_every:
                self._record(pending, result)
                pending.clear()
            if self.clock.now() - renewed_at > self.lease / 3:
                # A long batch keeps the dispatcher lease alive while it works.
                with transaction(sessions) as session:
                    acquire_dispatcher(
                        session, owner=self.owner, now=self.clock.now(), ttl=self.lease
                    )
                renewed_at = self.clock.now()
        self._record(pending, result)
        if claimed:
            # One change-marker bump per round, so open screens show the delivery states.
            with transaction(sessions) as session:
                mark_changed(session, self.clock.now())
        return result

    def _text(self, claim: ClaimedDelivery, tag: str) -> str:
        """What is sent to `tag`: the queued text, with its own signed link when links are on."""
        return claim.body if self.links is None else self.links.message(claim, tag)

    def _record(
        self,
        delivered: list[tuple[ClaimedDelivery, DeliveryReport, PageRoute]],
        result: DispatchRound,
    ) -> None:
        """Record a few outcomes in one transaction.

        Grouping bounds the cost per alert; the price is that a crash between a
        send and its record re-sends at most `record_every` alerts once the lease
        runs out (at-least-once delivery: a page twice, never a page lost).
        """
        if not delivered:
            return
        now = self.clock.now()
        with transaction(self.database.sessions) as session:
            for claim, report, route in delivered:
                recorded = finish_delivery(
                    session,
                    claim=claim,
                    owner=self.owner,
                    delivered=report.delivered,
                    results=report.services,
                    error=report.error,
                    now=now,
                    routing=route.record() if claim.target_tag == ONCALL else None,
                )
                if not recorded:
                    result.lost += 1
                elif report.delivered:
                    result.sent += 1
                else:
                    result.retried += 1

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
