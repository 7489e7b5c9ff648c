"""The patient's follow-up as a FHIR R4 Bundle: Patient, Procedure, CarePlan, the
triages as Observations with their lab suggestions as ServiceRequests, AdverseEvent.

Built with the `fhir.resources.R4B` models, which validate every element as it
is set. fhir.resources 8 ships R4B (4.3.0) and R5, not plain R4 (4.0.1); R4B
changed only medication-definition and evidence resources, so Patient,
Procedure, CarePlan, AdverseEvent and the contained Medication have the same
elements and cardinalities in both, and this JSON is read as R4 by R4 servers.

One Procedure and one CarePlan per treatment episode (the touchpoints are the
CarePlan's activities), one Observation per triage (findings in words, the
outcome with who decides), one ServiceRequest with intent "proposal" per lab
suggestion of a triage (FHIR's word for a suggestion that authorises nothing:
the home physician decides whether to request it), one AdverseEvent per
incident. Products are contained Medications carrying the MFDS reference and
the lot. Seriousness, outcome and severity use the HL7 adverse-event code
systems (CC0); a seriousness no physician has assessed yet is said in text
only, since no code means "not yet assessed". The event itself is free text:
MedDRA is licensed and its codes are never shipped.

The pre-procedure history (allergies, vasovagal history, sensitive skin) and
whether products and add-ons were recorded are notes on the Procedure, always
present and in words ("yes", "no", "none known", "not recorded"): they are the
clinic's screening answers for that visit, not verified AllergyIntolerance or
Condition resources, and a missing note would let "not recorded" pass for "no".
"""

from __future__ import annotations

import html
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import cast

from fhir.resources.R4B.address import Address
from fhir.resources.R4B.adverseevent import (
    AdverseEvent,
    AdverseEventSuspectEntity,
    AdverseEventSuspectEntityCausality,
)
from fhir.resources.R4B.annotation import Annotation
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.careplan import CarePlan, CarePlanActivity, CarePlanActivityDetail
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.contactpoint import ContactPoint
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.medication import Medication, MedicationBatch
from fhir.resources.R4B.narrative import Narrative
from fhir.resources.R4B.observation import Observation, ObservationComponent
from fhir.resources.R4B.patient import Patient, PatientCommunication
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.procedure import Procedure, ProcedurePerformer
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.servicerequest import ServiceRequest

from core.domain import IncidentOutcome, Seriousness, TouchpointState
from core.dossier import (
    EpisodeRecord,
    ProductRecord,
    TouchpointRecord,
    TriageRecord,
    entry_words,
    needs_line,
    recorded_words,
    symptom_words,
)
from core.exports.labels import (
    DISPOSITION_EXPLANATIONS,
    OUTCOME_LABELS,
    SERIOUSNESS_LABELS,
    WHO_DECIDES,
    addon_words,
    product_words,
    report_words,
)
from core.exports.records import ClinicContact, IncidentDetail, PatientExport
from core.incidents import CATEGORY_LABELS
from core.schedules import touchpoint_state

SERIOUSNESS_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
OUTCOME_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
SEVERITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
LANGUAGE_SYSTEM = "urn:ietf:bcp:47"
LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
BODY_TEMPERATURE_LOINC = "8310-5"

LAB_SUGGESTION_NOTE = (
    "A suggestion for the home physician, not an order: the home physician decides "
    "whether to request it."
)

# ICH E2A criteria to the R4 AdverseEventSeriousness codes. "Other medically
# important" has no code of its own: it is plain `Serious` (the text keeps the
# criterion), not "requires intervention to prevent permanent impairment",
# which is a different, device-oriented criterion. "Not yet assessed" has no
# code at all and is left out of this table: it is sent as text only.
SERIOUSNESS_CODES: dict[Seriousness, tuple[str, str]] = {
    Seriousness.NON_SERIOUS: ("Non-serious", "Non-serious"),
    Seriousness.DEATH: ("SeriousResultsInDeath", "Results in death"),
    Seriousness.LIFE_THREATENING: ("SeriousIsLifeThreatening", "Is Life-threatening"),
    Seriousness.HOSPITALISATION: (
        "SeriousResultsInHospitalization",
        "Requires or prolongs inpatient hospitalization",
    ),
    Seriousness.DISABILITY: (
        "SeriousResultsInDisability",
        "Results in persistent or significant disability/incapacity",
    ),
    Seriousness.CONGENITAL_ANOMALY: (
        "SeriousIsBirthDefect",
        "Is a congenital anomaly/birth defect",
    ),
    Seriousness.MEDICALLY_IMPORTANT: ("Serious", "Serious"),
}

