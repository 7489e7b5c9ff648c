"""Physician alerts: the open escalations, acknowledge, resolve."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from core.alert_links import LinkAction, LinkClaim, LinkClient
from db import alert_links, escalations
from db.alert_links import LinkActed, LinkedAlert
from db.alerts import (
    AlertView,
    FailedSummary,
    UntaggedTreating,
    failed_deliveries,
    open_alerts,
    untagged_treating_physicians,
)
from db.escalations import DispatcherHolder
from db.followup import Actor
from db.services.base import ServiceBase


@dataclass(frozen=True)
class AlertsRead:
    """One read of the alerts screen: every unresolved alert and who sends them now."""

    alerts: list[AlertView]
    dispatcher: str | None
    """The owner of the live dispatcher lease; None when nobody is sending alerts."""
    read_at: datetime
    holder: DispatcherHolder | None = None
    """The live lease's holder with the Apprise file it sends with."""


class AlertServices(ServiceBase):
    """Use cases of this area; each is one transaction (see `db.services`)."""

    def physician_alerts(self, now: datetime | None = None) -> AlertsRead:
        """Open and acknowledged-but-unresolved alerts with their deliveries, and
        which dispatcher sends them, read together at `now` (default: the clock)."""
        at = now or self.clock.now()

        def read(session: Session) -> AlertsRead:
            holder = escalations.dispatcher_holder(session, at)
            return AlertsRead(
                open_alerts(session, at), holder.owner if holder else None, at, holder
            )

        return self._read(read)

    def failed_alert_deliveries(self) -> FailedSummary:
        """Failed deliveries of alerts nobody has taken yet (the queue's red banner)."""
        return self._read(failed_deliveries)

    def untagged_treating_physicians(self) -> list[UntaggedTreating]:
        """Active physicians without a notify tag who treat a patient still followed up:
        their `treating` pages go to the on-call physician instead."""
        return self._read(untagged_treating_physicians)

    def acknowledge_alert(self, actor: Actor, escalation_id: int) -> None:
        """Acknowledge an alert: every further page and pending delivery stops.

        Refused, naming who, when someone acknowledged or resolved it first.
        """
        self._apply(escalations.acknowledge, actor, escalation_id)

    def resolve_alert(self, actor: Actor, escalation_id: int) -> None:
        """Close an alert (acknowledged or still open); pending deliveries are cancelled."""
        self._apply(escalations.resolve, actor, escalation_id)

    def dispatcher_holder(self) -> str | None:
        """Who holds a live dispatcher lease, if anyone (the TUI sends alerts itself when
        nobody does)."""
        return self._read(escalations.dispatcher_active, self.clock.now())

    # -- the one-tap page (`aftercare web`): links verified by the web service --------

    def alert_for_link(self, claim: LinkClaim) -> LinkedAlert:
        """What the alert page shows for a verified link (read only; GET changes nothing).
        Refused (core.alert_links.LinkRefused) when the alert is gone or closed."""
        include_name = self.settings.alert_include_patient_name
        return self._read(
            alert_links.alert_for_link,
            self.clock.now(),
            claim,
            include_patient_name=include_name,
        )

    def act_through_link(
        self,
        claim: LinkClaim,
        action: LinkAction,
        *,
        acting_login: str | None,
        client: LinkClient,
    ) -> LinkActed:
        """Acknowledge or resolve through a verified link, as the physician it was sent
        to (or the one chosen on the page for a role tag), once per link and action,
        audited with the client address and browser. A refusal changes nothing."""
        return self._apply(
            alert_links.act_through_link, claim, action, acting_login=acting_login, client=client
        )
