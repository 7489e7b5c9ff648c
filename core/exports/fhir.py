"""The patient's follow-up as a FHIR R4 Bundle: Patient, the products given as
Medications, Procedure, CarePlan, each triage with its findings as Observations and
its lab suggestions as ServiceRequests, the reaction each incident resulted in as a
Condition, and the AdverseEvent.

Built with the `fhir.resources.R4B` models, which validate every element as it
is set. fhir.resources 8 ships R4B (4.3.0) and R5, not plain R4 (4.0.1); R4B
changed only medication-definition and evidence resources, so every resource
sent here has the same elements and cardinalities in both, and this JSON is read
as R4 by R4 servers.

One Procedure and one CarePlan per treatment episode (the touchpoints are the
CarePlan's activities). Each product given is one Medication entry carrying the
MFDS reference and the lot, referenced by its Procedure and by any AdverseEvent
that suspects it. Each triage is an Observation (the outcome with who decides),
derived from one Observation per reported symptom and one for the temperature
(LOINC 8310-5, in Cel); each lab suggestion a ServiceRequest with intent
"proposal" (FHIR's word for a suggestion that authorises nothing). Each incident
is an AdverseEvent: R4 gives it no element for findings, so it points through
`resultingCondition` to a Condition (the reaction, never a diagnosis) whose
`evidence` references the findings of the triage that opened it. Codes only
where one means exactly what was recorded (core/exports/fhir_terms.py): HL7's
adverse-event code systems (CC0), SNOMED CT and LOINC; otherwise text. MedDRA is
licensed and its codes are never shipped.

Every instant is in clinic time with its offset (+09:00), and the narrative says
the zone in words ("Asia/Seoul, UTC+9"), so no reader takes a time for UTC.

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
from typing import Any, cast

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
from fhir.resources.R4B.condition import Condition, ConditionEvidence
from fhir.resources.R4B.contactpoint import ContactPoint
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.medication import Medication, MedicationBatch
from fhir.resources.R4B.narrative import Narrative
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient, PatientCommunication
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.procedure import Procedure, ProcedurePerformer
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.servicerequest import ServiceRequest

from core.domain import Channel, Seriousness, TouchpointState
from core.dossier import (
    EpisodeRecord,
    ProductRecord,
    TouchpointRecord,
    TriageRecord,
    channel_label,
    entry_words,
    needs_line,
    recorded_words,
    symptom_words,
)
from core.exports.fhir_terms import (
    BODY_TEMPERATURE_LOINC,
    CAUSALITY_ASSESSMENT_SYSTEM,
    CAUSALITY_CODES,
    CAUSALITY_METHOD_WORDS,
    CONDITION_CLINICAL,
    CONDITION_CLINICAL_SYSTEM,
    CONDITION_VERIFICATION_SYSTEM,
    EVENT_SNOMED,
    LANGUAGE_EXTENSION,
    LANGUAGE_SYSTEM,
    LOINC_SYSTEM,
    OBSERVATION_CATEGORY_SYSTEM,
    OUTCOME_CODES,
    OUTCOME_SYSTEM,
    SERIOUSNESS_CODES,
    SERIOUSNESS_SYSTEM,
    SEVERITY_CODES,
    SEVERITY_SYSTEM,
    SNOMED_SYSTEM,
    SYMPTOM_LOINC,
    SYMPTOM_SNOMED,
    UCUM_SYSTEM,
    clinic_time,
    clinic_time_words,
    name_language_tag,
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
from core.plain_text import is_control
from core.schedules import touchpoint_state

__all__ = [
    "OUTCOME_CODES",
    "OUTCOME_SYSTEM",
    "SERIOUSNESS_CODES",
    "SERIOUSNESS_SYSTEM",
    "build_bundle",
    "bundle_json",
]

LAB_SUGGESTION_NOTE = (
    "A suggestion for the home physician, not an order: the home physician decides "
    "whether to request it."
)

REPORTED_NOT_DIAGNOSED = (
    "What the patient reported to the clinic's coordinators after the procedure; not a diagnosis."
)
"""Said on every finding and on the reaction an incident resulted in."""

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

# Messaging channels have no ContactPoint system of their own; these have.
_CHANNEL_SYSTEMS = {Channel.EMAIL: "email", Channel.PHONE: "phone", Channel.SMS: "sms"}


def build_bundle(export: PatientExport, clinic: ClinicContact) -> Bundle:
    """A `collection` Bundle of the patient's record as of `export.read_at`."""
    ids = _Ids(clinic.name, export.identity.code)
    patient_ref = Reference(reference=ids.url("patient", 0), display=export.identity.display_name)
    entries: list[tuple[str, Resource]] = [(ids.url("patient", 0), _patient(export, ids, clinic))]
    # Each product given is one Medication in the Bundle, referenced by its Procedure
    # and by any AdverseEvent that suspects it: one copy, so its lot is said once.
    products: dict[tuple[int, ProductRecord], str] = {}
    for episode in sorted(export.episodes, key=lambda e: (e.procedure_at, e.episode_id)):
        used = []
        for number, product in enumerate(episode.products, 1):
            kind = f"product-{episode.episode_id}"
            entries.append((ids.url(kind, number), _medication(ids.id(kind, number), product)))
            products.setdefault((episode.episode_id, product), ids.url(kind, number))
            used.append(Reference(reference=ids.url(kind, number), display=product.name))
        entries.append(
            (
                ids.url("procedure", episode.episode_id),
                _procedure(episode, ids, patient_ref, used),
            )
        )
        touchpoints = export.episode_touchpoints.get(episode.episode_id, ())
        entries.append(
            (
                ids.url("careplan", episode.episode_id),
                _care_plan(export, episode, touchpoints, ids, patient_ref, clinic),
            )
        )
    findings: dict[int, list[Reference]] = {}
    for triage in export.dossier.triages:
        reported = _findings(triage, ids, patient_ref)
        entries.extend(reported)
        findings[triage.triage_id] = [
            Reference(reference=url, display=_finding_words(observation))
            for url, observation in reported
        ]
        observation_url = ids.url("triage", triage.triage_id)
        entries.append(
            (
                observation_url,
                _triage_observation(triage, ids, patient_ref, findings[triage.triage_id]),
            )
        )
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
        suspect_url = None
        if incident.suspect_product is not None:
            suspect_url = _given(incident, products)
            if suspect_url is None:
                # Not among the episodes exported: the Bundle still holds it once.
                suspect_url = ids.url("suspect-product", incident.incident_id)
                medication = _medication(
                    ids.id("suspect-product", incident.incident_id), incident.suspect_product
                )
                entries.append((suspect_url, medication))
        triage_id = _opening_triage(incident)
        evidence = findings.get(triage_id, []) if triage_id is not None else []
        reaction = None
        if evidence:
            reaction = Reference(
                reference=ids.url("reaction", incident.incident_id),
                display=_event(incident).text,
            )
            entries.append(
                (
                    ids.url("reaction", incident.incident_id),
                    _reaction(incident, ids, patient_ref, evidence),
                )
            )
        entries.append(
            (
                ids.url("adverse-event", incident.incident_id),
                _adverse_event(incident, ids, patient_ref, suspect_url, reaction, evidence),
            )
        )
    return Bundle(
        id=ids.id("bundle", int(export.read_at.timestamp())),
        type="collection",
        timestamp=clinic_time(export.read_at),
        entry=[BundleEntry(fullUrl=url, resource=resource) for url, resource in entries],
    )


