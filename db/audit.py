"""Append-only audit events, chained by hash, and the check that the chain is whole.

Each event's hash covers its content and the previous event's hash, so an
edited, removed or inserted row breaks the chain at that point; `verify_chain`
walks the table and names the first such break. Appends are serialised by the
change marker row, which every write updates first (see `db.followup.mark_changed`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Row, func, inspect, select
from sqlalchemy.orm import Session

from db.models import AuditEvent, Base

GENESIS = "0" * 64

# Rows read per query while verifying: enough to keep round trips few, small
# enough that a million-event table never sits in memory at once.
VERIFY_BATCH = 1000


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
    """Append one audit event in the caller's transaction.

    Raises ValueError for a naive `at` (the column refuses it anyway; failing
    here keeps a wrong hash from ever being computed).
    """
    if at.tzinfo is None:
        raise ValueError("naive datetime given to audit.record")
    # The column hands back aware UTC, so hash the UTC form: an event recorded
    # with a Seoul time must still verify once read back.
    at_utc = at.astimezone(UTC)
    prev = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    key = None if entity_id is None else str(entity_id)
    # Round-trip through JSON so what is hashed is exactly what is stored.
    before_json = json.loads(json.dumps(before, default=str)) if before is not None else None
    after_json = json.loads(json.dumps(after, default=str)) if after is not None else None
    event = AuditEvent(at=at_utc, actor=actor, action=action, entity=entity, entity_id=key)
    event.before, event.after, event.prev_hash = before_json, after_json, prev or GENESIS
    event.hash = _hash_of(event)
    session.add(event)
    session.flush()
    return event


class Signed(Protocol):
    """Whoever acts, as a signed-in staff member (`db.followup.Actor`) names them."""

    @property
    def username(self) -> str: ...


def log(
    session: Session,
    at: datetime,
    actor: Signed | str,
    action: str,
    about: Base | tuple[str, int | str | None],
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event about a stored row, in the caller's transaction.

    The row names itself (its table and primary key), so an event can never
    point at another kind of record than the one it is about. `about` is an
    explicit (entity, id) pair for an event that is not about one loaded row:
    one kept under an older entity name, or an export of many (id None).
    The event is the one `record` stores for the same entity and id.
    """
    entity, entity_id = about if isinstance(about, tuple) else row_key(about)
    return record(
        session,
        at=at,
        actor=actor if isinstance(actor, str) else actor.username,
        action=action,
        entity=entity,
        entity_id=entity_id,
        before=before,
        after=after,
    )


def row_key(row: Base) -> tuple[str, int | str]:
    """The table and primary key an audit event names a stored row by.

    Raises ValueError for a row with no key yet: flush it first, or the event
    would be about nothing.
    """
    key = inspect(row).mapper.primary_key_from_instance(row)
    if len(key) != 1 or key[0] is None:
        raise ValueError(f"audit event about a {row.__tablename__} row without a single key")
    return str(row.__tablename__), key[0]


def _hash_of(event: AuditEvent | Row[Any]) -> str:
    """The hash an event's fields call for: the one it is stored with, and the
    one it is checked against when the chain is verified."""
    return event_hash(
        event.prev_hash,
        event.at,
        event.actor,
        event.action,
        event.entity,
        event.entity_id,
        event.before,
        event.after,
    )


@dataclass(frozen=True)
class ChainProblem:
    """The first place the chain breaks: the event to look at and what is wrong."""

    event_id: int
    message: str


@dataclass(frozen=True)
class ChainReport:
    """Outcome of `verify_chain`.

    `checked` counts the events read, up to and including the one where the
    first problem was found (verification stops there).
    """

    checked: int
    first_problem: ChainProblem | None = None

    @property
    def ok(self) -> bool:
        """True when every event matches its hash and links to the one before."""
        return self.first_problem is None


# The stored fields, in `event_hash` order after id and hash; selected as plain
# rows so a long walk does not fill the session's identity map.
_COLUMNS = (
    AuditEvent.id,
    AuditEvent.hash,
    AuditEvent.prev_hash,
    AuditEvent.at,
    AuditEvent.actor,
    AuditEvent.action,
    AuditEvent.entity,
    AuditEvent.entity_id,
    AuditEvent.before,
    AuditEvent.after,
)


