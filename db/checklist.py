"""The documentation checklist ticked item by item: who gave which document, when.

Each tick is stored on the episode as {"given", "by", "at"} (core.dossier reads
older plain true/false rows too). A tick is version-checked on the episode:
a checklist ticked from a stale view is refused naming who changed the episode
since, and nothing is written. Unchanged items keep their original who and when.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.dossier import DOCUMENT_ITEMS, document_tick
from core.refusals import Refused, StaleEdit
from db import audit
from db.conflicts import last_change
from db.episodes import AUDITED_AS, locked_episode
from db.followup import Actor, FollowUpConflict

TICKED = "episode.documentation"


class StaleChecklist(FollowUpConflict, StaleEdit):
    """The episode changed since the checklist was opened; the sentence names who and when."""


class UnknownDocument(FollowUpConflict, Refused):
    """The item is not on the clinic's checklist nor on this episode's."""


def tick_document(
    session: Session,
    now: datetime,
    actor: Actor,
    episode_id: int,
    item: str,
    *,
    given: bool,
    expected_version: int | None = None,
) -> int:
    """Tick one item given (or not); returns the episode's new version."""
    return tick_documents(
        session, now, actor, episode_id, {item: given}, expected_version=expected_version
    )


def tick_documents(
    session: Session,
    now: datetime,
    actor: Actor,
    episode_id: int,
    ticks: Mapping[str, bool],
    *,
    expected_version: int | None = None,
) -> int:
    """Tick several items in one save (the checklist form); one audit event holds
    each changed item before and after. Returns the episode's version after."""
    episode = locked_episode(session, now, actor, episode_id)
    if expected_version is not None and episode.version != expected_version:
        change = last_change(session, AUDITED_AS, episode_id)
        raise StaleChecklist(
            f"the documentation checklist of episode {episode_id} was "
            f"{change.words if change else 'changed'} since you opened it; nothing was saved"
        )
    stored: dict[str, Any] = dict(episode.documentation or {})
    known = {key for key, _ in DOCUMENT_ITEMS} | set(stored)
    for item in ticks:
        if item not in known:
            raise UnknownDocument(
                f'"{item}" is not an item of the documentation checklist; nothing was saved'
            )
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for item, given in ticks.items():
        was = stored.get(item)
        was_given = (was.get("given") if isinstance(was, Mapping) else was) is True
        if was_given == given and was is not None:
            continue  # unchanged: keep who ticked it and when
        before[item] = was
        after[item] = stored[item] = document_tick(given, actor.username, now)
    if not after:
        return episode.version
    # A new dict: the JSON column notices a replaced value, not one changed in place.
    episode.documentation = stored
    episode.version += 1
    audit.log(session, now, actor, TICKED, (AUDITED_AS, episode.id), before=before, after=after)
    return episode.version
