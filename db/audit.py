"""Append-only audit events, chained by hash.

Each event's hash covers its content and the previous event's hash, so an
edited, removed or inserted row breaks the chain at that point (verification
comes with the incident-log work). Appends are serialised by the change
marker row, which every write updates first (see `db.followup.mark_changed`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AuditEvent

GENESIS = "0" * 64


def event_hash(
    prev_hash: str,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> str:
    """SHA-256 over a canonical JSON of the event and the previous hash."""
    payload = json.dumps(
        [prev_hash, at.isoformat(), actor, action, entity, entity_id, before, after],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def record(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event in the caller's transaction."""
    prev = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    key = None if entity_id is None else str(entity_id)
    # Round-trip through JSON so what is hashed is exactly what is stored.
    before_json = json.loads(json.dumps(before, default=str)) if before is not None else None
    after_json = json.loads(json.dumps(after, default=str)) if after is not None else None
    event = AuditEvent(
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=key,
        before=before_json,
        after=after_json,
        prev_hash=prev or GENESIS,
        hash=event_hash(prev or GENESIS, at, actor, action, entity, key, before_json, after_json),
    )
    session.add(event)
    session.flush()
    return event
