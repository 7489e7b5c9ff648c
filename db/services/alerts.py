"""Physician alerts: the open escalations, acknowledge, resolve."""

from __future__ import annotations

from db.services.base import ServiceBase


class AlertServices(ServiceBase):
    """Use cases of this area; each is one transaction (see `db.services`)."""
