"""Small read queries shared by the command line and the screens."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Patient


def patient_count(session: Session) -> int:
    """How many patients the database holds."""
    return session.scalar(select(func.count()).select_from(Patient)) or 0
