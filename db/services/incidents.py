"""The incident log: open, classify, report, close, correct, and the one incident read model."""

from __future__ import annotations

from db.services.base import ServiceBase


class IncidentServices(ServiceBase):
    """Use cases of this area; each is one transaction (see `db.services`)."""
