"""The last door for text people write: no row of theirs is stored holding terminal control.

The forms, the imports and the command line already refuse control characters
field by field, with the field's name (core.plain_text). Free text reaches the
database by more paths than those (a contact note, a triage's written reason, an
incident entry, a closing note, a report reference), and a new path can forget;
so every flush of a row people write is checked here too, and refused as one
sentence naming the field. Newline and tab stay allowed (notes span lines).

Rows the program itself writes (delivery results, leases, audit events) are not
checked: a mail server's odd error text must never stop a page from being recorded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, Text, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from core.plain_text import control_problem
from core.refusals import Refused

PEOPLES_TABLES = frozenset(
    {
        "staff",
        "patient",
        "treatment_episode",
        "product_given",
        "touchpoint",
        "contact_attempt",
        "triage_assessment",
        "incident",
        "incident_entry",
        "oncall_shift",
    }
)


class ControlCharacterRefused(Refused):
    """A field people write holds a control character; nothing was saved."""


def _check(row: Any, *, changed_only: bool) -> None:
    table = getattr(row, "__tablename__", None)
    if table not in PEOPLES_TABLES:
        return
    state = inspect(row)
    for column in state.mapper.columns:
        if not isinstance(column.type, String | Text) or column.key not in state.attrs:
            continue
        attribute = state.attrs[column.key]
        # A changed row: only what changed (reading the rest could load it again).
        values = attribute.history.added if changed_only else [attribute.value]
        for value in values:
            problem = control_problem(value, notes=True) if isinstance(value, str) else None
            if problem is not None:
                field = column.key.replace("_", " ").capitalize()
                raise ControlCharacterRefused(f"{field} {problem}; nothing was saved")


def _before_flush(session: Session, _context: object, _instances: object) -> None:
    for row in session.new:
        _check(row, changed_only=False)
    for row in session.dirty:
        _check(row, changed_only=True)


def guard(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """`factory`, whose sessions refuse to store terminal control in people's rows."""
    event.listen(factory, "before_flush", _before_flush)
    return factory
