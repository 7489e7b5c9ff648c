"""The on-call schedule: shifts, who is on call now."""

from __future__ import annotations

from db.services.base import ServiceBase


class OnCallServices(ServiceBase):
    """Use cases of this area; each is one transaction (see `db.services`)."""