def _given(incident: IncidentDetail, products: dict[tuple[int, ProductRecord], str]) -> str | None:
    """The Medication of the suspect product as given in the incident's episode (or,
    with no episode recorded, in any exported episode)."""
    for (episode_id, product), url in products.items():
        if product == incident.suspect_product and incident.episode_id in (None, episode_id):
            return url
    return None


def _opening_triage(incident: IncidentDetail) -> int | None:
    """The triage that opened the incident, whose findings are the incident's
    (None for an incident opened by hand)."""
    return incident.triage_id


def bundle_json(bundle: Bundle) -> str:
    """The Bundle as indented JSON text, the way FHIR tools exchange it.

    JSON escapes C0 itself; DEL, C1 and the bidi overrides it writes as they are,
    so they are written as \\uXXXX here: the same string to any JSON reader, and
    nothing a terminal obeys when the bundle goes to standard output.
    """
    text = bundle.model_dump_json(indent=2)
    if not any(is_control(char) for char in text.replace("\n", "")):
        return text
    # Outside strings JSON is ASCII with newlines, so every such character is in a string.
    return "".join(
        f"\\u{ord(char):04x}" if char != "\n" and is_control(char) else char for char in text
    )


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
            *([_own_script_name(who.native_name, who.language)] if who.native_name else []),
        ],
        birthDate=who.birth_date,
        telecom=_telecom(export) or None,
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


