"""The record of care as a person types it: a patient, a treatment episode, the
products and add-ons given. Every field is checked where it is typed.

A form (or a command line, or a CSV row) hands in text; `episode_from_text`
and `patient_from_text` turn it into typed values (`EpisodeRecord`,
`PatientRecord`) or refuse with every problem at once, each naming its field
(`RecordRefused`), so a form can show each problem beside its field and a
file import can say "line N: column: problem". `episode_problems` checks a
typed record again (a command that did not come through text, and `db` on the
write), so no door skips a rule.

Never asked is not "no" (docs/clinical-rules.md, Recorded or not): a yes/no
answer left empty stays None, and a product or add-on list is None ("not
recorded") unless someone filled it in or said "none given".

Pure: the caller passes in the clock, the clinic's zone and the template names.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final

from core.domain import Channel, Protocol
from core.plain_text import control_problem
from core.refusals import Refused
from core.schedules import procedure_local_date

OLDEST_PROCEDURE: Final = timedelta(days=366)
"""Follow-up windows last months at most: a procedure older than this is not followed."""
LONGEST_STAY: Final = timedelta(days=366)
"""A departure more than a year after the procedure is a typing mistake."""
MAX_DOSE_MG: Final = 100_000.0
"""No add-on is given at 100 g in one session: a bigger dose is a typing mistake."""
SCHEDULE_SEPARATOR: Final = ";"
"""Between template names typed in one field (a comma would need quoting in CSV)."""
NONE_GIVEN: Final = "none"
"""Typed instead of a list: the products (or add-ons) were asked about and none were given."""
TIME_FORMATS: Final = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")
"""A procedure time, in clinic time."""

# A lot number as printed on a vial label: letters, digits and a few separators.
_LOT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./_-]*$")
_YES: Final = frozenset({"yes", "y", "true", "1"})
_NO: Final = frozenset({"no", "n", "false", "0"})
_MAX_NAME: Final = 120
_MAX_REF: Final = 64
_MAX_TEXT: Final = 2000

TEXT_FIELDS: Final = (
    "nurse_name",
    "nurse_license_ref",
    "departure_date",
    "travel_insurer",
    "travel_policy_number",
    "khidi_cover_ref",
    "allergies",
)
"""The episode's fields typed as free text (a date among them), in the order forms
and files list them; the treating physician comes before them."""

FIELD_WORDS: Final = {
    "code": "Patient code",
    "family_name": "Family name",
    "given_name": "Given name",
    "native_name": "Name in own script",
    "birth_date": "Birth date",
    "home_country": "Home country",
    "current_country": "Country now",
    "language": "Language",
    "timezone": "Time zone",
    "channel": "Channel",
    "channel_handle": "Messenger handle",
    "phone": "Phone",
    "email": "Email",
    "procedure_at": "Procedure time",
    "protocol": "Protocol",
    "schedule": "Schedule templates",
    "treating_physician": "Treating physician",
    "nurse_name": "Nurse",
    "nurse_license_ref": "Nurse licence",
    "departure_date": "Departure date",
    "travel_insurer": "Travel insurer",
    "travel_policy_number": "Policy number",
    "khidi_cover_ref": "KHIDI cover reference",
    "has_allergies": "Allergies",
    "allergies": "Allergies (what)",
    "vasovagal_history": "Vasovagal history",
    "sensitive_skin": "Sensitive skin",
    "products": "Products given",
    "addons": "Add-ons given",
    "name": "name",
    "mfds_reference": "MFDS reference",
    "lot_number": "lot",
    "expiry_date": "expiry",
    "exosome": "exosome",
    "dose_mg": "dose (mg)",
}
"""How each field is named to a person. Product and add-on fields are named by
`field_words` with their row: "Product 2 lot"."""


def field_words(key: str) -> str:
    """The words for a field key: "product-2-lot_number" -> "Product 2 lot"."""
    parts = key.split("-")
    if len(parts) == 3 and parts[0] in ("product", "addon") and parts[1].isdigit():
        kind = "Product" if parts[0] == "product" else "Add-on"
        return f"{kind} {parts[1]} {FIELD_WORDS.get(parts[2], parts[2])}"
    return FIELD_WORDS.get(key, key)


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with one field. A warning (an expiry before the procedure)
    is said, and saved once the person confirms; a problem stops the save."""

    field: str
    """The field key: "lot_number" of a product is "product-2-lot_number"."""
    problem: str
    warning: bool = False

    def __str__(self) -> str:
        return f"{field_words(self.field)}: {self.problem}"


