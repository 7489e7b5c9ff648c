"""Finding any patient, on the follow-up schedule or past it."""

from __future__ import annotations

from core.search import PatientHit
from db import search
from db.services.base import ServiceBase


class SearchServices(ServiceBase):
    """Use cases of this area; each is one transaction (see `db.services`)."""

    def find_patients(self, text: str, *, limit: int = 50) -> list[PatientHit]:
        """Up to `limit` patients whose code starts with `text` or whose name holds
        its words, including those no longer on the queue."""
        return self._read(search.find_patients, text, limit=limit)