OUTCOME_CODES: dict[IncidentOutcome, tuple[str, str]] = {
    IncidentOutcome.RECOVERING: ("recovering", "Recovering"),
    IncidentOutcome.RESOLVED: ("resolved", "Resolved"),
    IncidentOutcome.RESOLVED_WITH_SEQUELAE: ("resolvedWithSequelae", "Resolved with Sequelae"),
    IncidentOutcome.NOT_RESOLVED: ("ongoing", "Ongoing"),
    IncidentOutcome.FATAL: ("fatal", "Fatal"),
    IncidentOutcome.UNKNOWN: ("unknown", "Unknown"),
}

# CTCAE grade to the three-level R4 severity; the grade itself stays in the text.
_SEVERITY_CODES = {1: "mild", 2: "moderate", 3: "severe", 4: "severe", 5: "severe"}

# Touchpoint states to CarePlan activity statuses. R4 has no "overdue": an
# overdue check-in has not started, and the reason says why.
_ACTIVITY_STATUS = {
    TouchpointState.SCHEDULED: "scheduled",
    TouchpointState.DUE: "not-started",
    TouchpointState.OVERDUE: "not-started",
    TouchpointState.DONE: "completed",
    TouchpointState.SKIPPED: "cancelled",
    TouchpointState.UNREACHABLE: "stopped",
}


def build_bundle(export: PatientExport, clinic: ClinicContact) -> Bundle:
    """A `collection` Bundle of the patient's record as of `export.read_at`."""
    ids = _Ids(clinic.name, export.identity.code)
    patient_ref = Reference(reference=ids.url("patient", 0), display=export.identity.display_name)
    entries: list[tuple[str, Resource]] = [(ids.url("patient", 0), _patient(export, ids, clinic))]
    for episode in sorted(export.episodes, key=lambda e: (e.procedure_at, e.episode_id)):
        procedure_url = ids.url("procedure", episode.episode_id)
        entries.append((procedure_url, _procedure(episode, ids, patient_ref)))
        touchpoints = export.episode_touchpoints.get(episode.episode_id, ())
        entries.append(
            (
                ids.url("careplan", episode.episode_id),
                _care_plan(export, episode, touchpoints, ids, patient_ref, clinic),
            )
        )
    for triage in export.dossier.triages:
        observation_url = ids.url("triage", triage.triage_id)
        entries.append((observation_url, _triage_observation(triage, ids, patient_ref)))
        for number, lab in enumerate(triage.labs, 1):
            kind = f"lab-suggestion-{triage.triage_id}"
            entries.append(
                (
                    ids.url(kind, number),
                    _lab_suggestion(
                        lab, ids.id(kind, number), triage, observation_url, patient_ref, clinic
                    ),
                )
            )
    for incident in export.incidents:
        entries.append(
            (
                ids.url("adverse-event", incident.incident_id),
                _adverse_event(incident, ids, patient_ref),
            )
        )
    return Bundle(
        id=ids.id("bundle", int(export.read_at.timestamp())),
        type="collection",
        timestamp=export.read_at,
        entry=[BundleEntry(fullUrl=url, resource=resource) for url, resource in entries],
    )


def bundle_json(bundle: Bundle) -> str:
    """The Bundle as indented JSON text, the way FHIR tools exchange it."""
    return bundle.model_dump_json(indent=2)


class _Ids:
    """Stable resource ids: the same record exports under the same id every time.

    Name-based UUIDs over the clinic, the patient code and the database id,
    so a receiver can match a re-export to the copy it already holds, and two
    clinics' bundles never collide.
    """

    def __init__(self, clinic: str, patient_code: str) -> None:
        self._prefix = f"aftercare:{clinic}:{patient_code}"

    def id(self, kind: str, number: int) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self._prefix}:{kind}:{number}"))

    def url(self, kind: str, number: int) -> str:
        return f"urn:uuid:{self.id(kind, number)}"


