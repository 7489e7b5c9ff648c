"""Running the clinic: staff, patient import, backup, audit checks, notification set-up."""

from __future__ import annotations

from db.services.base import ServiceBase


class AdminServices(ServiceBase):
    """Use cases of this area; each is one transaction (see `db.services`)."""