def _own_script_name(name: str, language: str) -> HumanName:
    # The name as the patient writes it, as text only: family/given order differs
    # between scripts. R4's Human Language extension on HumanName says its
    # language and script ('ja-Jpan'), so a receiver need not guess.
    tag = name_language_tag(name, language)
    return HumanName(
        use="usual",
        text=name,
        extension=[Extension(url=LANGUAGE_EXTENSION, valueCode=tag)] if tag else None,
    )


def _telecom(export: PatientExport) -> list[ContactPoint]:
    """The way the clinic reaches the patient first (rank 1), then phone and email.

    R4's ContactPoint has no system for a messenger and no text element: a LINE,
    WeChat, WhatsApp or KakaoTalk handle is system `other`, its value the handle
    as recorded followed by the messenger's name, so a reader knows which app to
    open without an extension no receiver reads.
    """
    who = export.identity
    points: list[ContactPoint] = []
    if who.channel_handle:
        system = _CHANNEL_SYSTEMS.get(who.channel)
        value = (
            who.channel_handle if system else f"{who.channel_handle} ({channel_label(who.channel)})"
        )
        points.append(ContactPoint(system=system or "other", value=value, rank=1))
    for kind, number in (("phone", who.phone), ("email", who.email)):
        if number and not any(p.system == kind and p.value == number for p in points):
            points.append(ContactPoint(system=kind, value=number))
    return points


def _procedure(
    episode: EpisodeRecord, ids: _Ids, patient: Reference, used: list[Reference]
) -> Procedure:
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
        *(f"{p.name}: dose {p.dose}" for p in episode.products if p.dose),
        f"Flew home {episode.departure_date.isoformat()}" if episode.departure_date else None,
    ]
    return Procedure(
        id=ids.id("procedure", episode.episode_id),
        status="completed",
        code=CodeableConcept(text=episode.protocol_label),
        subject=patient,
        performedDateTime=clinic_time(episode.procedure_at),
        performer=performers or None,
        usedReference=used or None,
        note=[Annotation(text=n) for n in notes if n] or None,
    )


def _performer(name: str, role: str) -> ProcedurePerformer:
    return ProcedurePerformer(function=CodeableConcept(text=role), actor=Reference(display=name))