def _patient(export: PatientExport, ids: _Ids, clinic: ClinicContact) -> Patient:
    who = export.identity
    telecom = [
        ContactPoint(system=system, value=value)
        for system, value in (("phone", who.phone), ("email", who.email))
        if value
    ]
    return Patient(
        id=ids.id("patient", 0),
        identifier=[
            Identifier(
                use="usual",
                type=CodeableConcept(text="Clinic patient code"),
                value=who.code,
                assigner=Reference(display=clinic.name),
            )
        ],
        active=True,
        name=[
            HumanName(
                use="official",
                family=who.family_name,
                given=[who.given_name],
                text=who.display_name,
            ),
            # The own-script name as the patient writes it: FHIR keeps it as
            # text only, since family/given order differs between scripts.
            *([HumanName(use="usual", text=who.native_name)] if who.native_name else []),
        ],
        birthDate=who.birth_date,
        telecom=telecom or None,
        address=[Address(use="home", country=who.home_country)],
        communication=[
            PatientCommunication(
                language=CodeableConcept(
                    coding=[Coding(system=LANGUAGE_SYSTEM, code=who.language)],
                    text=who.language,
                ),
                preferred=True,
            )
        ],
    )


def _procedure(episode: EpisodeRecord, ids: _Ids, patient: Reference) -> Procedure:
    # Products are contained: they only exist as given in this procedure.
    medications: list[Resource] = [
        _medication(f"product-{n}", p) for n, p in enumerate(episode.products, 1)
    ]
    performers = []
    if episode.treating_physician:
        performers.append(_performer(episode.treating_physician, "Treating physician"))
    if episode.nurse_name:
        nurse = episode.nurse_name + (
            f" (licence {episode.nurse_license_ref})" if episode.nurse_license_ref else ""
        )
        performers.append(_performer(nurse, "Nurse"))
    # The history is always said, in all three states: a note left out would
    # let a reader take "not recorded" for "no" (docs/clinical-rules.md).
    notes = [
        f"Add-on infusions: {addon_words(episode) or episode.no_addons_words}",
        f"Known allergies: {episode.allergies_words}",
        f"Vasovagal history: {recorded_words(episode.vasovagal_history)}",
        f"Sensitive skin: {recorded_words(episode.sensitive_skin)}",
        None if episode.products else f"Products given: {episode.no_products_words}",
        f"Flew home {episode.departure_date.isoformat()}" if episode.departure_date else None,
    ]
    return Procedure(
        id=ids.id("procedure", episode.episode_id),
        contained=medications or None,
        status="completed",
        code=CodeableConcept(text=episode.protocol_label),
        subject=patient,
        performedDateTime=episode.procedure_at,
        performer=performers or None,
        usedReference=[
            Reference(reference=f"#{m.id}", display=p.name)
            for m, p in zip(medications, episode.products, strict=True)
        ]
        or None,
        note=[Annotation(text=n) for n in notes if n] or None,
    )


def _performer(name: str, role: str) -> ProcedurePerformer:
    return ProcedurePerformer(function=CodeableConcept(text=role), actor=Reference(display=name))


def _medication(local_id: str, product: ProductRecord) -> Medication:
    return Medication(
        id=local_id,
        code=CodeableConcept(text=product.name),
        identifier=[
            Identifier(
                type=CodeableConcept(text="MFDS product reference"), value=product.mfds_reference
            )
        ]
        if product.mfds_reference
        else None,
        manufacturer=Reference(display=product.manufacturer) if product.manufacturer else None,
        batch=MedicationBatch(
            lotNumber=product.lot_number,
            expirationDate=_as_fhir_date(product.expiry_date),
        )
        if product.lot_number or product.expiry_date
        else None,
    )