class RecordRefused(Refused):
    """The record cannot be saved as typed; `problems` says what, field by field."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        said = "; ".join(str(p) for p in self.problems)
        super().__init__(f"{said}; nothing was saved")


@dataclass(frozen=True)
class Product:
    """A product given, traceable to its lot."""

    name: str
    mfds_reference: str | None = None
    lot_number: str | None = None
    expiry_date: date | None = None
    exosome: bool | None = None
    """An exosome preparation (an ampoule with microneedling counts); None: not recorded."""


@dataclass(frozen=True)
class AddOn:
    """An add-on infusion given with the procedure, with its dose."""

    name: str
    dose_mg: float | None = None

    def stored(self) -> dict[str, str]:
        """As the episode keeps it ({"name": "glutathione", "dose": "1200 mg"}), the
        shape `core.addons` reads for the liver-panel threshold."""
        kept = {"name": self.name}
        if self.dose_mg is not None:
            kept["dose"] = f"{_number(self.dose_mg)} mg"
        return kept


@dataclass(frozen=True)
class EpisodeRecord:
    """One trip's treatment as recorded: what the procedure was, who gave it, what
    was given, what was asked before, and the follow-up it gets."""

    procedure_at: datetime
    protocol: Protocol
    schedule: tuple[str, ...]
    """Chosen templates; the granuloma watch and the liver panel are added by the rules."""
    treating_physician: str | None = None
    """The physician's staff login (dr.kim): their tag gets the `treating` pages."""
    nurse_name: str | None = None
    nurse_license_ref: str | None = None
    products: tuple[Product, ...] | None = None
    """None: not recorded; (): none given."""
    addons: tuple[AddOn, ...] | None = None
    """None: not recorded; (): none given."""
    departure_date: date | None = None
    travel_insurer: str | None = None
    travel_policy_number: str | None = None
    khidi_cover_ref: str | None = None
    has_allergies: bool | None = None
    """False: none known; None: not asked."""
    allergies: str | None = None
    vasovagal_history: bool | None = None
    sensitive_skin: bool | None = None


@dataclass(frozen=True)
class PatientRecord:
    """Who the patient is and how the clinic reaches them."""

    code: str
    family_name: str
    given_name: str
    home_country: str
    language: str
    timezone: str
    channel: Channel
    channel_handle: str
    native_name: str | None = None
    birth_date: date | None = None
    current_country: str | None = None
    """None: at home."""
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class NewPatient:
    """A patient recorded by hand with their first episode."""

    patient: PatientRecord
    episode: EpisodeRecord


@dataclass(frozen=True)
class RecordSaved:
    """What a save did, in words for the toast and the command line."""

    patient_id: int
    episode_id: int
    changed: tuple[str, ...] = ()
    """The fields changed, in words (an edit); empty for a new record."""
    touchpoints_added: int = 0
    touchpoints_moved: int = 0
    touchpoints_withdrawn: int = 0
    incidents_noted: tuple[int, ...] = ()
    """Incidents whose timeline now says the record of care was corrected."""
    warnings: tuple[str, ...] = field(default=())
    created: str = ""
    """What a creation recorded ("patient JP-0042 and their episode"); empty for an edit."""

    def words(self) -> str:
        """'Saved Product 1 lot, Procedure time; 7 check-ins moved.'"""
        parts = []
        if self.created:
            parts.append(f"Recorded {self.created}")
        elif self.changed:
            parts.append(f"Saved {', '.join(self.changed)}")
        elif not (self.touchpoints_added or self.touchpoints_withdrawn):
            parts.append("Nothing to change: the form matched the record")
        for count, what in (
            (self.touchpoints_moved, "moved"),
            (self.touchpoints_added, "planned" if self.created else "added"),
            (self.touchpoints_withdrawn, "withdrawn (not yet done)"),
        ):
            if count:
                parts.append(f"{count} check-in{'s' if count != 1 else ''} {what}")
        if self.incidents_noted:
            listed = ", ".join(f"#{n}" for n in self.incidents_noted)
            parts.append(f"correction noted on incident {listed}")
        return "; ".join(parts) + "."


# -- reading typed text ---------------------------------------------------------


