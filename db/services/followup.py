"""Follow-up on the queue and the patient screen: contacts, touchpoints, claims,
messages, triage, the queue page and the patient's record."""

from __future__ import annotations

from db.services.base import ServiceBase


class FollowUpServices(ServiceBase):
    """Use cases of this area; each is one transaction (see `db.services`)."""