def _care_plan(
    export: PatientExport,
    episode: EpisodeRecord,
    touchpoints: tuple[TouchpointRecord, ...],
    ids: _Ids,
    patient: Reference,
    clinic: ClinicContact,
) -> CarePlan:
    states = [
        touchpoint_state(export.read_at, tp.opens_at, tp.closes_at, tp.resolution)
        for tp in touchpoints
    ]
    finished = all(tp.resolution is not None for tp in touchpoints)
    return CarePlan(
        id=ids.id("careplan", episode.episode_id),
        status="completed" if finished else "active",
        intent="plan",
        title=f"Remote follow-up after {episode.protocol_label}",
        description="Planned check-ins with the patient after the trip home, "
        f"on schedules: {', '.join(episode.schedule_templates) or 'none'}.",
        subject=patient,
        period=Period(
            start=episode.procedure_at,
            end=max((tp.closes_at for tp in touchpoints), default=None),
        ),
        author=Reference(display=clinic.name),
        supportingInfo=[Reference(reference=ids.url("procedure", episode.episode_id))],
        activity=[_activity(tp, state) for tp, state in zip(touchpoints, states, strict=True)]
        or None,
    )


def _activity(tp: TouchpointRecord, state: TouchpointState) -> CarePlanActivity:
    reason = {
        TouchpointState.OVERDUE: "Overdue: the check-in window closed without contact",
        TouchpointState.UNREACHABLE: "Patient unreachable",
    }.get(state)
    progress = (
        [Annotation(text=tp.note, time=tp.resolved_at, authorString=tp.resolved_by)]
        if tp.note
        else None
    )
    return CarePlanActivity(
        progress=progress,
        detail=CarePlanActivityDetail(
            code=CodeableConcept(text=f"Day {tp.day} check-in ({tp.template})"),
            status=_ACTIVITY_STATUS[state],
            statusReason=CodeableConcept(text=reason) if reason else None,
            scheduledPeriod=Period(start=tp.opens_at, end=tp.closes_at),
            description=tp.ask,
        ),
    )


def _triage_observation(triage: TriageRecord, ids: _Ids, patient: Reference) -> Observation:
    """A triage as the clinic recorded it: findings in words, the outcome and who decides."""
    overridden = triage.chosen is not triage.computed
    trend = f"; trend {triage.trend.value}" if triage.trend else ""
    lines = [
        f"Day {triage.day} after the procedure. Findings: "
        f"{symptom_words(triage.symptoms) or 'nothing reported'}{trend}.",
        "Rules that fired: " + "; ".join(triage.reasons) if triage.reasons else None,
        needs_line(triage.needs),
        f"The rules computed {triage.computed.value}; the coordinator chose "
        f"{triage.chosen.value}: {triage.override_reason or 'no reason recorded'}"
        if overridden
        else None,
        f"Coordinator's note: {triage.note}" if triage.note else None,
        WHO_DECIDES,
    ]
    temperature = (
        [
            ObservationComponent(
                code=CodeableConcept(
                    coding=[
                        Coding(
                            system=LOINC_SYSTEM,
                            code=BODY_TEMPERATURE_LOINC,
                            display="Body temperature",
                        )
                    ],
                    text="Body temperature",
                ),
                # The shortest decimal that is the stored float: 38.6, never 38.600000000000001.
                valueQuantity=Quantity(
                    value=Decimal(str(triage.temperature_c)),
                    unit="°C",
                    system=UCUM_SYSTEM,
                    code="Cel",
                ),
            )
        ]
        if triage.temperature_c is not None
        else None
    )
    return Observation(
        id=ids.id("triage", triage.triage_id),
        identifier=[
            Identifier(
                type=CodeableConcept(text="Clinic triage number"), value=str(triage.triage_id)
            )
        ],
        status="final",
        code=CodeableConcept(
            text="Follow-up triage by a clinic coordinator (decision support, not a diagnosis)"
        ),
        subject=patient,
        effectiveDateTime=triage.assessed_at,
        performer=[Reference(display=triage.staff)] if triage.staff else None,
        valueCodeableConcept=CodeableConcept(text=DISPOSITION_EXPLANATIONS[triage.chosen]),
        note=[Annotation(text=line) for line in lines if line],
        component=temperature,
    )