def yes_no(text: str) -> bool | None:
    """'yes' / 'no' / empty (not recorded). Raises ValueError for anything else."""
    word = text.strip().lower()
    if not word:
        return None
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise ValueError(f"{text.strip()!r} is not yes or no (leave it empty if nobody asked)")


def day(text: str) -> date | None:
    """A date written YYYY-MM-DD, or None when empty."""
    written = text.strip()
    if not written:
        return None
    try:
        return date.fromisoformat(written)
    except ValueError:
        raise ValueError(f"{written!r} is not a date written YYYY-MM-DD") from None


def expiry(text: str) -> date | None:
    """An expiry as printed on a label: YYYY-MM-DD, or YYYY-MM (the month's last day)."""
    written = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}", written):
        year, month = int(written[:4]), int(written[5:])
        if not 1 <= month <= 12:
            raise ValueError(f"{written!r} has no month {month}")
        following = date(year + month // 12, month % 12 + 1, 1)
        return following - timedelta(days=1)
    try:
        return day(written)
    except ValueError:
        raise ValueError(f"{written!r} is not an expiry written YYYY-MM-DD or YYYY-MM") from None


def dose_in_mg(text: str) -> float | None:
    """A dose in mg: a number ("1200", "1,200", "2.5", "1200 mg"), or None when empty."""
    written = text.strip().lower().removesuffix("mg").strip().replace(",", "")
    if not written:
        return None
    if not re.fullmatch(r"\d+(\.\d+)?", written):
        raise ValueError(f"{text.strip()!r} is not a number of mg (e.g. 1200)")
    value = float(written)
    if value <= 0 or value > MAX_DOSE_MG:
        raise ValueError(f"{written} mg is not a dose (more than 0, at most 100,000)")
    return value


def clinic_time(text: str, clinic_tz: tzinfo, now: datetime) -> datetime:
    """A procedure time typed in clinic time, as aware UTC; not in the future, not
    more than `OLDEST_PROCEDURE` ago."""
    written = text.strip()
    for pattern in TIME_FORMATS:
        try:
            local = datetime.strptime(written, pattern)
        except ValueError:
            continue
        at = local.replace(tzinfo=clinic_tz).astimezone(UTC)
        _check_procedure_time(at, now, written)
        return at
    raise ValueError(f"{written!r} is not a clinic time written YYYY-MM-DD HH:MM")


def schedule_names(text: str, known: Collection[str]) -> tuple[str, ...]:
    """Template names separated by ';', each one known; at least one."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(SCHEDULE_SEPARATOR) if n.strip()))
    _check_schedule(names, known)
    return names


def protocol(text: str) -> Protocol:
    """A protocol by its name (exosome_iv, microneedling, exosome_iv+microneedling, prp)."""
    written = text.strip().lower()
    try:
        return Protocol(written)
    except ValueError:
        known = ", ".join(p.value for p in Protocol)
        raise ValueError(f"{text.strip()!r} is not a protocol; known: {known}") from None


def episode_from_text(
    values: Mapping[str, str],
    products: Sequence[Mapping[str, str]] = (),
    addons: Sequence[Mapping[str, str]] = (),
    *,
    clinic_tz: tzinfo,
    now: datetime,
    templates: Collection[str],
) -> tuple[EpisodeRecord, tuple[FieldProblem, ...]]:
    """The episode typed into a form: `values` by field key (missing keys are
    empty), one mapping per product row and per add-on row (an all-empty row is
    skipped). `values["products"]` / `values["addons"]` of "none" says none were given.

    Returns the record and its warnings; raises RecordRefused with every problem.
    """
    problems: list[FieldProblem] = []

    def read(key: str, parse, text: str | None = None):  # type: ignore[no-untyped-def]
        try:
            return parse(values.get(key, "") if text is None else text)
        except ValueError as exc:
            problems.append(FieldProblem(key, str(exc)))
            return None

    procedure_at = read("procedure_at", lambda t: clinic_time(t, clinic_tz, now))
    chosen = read("protocol", protocol)
    schedule = read("schedule", lambda t: schedule_names(t, templates))
    rows = [
        _product_row(n, row, problems)
        for n, row in enumerate(_filled(products), start=1)
        if row is not None
    ]
    doses = [_addon_row(n, row, problems) for n, row in enumerate(_filled(addons), start=1) if row]
    record_products = _listed("products", values, rows, problems)
    record_addons = _listed("addons", values, doses, problems)
    record = EpisodeRecord(
        procedure_at=procedure_at or now,
        protocol=chosen or Protocol.PRP,
        schedule=schedule or (),
        treating_physician=_text(values.get("treating_physician")),
        nurse_name=_text(values.get("nurse_name")),
        nurse_license_ref=_text(values.get("nurse_license_ref")),
        products=record_products,  # type: ignore[arg-type]
        addons=record_addons,  # type: ignore[arg-type]
        departure_date=read("departure_date", day),
        travel_insurer=_text(values.get("travel_insurer")),
        travel_policy_number=_text(values.get("travel_policy_number")),
        khidi_cover_ref=_text(values.get("khidi_cover_ref")),
        has_allergies=read("has_allergies", yes_no),
        allergies=_text(values.get("allergies")),
        vasovagal_history=read("vasovagal_history", yes_no),
        sensitive_skin=read("sensitive_skin", yes_no),
    )
    if (
        record.has_allergies is None
        and record.allergies
        and "has_allergies" not in {p.field for p in problems}
    ):
        # Typing what the allergy is answers the question.
        record = replace(record, has_allergies=True)
    found = [
        p
        for p in episode_problems(record, now=now, templates=templates)
        if p.field not in {q.field for q in problems}
        and not (procedure_at is None and p.field == "departure_date")
    ]
    problems.extend(found)
    refused = [p for p in problems if not p.warning]
    if refused:
        raise RecordRefused(refused)
    return record, tuple(p for p in problems if p.warning)


def episode_problems(
    record: EpisodeRecord, *, now: datetime, templates: Collection[str]
) -> list[FieldProblem]:
    """Everything wrong with a typed episode (warnings included), field by field."""
    problems: list[FieldProblem] = []
    try:
        _check_procedure_time(record.procedure_at, now, None)
    except ValueError as exc:
        problems.append(FieldProblem("procedure_at", str(exc)))
    try:
        _check_schedule(record.schedule, templates)
    except ValueError as exc:
        problems.append(FieldProblem("schedule", str(exc)))
    for key, limit in (
        ("treating_physician", _MAX_REF),
        ("nurse_name", _MAX_NAME),
        ("nurse_license_ref", _MAX_REF),
        ("travel_insurer", _MAX_NAME),
        ("travel_policy_number", _MAX_REF),
        ("khidi_cover_ref", _MAX_REF),
        ("allergies", _MAX_TEXT),
    ):
        problem = _text_problem(getattr(record, key), limit, notes=key == "allergies")
        if problem:
            problems.append(FieldProblem(key, problem))
    if record.nurse_license_ref and not record.nurse_name:
        problems.append(FieldProblem("nurse_name", "a licence is given: whose? type the nurse"))
    if record.has_allergies is False and record.allergies:
        problems.append(
            FieldProblem("allergies", "the answer is 'no allergies' but an allergy is typed")
        )
    if record.has_allergies is True and not record.allergies:
        problems.append(FieldProblem("allergies", "say what the patient is allergic to"))
    procedure_day = procedure_local_date(record.procedure_at)
    if record.departure_date is not None:
        if record.departure_date < procedure_day - timedelta(days=1):
            problems.append(
                FieldProblem(
                    "departure_date",
                    f"{record.departure_date} is before the procedure ({procedure_day})",
                )
            )
        elif record.departure_date - procedure_day > LONGEST_STAY:
            problems.append(
                FieldProblem("departure_date", f"{record.departure_date} is over a year later")
            )
    for n, product in enumerate(record.products or (), start=1):
        problems.extend(_product_problems(n, product, procedure_day))
    for n, addon in enumerate(record.addons or (), start=1):
        problem = _text_problem(addon.name, _MAX_NAME, required=True)
        if problem:
            problems.append(FieldProblem(f"addon-{n}-name", problem))
        if addon.dose_mg is not None and not 0 < addon.dose_mg <= MAX_DOSE_MG:
            problems.append(FieldProblem(f"addon-{n}-dose_mg", "not a dose (0 to 100,000 mg)"))
    return problems


def _product_problems(n: int, product: Product, procedure_day: date) -> list[FieldProblem]:
    problems = []
    key = f"product-{n}"
    problem = _text_problem(product.name, 200, required=True)
    if problem:
        problems.append(FieldProblem(f"{key}-name", problem))
    problem = _text_problem(product.mfds_reference, _MAX_REF)
    if problem:
        problems.append(FieldProblem(f"{key}-mfds_reference", problem))
    lot = product.lot_number
    if lot is not None and (len(lot) > _MAX_REF or not _LOT.match(lot)):
        problems.append(
            FieldProblem(
                f"{key}-lot_number",
                f"{lot!r} is not a lot number as printed on a label "
                "(letters, digits, '.', '/', '_', '-'; up to 64)",
            )
        )
    if product.expiry_date is not None and product.expiry_date < procedure_day:
        problems.append(
            FieldProblem(
                f"{key}-expiry_date",
                f"expired {product.expiry_date} before the procedure ({procedure_day}): "
                "check the label; if it is right, this is an incident to open",
                warning=True,
            )
        )
    return problems


# -- the patient ----------------------------------------------------------------


PATIENT_FIELDS: Final = (
    "code",
    "family_name",
    "given_name",
    "native_name",
    "birth_date",
    "home_country",
    "current_country",
    "language",
    "timezone",
    "channel",
    "channel_handle",
    "phone",
    "email",
)
"""The patient's fields, in the order a form asks for them."""


def _filled(rows: Sequence[Mapping[str, str]]) -> list[Mapping[str, str] | None]:
    """Each row, or None for a row left all empty (its number is kept)."""
    return [row if any(v.strip() for v in row.values()) else None for row in rows]


def _product_row(n: int, row: Mapping[str, str], problems: list[FieldProblem]) -> Product:
    key = f"product-{n}"

    def read(name: str, parse):  # type: ignore[no-untyped-def]
        try:
            return parse(row.get(name, ""))
        except ValueError as exc:
            problems.append(FieldProblem(f"{key}-{name}", str(exc)))
            return None

    return Product(
        name=row.get("name", "").strip(),
        mfds_reference=_text(row.get("mfds_reference")),
        lot_number=_text(row.get("lot_number")),
        expiry_date=read("expiry_date", expiry),
        exosome=read("exosome", yes_no),
    )


def _addon_row(n: int, row: Mapping[str, str], problems: list[FieldProblem]) -> AddOn:
    try:
        dose = dose_in_mg(row.get("dose_mg", ""))
    except ValueError as exc:
        problems.append(FieldProblem(f"addon-{n}-dose_mg", str(exc)))
        dose = None
    return AddOn(name=row.get("name", "").strip(), dose_mg=dose)


def _listed(
    key: str,
    values: Mapping[str, str],
    rows: list[Product] | list[AddOn],
    problems: list[FieldProblem],
) -> tuple[Product | AddOn, ...] | None:
    said = values.get(key, "").strip().lower()
    if said not in ("", NONE_GIVEN):
        problems.append(FieldProblem(key, f"{said!r}: leave empty, or type {NONE_GIVEN!r}"))
    if rows:
        if said == NONE_GIVEN:
            problems.append(FieldProblem(key, f"{NONE_GIVEN!r} given, yet rows are filled in"))
        return tuple(rows)
    return () if said == NONE_GIVEN else None


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip() or None


def _text_problem(
    value: str | None, limit: int, *, required: bool = False, notes: bool = False
) -> str | None:
    if not value:
        return "empty; a value is required" if required else None
    if len(value) > limit:
        return f"longer than {limit} characters"
    # Names, references and logins are one line; only the allergies are notes.
    return control_problem(value, notes=notes)


def _check_procedure_time(at: datetime, now: datetime, written: str | None) -> None:
    shown = repr(written) if written else f"{at:%Y-%m-%d %H:%M} UTC"
    if at > now:
        raise ValueError(f"{shown} is in the future (clinic time)")
    if now - at > OLDEST_PROCEDURE:
        raise ValueError(
            f"{shown} is more than {OLDEST_PROCEDURE.days} days ago; follow-up windows "
            "last months at most, so only recent procedures are followed"
        )


def _check_schedule(names: Sequence[str], known: Collection[str]) -> None:
    listed = ", ".join(sorted(known))
    if not names:
        raise ValueError(
            f"no schedule template given; known: {listed} "
            f"(several: separate with {SCHEDULE_SEPARATOR!r})"
        )
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown template {', '.join(map(repr, unknown))}; known: {listed}")


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"