def verify_chain(session: Session, *, batch_size: int = VERIFY_BATCH) -> ChainReport:
    """Walk audit_event in id order and report the first edited, removed or inserted event.

    Ids are not part of the hash and may have gaps (a PostgreSQL sequence skips
    the ids of rolled-back transactions), so a gap alone is never a problem;
    it only helps to explain a broken link. Removing the newest events leaves
    no trace in the chain itself and cannot be detected here.
    """
    checked = 0
    previous: Row[Any] | None = None
    last_id = 0
    while True:
        rows = session.execute(
            select(*_COLUMNS)
            .where(AuditEvent.id > last_id)
            .order_by(AuditEvent.id)
            .limit(batch_size)
        ).all()
        if not rows:
            return ChainReport(checked=checked)
        for row in rows:
            checked += 1
            problem = _content_problem(row) or _link_problem(session, previous, row)
            if problem is not None:
                return ChainReport(checked=checked, first_problem=problem)
            previous = row
        last_id = rows[-1].id


def _content_problem(row: Row[Any]) -> ChainProblem | None:
    """An event whose stored hash does not cover its stored fields was edited."""
    if _hash_of(row) == row.hash:
        return None
    return ChainProblem(row.id, f"audit event {row.id} was edited (its hash does not match it)")


def _link_problem(
    session: Session, previous: Row[Any] | None, row: Row[Any]
) -> ChainProblem | None:
    """Explain why `row` does not point at `previous`, the event before it in id order.

    Both rows are consistent in themselves by now, so the break is a missing,
    added or re-hashed row. What `row` points at (found through the unique
    index on hash, once, only when the chain is already broken) tells which.
    """
    expected = GENESIS if previous is None else previous.hash
    if row.prev_hash == expected:
        return None
    if previous is None:
        return ChainProblem(
            row.id,
            f"audit events before event {row.id} were removed "
            f"(it points to a hash that is not the start of the chain)",
        )
    if row.prev_hash == GENESIS:
        return ChainProblem(
            row.id,
            f"audit event {row.id} was inserted "
            f"(it claims to start the chain, but event {previous.id} comes before it)",
        )
    gap = row.id > previous.id + 1
    target = session.scalar(select(AuditEvent.id).where(AuditEvent.hash == row.prev_hash))
    if target is None:
        if gap:
            first, last = previous.id + 1, row.id - 1
            which = f"event {first} was" if first == last else f"events {first}-{last} were"
            return ChainProblem(
                first,
                f"audit {which} removed "
                f"(event {row.id} points to a hash that is not event {previous.id}'s)",
            )
        # No room for a removed row: the event before was replaced by one with
        # a freshly computed hash, which its successor still does not know.
        return ChainProblem(
            previous.id,
            f"audit event {previous.id} was inserted or rewritten with a forged hash "
            f"(event {row.id} points to a hash that is not event {previous.id}'s)",
        )
    if target < previous.id:
        # A fork at `target`: `row` and the events after `target` both claim it.
        # Rows squeezed in later can only use ids left free, so the branch that
        # sits in an id gap is the intruder; without a gap `row` itself is.
        if gap:
            # previous.id is above target, so the fallback never applies; it keeps mypy honest.
            first = (
                session.scalar(select(func.min(AuditEvent.id)).where(AuditEvent.id > target))
                or previous.id
            )
            if first == previous.id:
                which, skipped = f"event {first} was", "it"
            else:
                which, skipped = f"events {first}-{previous.id} were", "them"
            return ChainProblem(
                first,
                f"audit {which} inserted "
                f"(event {row.id} points to event {target}, skipping {skipped})",
            )
        return ChainProblem(
            row.id,
            f"audit event {row.id} was inserted "
            f"(it points to event {target}, but event {previous.id} comes before it)",
        )
    # It points at itself or at a later event: ids were rewritten out of order.
    return ChainProblem(
        row.id,
        f"audit event {row.id} was inserted or renumbered "
        f"(it points to event {target}, not to event {previous.id} before it)",
    )