def _lab_suggestion(
    text: str,
    resource_id: str,
    triage: TriageRecord,
    observation_url: str,
    patient: Reference,
    clinic: ClinicContact,
) -> ServiceRequest:
    """One lab suggestion of a triage: a proposal to the home physician, never an order."""
    return ServiceRequest(
        id=resource_id,
        status="active",
        intent="proposal",
        code=CodeableConcept(text=text),
        subject=patient,
        authoredOn=triage.assessed_at,
        requester=Reference(display=clinic.name),
        performerType=CodeableConcept(text="The patient's home physician"),
        reasonReference=[Reference(reference=observation_url)],
        note=[Annotation(text=LAB_SUGGESTION_NOTE)],
    )


def _seriousness(seriousness: Seriousness) -> CodeableConcept:
    words = SERIOUSNESS_LABELS[seriousness]
    coded = SERIOUSNESS_CODES.get(seriousness)
    if coded is None:
        # Not yet assessed: no HL7 code says that, and none is made up.
        return CodeableConcept(text=words)
    code, display = coded
    return CodeableConcept(
        coding=[Coding(system=SERIOUSNESS_SYSTEM, code=code, display=display)], text=words
    )


def _adverse_event(incident: IncidentDetail, ids: _Ids, patient: Reference) -> AdverseEvent:
    outcome_code, outcome_display = OUTCOME_CODES[incident.outcome]
    suspect = incident.suspect_product
    contained: list[Resource] | None = (
        [_medication("suspect-product", suspect)] if suspect else None
    )
    return AdverseEvent(
        id=ids.id("adverse-event", incident.incident_id),
        text=_narrative(incident),
        contained=contained,
        identifier=Identifier(
            type=CodeableConcept(text="Clinic incident number"), value=str(incident.incident_id)
        ),
        actuality="actual",
        event=CodeableConcept(text=CATEGORY_LABELS[incident.category]),
        subject=patient,
        date=_as_fhir_date(incident.onset_date),
        detected=_as_fhir_date(incident.learned_on),
        recordedDate=incident.opened_at,
        seriousness=_seriousness(incident.seriousness),
        severity=_severity(incident.severity_grade),
        outcome=CodeableConcept(
            coding=[Coding(system=OUTCOME_SYSTEM, code=outcome_code, display=outcome_display)],
            text=OUTCOME_LABELS[incident.outcome],
        ),
        suspectEntity=[
            AdverseEventSuspectEntity(
                instance=Reference(reference="#suspect-product", display=product_words(suspect)),
                causality=[
                    AdverseEventSuspectEntityCausality(
                        assessment=CodeableConcept(text=incident.causality)
                    )
                ]
                if incident.causality
                else None,
            )
        ]
        if suspect
        else None,
        subjectMedicalHistory=[Reference(reference=ids.url("procedure", incident.episode_id))]
        if incident.episode_id is not None
        else None,
    )


def _severity(grade: int | None) -> CodeableConcept | None:
    if grade is None or grade not in _SEVERITY_CODES:
        return None
    code = _SEVERITY_CODES[grade]
    return CodeableConcept(
        coding=[Coding(system=SEVERITY_SYSTEM, code=code, display=code.capitalize())],
        text=f"CTCAE-style grade {grade}",
    )


def _narrative(incident: IncidentDetail) -> Narrative:
    # R4 AdverseEvent has no note element: actions, reporting and the entries
    # of the incident's timeline travel in the human-readable narrative.
    lines = [
        f"Incident #{incident.incident_id}: {CATEGORY_LABELS[incident.category]}",
        f"Actions taken: {incident.actions_taken or 'none recorded'}",
        "Report to MFDS: "
        + report_words(incident.report_due_on, incident.reported_on, incident.report_reference),
        *(
            f"{note.at.isoformat(timespec='minutes')} {entry_words(note.kind)}: {note.text}"
            for note in incident.notes
        ),
    ]
    # XML refuses control characters, so a stray one in a stored note is dropped.
    items = "".join(
        "<li>" + html.escape("".join(c if c.isprintable() else " " for c in line)) + "</li>"
        for line in lines
    )
    return Narrative(
        status="generated", div=f'<div xmlns="http://www.w3.org/1999/xhtml"><ul>{items}</ul></div>'
    )


def _as_fhir_date(day: date | None) -> datetime | None:
    # FHIR dateTime allows day precision and fhir.resources accepts a date for
    # it (serialised "2026-11-20"), but types the field as datetime; a made-up
    # midnight would claim a precision the record does not have.
    return cast("datetime | None", day)
