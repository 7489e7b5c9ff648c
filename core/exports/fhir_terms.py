"""The codes the FHIR export sends, each from the R4 (4.0.1) code system it names.

Kept apart from the Bundle's assembly so the tables can be read, and tested, on
their own. A stored value with no code of exactly its meaning is sent as text
only: a code that is nearly right would tell a receiving system something the
clinic never recorded.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from core.domain import IncidentCategory, IncidentOutcome, Seriousness
from core.schedules import CLINIC_TZ

SNOMED_SYSTEM = "http://snomed.info/sct"
LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
LANGUAGE_SYSTEM = "urn:ietf:bcp:47"
SERIOUSNESS_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
OUTCOME_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
SEVERITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
CAUSALITY_ASSESSMENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-causality-assess"
OBSERVATION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CLINICAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-clinical"
LANGUAGE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/language"
"""R4's 'Human Language' extension, allowed on HumanName: the own-script name's language."""

SYMPTOM_LOINC = ("75325-1", "Symptom")
BODY_TEMPERATURE_LOINC = ("8310-5", "Body temperature")

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
SEVERITY_CODES = {1: "mild", 2: "moderate", 3: "severe", 4: "severe", 5: "severe"}

# The physician picks causality from the WHO-UMC categories (tui/incident_forms.py),
# which are exactly R4's AdverseEventCausalityAssessment codes.
CAUSALITY_CODES: dict[str, tuple[str, str]] = {
    "certain": ("Certain", "Certain"),
    "probable": ("Probably-Likely", "Probably/Likely"),
    "possible": ("Possible", "Possible"),
    "unlikely": ("Unlikely", "Unlikely"),
    "conditional": ("Conditional-Classified", "Conditional/Classified"),
    "unassessable": ("Unassessable-Unclassifiable", "Unassessable/Unclassifiable"),
}

CAUSALITY_METHOD_WORDS = (
    "WHO-UMC causality categories: the assessing physician's clinical judgement"
)
"""Sent as text only. R4's AdverseEventCausalityMethod has ProbabilityScale, Bayesian
and Checklist; WHO-UMC is expert judgement (global introspection), none of the three."""

# Symptom vocabulary codes (core/triage/vocabulary.py) whose SNOMED CT concept says
# exactly what the patient reported. The others ("persistent vomiting", "pain at
# the IV site", "facial swelling beyond the treated area") are qualified in ways a
# plain concept would lose, so they travel as text only.
SYMPTOM_SNOMED: dict[str, tuple[str, str]] = {
    "chills": ("43724002", "Chill"),
    "fatigue": ("84229001", "Fatigue"),
    "nausea": ("422587007", "Nausea"),
    "dizziness": ("404640003", "Dizziness"),
    "fainting": ("271594007", "Syncope"),
    "palpitations": ("80313002", "Palpitations"),
    "chest_tightness": ("23924001", "Tight chest"),
    "shortness_of_breath": ("267036007", "Dyspnea"),
    "wheezing": ("56018004", "Wheezing"),
    "itching": ("418290006", "Itching"),
    "hives": ("126485001", "Urticaria"),
    "erythema": ("247441003", "Erythema"),
}

# Incident categories with a SNOMED CT concept of the same meaning. "Allergic reaction
# or anaphylaxis": anaphylaxis is an allergic reaction, so the broader concept is
# true of both. The rest ("IV infiltration or phlebitis", "prolonged erythema",
# "systemic symptoms", ...) join or qualify concepts and are sent as text only.
EVENT_SNOMED: dict[IncidentCategory, tuple[str, str]] = {
    IncidentCategory.ALLERGIC: ("419076005", "Allergic reaction"),
}

CONDITION_CLINICAL: dict[IncidentOutcome, str] = {
    IncidentOutcome.RECOVERING: "active",
    IncidentOutcome.NOT_RESOLVED: "active",
    IncidentOutcome.RESOLVED: "resolved",
    IncidentOutcome.RESOLVED_WITH_SEQUELAE: "resolved",
}
"""Outcome to the reaction's clinical status; fatal and unknown say nothing more than
the AdverseEvent's outcome does, so the status is left out for them."""

# Script subtags (ISO 15924) by the first word of a character's Unicode name, and
# the languages that write the clinic's usual scripts.
_SCRIPTS = {
    "CJK": "Hani",
    "HIRAGANA": "Jpan",
    "KATAKANA": "Jpan",
    "HANGUL": "Kore",
    "LATIN": "Latn",
    "CYRILLIC": "Cyrl",
    "GREEK": "Grek",
    "ARABIC": "Arab",
    "HEBREW": "Hebr",
    "THAI": "Thai",
    "DEVANAGARI": "Deva",
}
_SCRIPT_LANGUAGES: dict[str, set[str]] = {
    "Jpan": {"ja"},
    "Kore": {"ko"},
    "Hani": {"zh", "ja", "ko"},
}


def name_language_tag(name: str, language: str) -> str | None:
    """The BCP 47 tag of an own-script name: 'ja-Jpan', 'zh-Hani', 'ko-Kore', 'und-Cyrl'.

    The script is read from the name's letters (kana make it Japanese writing,
    Hangul Korean); the patient's language is used when it is one that writes
    that script (Japanese, Chinese, Korean), 'und' (undetermined) otherwise: a
    preferred language of English says nothing about a Cyrillic name. None when
    the script cannot be told.
    """
    found = set()
    for char in name:
        if char.isalpha():
            script = _SCRIPTS.get(unicodedata.name(char, "").split(" ")[0])
            if script:
                found.add(script)
    script = next((s for s in ("Jpan", "Kore") if s in found), None)
    if script is None and len(found) == 1:
        script = found.pop()
    if script is None:
        return None
    base = language.split("-")[0].lower()
    return f"{base}-{script}" if base in _SCRIPT_LANGUAGES.get(script, ()) else f"und-{script}"


def clinic_time(at: datetime) -> datetime:
    """The instant in clinic time, so every FHIR dateTime carries the +09:00 offset."""
    return at.astimezone(CLINIC_TZ)


def clinic_time_words(at: datetime) -> str:
    """'22 Nov 2026 13:00 (Asia/Seoul, UTC+9)': a narrative time no reader takes for UTC."""
    local = clinic_time(at)
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    utc = f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
    return f"{local:%d %b %Y %H:%M} ({CLINIC_TZ.key}, {utc})"
