"""Documents for the home physician and the regulator: summary, FHIR bundle, incidents CSV."""

from __future__ import annotations

from db.services.base import ServiceBase


class ExportServices(ServiceBase):
    """Use cases of this area; each is one transaction (see `db.services`)."""
