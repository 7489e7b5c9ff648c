"""Find any patient by code or name, whether the queue lists them or not.

The queue reads patients through their next touchpoint, so a patient whose
touchpoints are all resolved never appears on it; this search reads the
patient table itself. A hit is a patient whose code starts with the text, or
whose name holds every word of the text (family and given name in either
order, or the name in the patient's own script), ignoring case. The words are
matched with LIKE, their `%` and `_` escaped so a person's text is only ever
text.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from core.search import PatientHit, search_words
from db.models import Patient, TreatmentEpisode

_ESCAPE = "\\"


def _literal(text: str) -> str:
    """`text` for a LIKE pattern, matched as written: no wildcard of its own."""
    return (
        text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
    )


def find_patients(session: Session, text: str, *, limit: int = 50) -> list[PatientHit]:
    """Up to `limit` patients matching `text`: code prefix first, then by name.

    Empty text finds nobody: a search is for one patient, the queue is for all.
    """
    words = search_words(text)
    if not words or limit < 1:
        return []
    code_prefix = func.lower(Patient.code).like(_literal(" ".join(words)) + "%", escape=_ESCAPE)
    # The own-script name joins the passport name: "さくら" finds 山本 さくら just
    # as "sakura" finds Yamamoto Sakura. No word holds a blank, so no word can
    # match across the join.
    name = func.lower(
        Patient.family_name
        + " "
        + Patient.given_name
        + " "
        + func.coalesce(Patient.native_name, "")
    )
    every_word: ColumnElement[bool] = and_(
        *(name.like(f"%{_literal(word)}%", escape=_ESCAPE) for word in words)
    )
    last_procedure = (
        select(func.max(TreatmentEpisode.procedure_at))
        .where(TreatmentEpisode.patient_id == Patient.id)
        .correlate(Patient)
        .scalar_subquery()
    )
    query = (
        select(
            Patient.id,
            Patient.code,
            Patient.family_name,
            Patient.given_name,
            Patient.current_country,
            Patient.timezone,
            Patient.next_touchpoint_id,
            last_procedure,
            Patient.latest_disposition,
            Patient.native_name,
        )
        # A patient of an import still being written is not yet in the records.
        .where(or_(code_prefix, every_word), Patient.import_batch.is_(None))
        .order_by(
            case((code_prefix, 0), else_=1),
            Patient.family_name,
            Patient.given_name,
            Patient.code,
        )
        .limit(limit)
    )
    return [
        PatientHit(
            patient_id=r[0],
            code=r[1],
            family_name=r[2],
            given_name=r[3],
            current_country=r[4],
            timezone=r[5],
            on_schedule=r[6] is not None,
            last_procedure_at=r[7],
            latest_disposition=r[8],
            native_name=r[9],
        )
        for r in session.execute(query).all()
    ]


def find_patient(session: Session, reference: str) -> int | None:
    """The id of the patient a person named on the command line, or None.

    The clinic's patient code ("AC-000123") wins; a plain number that is no
    one's code is taken as the database id. A patient of an import still being
    written is nobody yet.
    """
    wanted = reference.strip()
    published = Patient.import_batch.is_(None)
    by_code = session.scalar(select(Patient.id).where(Patient.code == wanted, published))
    if by_code is not None:
        return by_code
    if wanted.isascii() and wanted.isdigit():
        return session.scalar(select(Patient.id).where(Patient.id == int(wanted), published))
    return None