def _medication(resource_id: str, product: ProductRecord) -> Medication:
    return Medication(
        id=resource_id,
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
    last = max((tp.closes_at for tp in touchpoints), default=None)
    return CarePlan(
        id=ids.id("careplan", episode.episode_id),
        status="completed" if finished else "active",
        intent="plan",
        title=f"Remote follow-up after {episode.protocol_label}",
        description="Planned check-ins with the patient after the trip home, "
        f"on schedules: {', '.join(episode.schedule_templates) or 'none'}.",
        subject=patient,
        period=Period(
            start=clinic_time(episode.procedure_at),
            end=clinic_time(last) if last is not None else None,
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
        [
            Annotation(
                text=tp.note,
                time=clinic_time(tp.resolved_at) if tp.resolved_at else None,
                authorString=tp.resolved_by,
            )
        ]
        if tp.note
        else None
    )
    return CarePlanActivity(
        progress=progress,
        detail=CarePlanActivityDetail(
            code=CodeableConcept(text=f"Day {tp.day} check-in ({tp.template})"),
            status=_ACTIVITY_STATUS[state],
            statusReason=CodeableConcept(text=reason) if reason else None,
            scheduledPeriod=Period(start=clinic_time(tp.opens_at), end=clinic_time(tp.closes_at)),
            description=tp.ask,
        ),
    )


def _findings(triage: TriageRecord, ids: _Ids, patient: Reference) -> list[tuple[str, Observation]]:
    """Each symptom the patient reported at a triage, and their temperature, as one
    Observation each: what a receiving system can file and chart."""
    kind = f"finding-{triage.triage_id}"
    reported = []
    for number, symptom in enumerate(triage.symptoms, 1):
        snomed = SYMPTOM_SNOMED.get(symptom)
        value = CodeableConcept(
            coding=[Coding(system=SNOMED_SYSTEM, code=snomed[0], display=snomed[1])]
            if snomed
            else None,
            text=symptom_words((symptom,)),
        )
        code, display = SYMPTOM_LOINC
        reported.append(
            (
                ids.url(kind, number),
                _finding(
                    ids.id(kind, number),
                    triage,
                    patient,
                    code=CodeableConcept(
                        coding=[Coding(system=LOINC_SYSTEM, code=code, display=display)],
                        text="Symptom reported by the patient",
                    ),
                    valueCodeableConcept=value,
                ),
            )
        )
    if triage.temperature_c is not None:
        code, display = BODY_TEMPERATURE_LOINC
        reported.append(
            (
                ids.url(f"temperature-{triage.triage_id}", 0),
                _finding(
                    ids.id(f"temperature-{triage.triage_id}", 0),
                    triage,
                    patient,
                    category=[
                        CodeableConcept(
                            coding=[
                                Coding(
                                    system=OBSERVATION_CATEGORY_SYSTEM,
                                    code="vital-signs",
                                    display="Vital Signs",
                                )
                            ]
                        )
                    ],
                    code=CodeableConcept(
                        coding=[Coding(system=LOINC_SYSTEM, code=code, display=display)],
                        text=display,
                    ),
                    # The shortest decimal that is the stored float: 38.6, never
                    # 38.600000000000001.
                    valueQuantity=Quantity(
                        value=Decimal(str(triage.temperature_c)),
                        unit="°C",
                        system=UCUM_SYSTEM,
                        code="Cel",
                    ),
                ),
            )
        )
    return reported


def _finding(
    resource_id: str, triage: TriageRecord, patient: Reference, **value: Any
) -> Observation:
    return Observation(
        id=resource_id,
        status="final",
        subject=patient,
        effectiveDateTime=clinic_time(triage.assessed_at),
        # The patient reported it; the coordinator only wrote it down.
        performer=[patient],
        note=[Annotation(text=REPORTED_NOT_DIAGNOSED)],
        **value,
    )


def _finding_words(observation: Observation) -> str:
    if observation.valueQuantity is not None:
        quantity = observation.valueQuantity
        return f"temperature {quantity.value} {quantity.unit}"
    concept = observation.valueCodeableConcept
    return (concept.text if concept is not None else None) or "finding"


def _triage_observation(
    triage: TriageRecord, ids: _Ids, patient: Reference, findings: list[Reference]
) -> Observation:
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
        effectiveDateTime=clinic_time(triage.assessed_at),
        performer=[Reference(display=triage.staff)] if triage.staff else None,
        valueCodeableConcept=CodeableConcept(text=DISPOSITION_EXPLANATIONS[triage.chosen]),
        note=[Annotation(text=line) for line in lines if line],
        # The outcome was reached from these findings.
        derivedFrom=findings or None,
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
        authoredOn=clinic_time(triage.assessed_at),
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


def _event(incident: IncidentDetail) -> CodeableConcept:
    """What happened: SNOMED CT where a concept means exactly the category, else words."""
    snomed = EVENT_SNOMED.get(incident.category)
    return CodeableConcept(
        coding=[Coding(system=SNOMED_SYSTEM, code=snomed[0], display=snomed[1])]
        if snomed
        else None,
        text=CATEGORY_LABELS[incident.category],
    )


def _causality(incident: IncidentDetail) -> list[AdverseEventSuspectEntityCausality] | None:
    if not incident.causality:
        return None
    coded = CAUSALITY_CODES.get(incident.causality.strip().lower())
    return [
        AdverseEventSuspectEntityCausality(
            assessment=CodeableConcept(
                coding=[Coding(system=CAUSALITY_ASSESSMENT_SYSTEM, code=coded[0], display=coded[1])]
                if coded
                else None,
                text=incident.causality,
            ),
            method=CodeableConcept(text=CAUSALITY_METHOD_WORDS) if coded else None,
        )
    ]


def _reaction(
    incident: IncidentDetail, ids: _Ids, patient: Reference, evidence: list[Reference]
) -> Condition:
    """The reaction the incident resulted in, with the findings it rests on.

    R4's AdverseEvent has no element for findings; its `resultingCondition` is
    "the reaction that occurred", a Condition, whose `evidence` may reference any
    resource: the findings' Observations. Provisional once a physician has
    classified the incident, unconfirmed before; never a diagnosis.
    """
    clinical = CONDITION_CLINICAL.get(incident.outcome)
    verification = (
        ("unconfirmed", "Unconfirmed")
        if incident.seriousness is Seriousness.NOT_ASSESSED
        else ("provisional", "Provisional")
    )
    return Condition(
        id=ids.id("reaction", incident.incident_id),
        clinicalStatus=CodeableConcept(
            coding=[
                Coding(
                    system=CONDITION_CLINICAL_SYSTEM, code=clinical, display=clinical.capitalize()
                )
            ],
            text=OUTCOME_LABELS[incident.outcome],
        )
        if clinical
        else None,
        verificationStatus=CodeableConcept(
            coding=[
                Coding(
                    system=CONDITION_VERIFICATION_SYSTEM,
                    code=verification[0],
                    display=verification[1],
                )
            ],
            text=SERIOUSNESS_LABELS[Seriousness.NOT_ASSESSED]
            if incident.seriousness is Seriousness.NOT_ASSESSED
            else "Classified by a physician; not a diagnosis",
        ),
        code=_event(incident),
        subject=patient,
        onsetDateTime=_as_fhir_date(incident.onset_date),
        recordedDate=clinic_time(incident.opened_at),
        evidence=[ConditionEvidence(detail=evidence)],
        note=[Annotation(text=REPORTED_NOT_DIAGNOSED)],
    )


def _adverse_event(
    incident: IncidentDetail,
    ids: _Ids,
    patient: Reference,
    suspect_url: str | None,
    reaction: Reference | None,
    findings: list[Reference],
) -> AdverseEvent:
    outcome_code, outcome_display = OUTCOME_CODES[incident.outcome]
    suspect = incident.suspect_product
    return AdverseEvent(
        id=ids.id("adverse-event", incident.incident_id),
        text=_narrative(incident, findings),
        identifier=Identifier(
            type=CodeableConcept(text="Clinic incident number"), value=str(incident.incident_id)
        ),
        actuality="actual",
        event=_event(incident),
        subject=patient,
        date=_as_fhir_date(incident.onset_date),
        detected=_as_fhir_date(incident.learned_on),
        recordedDate=clinic_time(incident.opened_at),
        resultingCondition=[reaction] if reaction else None,
        seriousness=_seriousness(incident.seriousness),
        severity=_severity(incident.severity_grade),
        outcome=CodeableConcept(
            coding=[Coding(system=OUTCOME_SYSTEM, code=outcome_code, display=outcome_display)],
            text=OUTCOME_LABELS[incident.outcome],
        ),
        suspectEntity=[
            AdverseEventSuspectEntity(
                instance=Reference(reference=suspect_url, display=product_words(suspect)),
                causality=_causality(incident),
            )
        ]
        if suspect is not None and suspect_url is not None
        else None,
        subjectMedicalHistory=[Reference(reference=ids.url("procedure", incident.episode_id))]
        if incident.episode_id is not None
        else None,
    )


def _severity(grade: int | None) -> CodeableConcept | None:
    if grade is None or grade not in SEVERITY_CODES:
        return None
    code = SEVERITY_CODES[grade]
    return CodeableConcept(
        coding=[Coding(system=SEVERITY_SYSTEM, code=code, display=code.capitalize())],
        text=f"CTCAE-style grade {grade}",
    )


def _narrative(incident: IncidentDetail, findings: list[Reference]) -> Narrative:
    # R4 AdverseEvent has no note element: the facts in words, actions, reporting
    # and the entries of the incident's timeline travel in the human-readable
    # narrative, every time in clinic time with its zone and offset.
    suspect = incident.suspect_product
    lines = [
        f"Incident #{incident.incident_id}: {CATEGORY_LABELS[incident.category]}",
        f"Opened {clinic_time_words(incident.opened_at)}",
        "Findings: " + "; ".join(f.display or "" for f in findings) if findings else None,
        f"Seriousness: {SERIOUSNESS_LABELS[incident.seriousness]}",
        f"Outcome: {OUTCOME_LABELS[incident.outcome]}",
        f"Suspect product: {product_words(suspect)}" if suspect else None,
        f"Causality: {incident.causality or 'not assessed'}",
        f"Actions taken: {incident.actions_taken or 'none recorded'}",
        "Report to MFDS: "
        + report_words(incident.report_due_on, incident.reported_on, incident.report_reference),
        *(
            f"{clinic_time_words(note.at)} {entry_words(note.kind)}: {note.text}"
            for note in incident.notes
        ),
    ]
    # XML refuses control characters, so a stray one in a stored note is dropped.
    items = "".join(
        "<li>" + html.escape("".join(c if c.isprintable() else " " for c in line)) + "</li>"
        for line in lines
        if line
    )
    return Narrative(
        status="generated", div=f'<div xmlns="http://www.w3.org/1999/xhtml"><ul>{items}</ul></div>'
    )


def _as_fhir_date(day: date | None) -> datetime | None:
    # FHIR dateTime allows day precision and fhir.resources accepts a date for
    # it (serialised "2026-11-20"), but types the field as datetime; a made-up
    # midnight would claim a precision the record does not have.
    return cast("datetime | None", day)
