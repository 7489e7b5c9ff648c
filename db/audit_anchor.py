"""The audit chain's head, and the check of anchors taken earlier against the database.

An anchor (`core.audit_anchor`) names an event by id and hash as it was when
the anchor was taken. The chain check (`db.audit.verify_chain`) proves the
events link up; the anchors prove they are still the ones that were there:

- the anchored event is gone and the chain ends before it: the newest events
  were removed, or an older copy of the database was put back;
- the anchored event is gone from inside the chain: it was removed and the
  events around it hashed again;
- the anchored event has another hash: the events up to it were changed and
  every hash computed again, or an older copy was put back and has gone on since;
- fewer events than the anchor counted: events were removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit_anchor import Anchor, ChainHead
from db.audit import GENESIS
from db.models import AuditEvent


def chain_head(session: Session) -> ChainHead:
    """The newest audit event and the number of events, read in one statement, so
    both come from the same moment even while others append."""
    total = select(func.count()).select_from(AuditEvent).scalar_subquery()
    row = session.execute(
        select(AuditEvent.id, AuditEvent.hash, AuditEvent.at, total)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return ChainHead(0, GENESIS, None, 0)
    return ChainHead(row[0], row[1], row[2], int(row[3]))


@dataclass(frozen=True)
class AnchorProblem:
    """The first anchor the database does not match: which, and what that means."""

    number: int
    """Its place among the anchors checked, from 1."""
    anchor: Anchor
    message: str


@dataclass(frozen=True)
class AnchorReport:
    """Outcome of `check_anchors`; `checked` counts the anchors read, up to and
    including the first that failed."""

    checked: int
    total: int
    first_problem: AnchorProblem | None = None

    @property
    def ok(self) -> bool:
        """True when every anchored event is still there with its anchored hash."""
        return self.first_problem is None


def check_anchors(session: Session, anchors: Sequence[Anchor]) -> AnchorReport:
    """Check each anchor, in the order given, against the database; stop at the first
    that fails. Two short queries an anchor (by primary key) and one for the head."""
    head = chain_head(session)
    for number, anchor in enumerate(anchors, start=1):
        message = _mismatch(session, anchor, head)
        if message is not None:
            return AnchorReport(number, len(anchors), AnchorProblem(number, anchor, message))
    return AnchorReport(len(anchors), len(anchors))


def _mismatch(session: Session, anchor: Anchor, head: ChainHead) -> str | None:
    anchored = anchor.head
    if anchored.event_id > 0:
        stored = session.scalar(select(AuditEvent.hash).where(AuditEvent.id == anchored.event_id))
        if stored is None and head.event_id < anchored.event_id:
            ends = "has no audit events" if head.event_id == 0 else f"ends at event {head.event_id}"
            return (
                f"the audit trail {ends}, before the anchored event {anchored.event_id}: "
                f"the newest events were removed, or an older copy of the database was put back"
            )
        if stored is None:
            return (
                f"audit event {anchored.event_id} is missing: it was removed and the "
                f"events after it hashed again"
            )
        if stored != anchored.hash:
            return (
                f"audit event {anchored.event_id} no longer has the anchored hash: the events "
                f"up to it were changed and every hash computed again, or an older copy of "
                f"the database was put back and has gone on since"
            )
    if head.events < anchored.events:
        return (
            f"the audit trail holds {head.events} events, fewer than the {anchored.events} "
            f"anchored: events were removed"
        )
    return None
