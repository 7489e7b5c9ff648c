"""The documentation checklist: ticking the documents a patient left with."""

from __future__ import annotations

from collections.abc import Mapping

from db import checklist as store
from db.followup import Actor
from db.services.base import ServiceBase


class ChecklistServices(ServiceBase):
    """Ticking checklist items given or not, remembering who and when."""

    def tick_document(
        self, actor: Actor, episode_id: int, item: str, *, given: bool, expected_version: int
    ) -> int:
        """Tick one item; refused when the episode changed since `expected_version`."""
        return self._apply(
            store.tick_document,
            actor,
            episode_id,
            item,
            given=given,
            expected_version=expected_version,
        )

    def tick_documents(
        self,
        actor: Actor,
        episode_id: int,
        ticks: Mapping[str, bool],
        *,
        expected_version: int,
    ) -> int:
        """The checklist form's save: every changed item in one transaction."""
        return self._apply(
            store.tick_documents, actor, episode_id, ticks, expected_version=expected_version
        )
