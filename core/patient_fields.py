"""Who a patient is and how to reach them, checked and normalised the same way
whether typed into a form, given to `aftercare patient add`, or read from a row
of an import file (core.patient_import).

Pure: the caller passes in the clock and the clinic's time zone (the birth date
must not be in the future, as the clinic sees today).
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from core.contacts import (
    country_code,
    email_address,
    handle_for_channel,
    phone_number,
    timezone_key,
)
from core.domain import Channel
from core.plain_text import refuse_control
from core.records import FieldProblem, PatientRecord, RecordRefused

_LANGUAGE = re.compile(r"^(?P<base>[A-Za-z]{2,3})(-[A-Za-z0-9]{1,8})*$")


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def lowered(value: object) -> object:
    """Text as a choice is written (`LINE`, ` Line ` -> `line`); anything else as it is."""
    return value.strip().lower() if isinstance(value, str) else value


def _empty_as_none(value: object) -> object:
    value = _strip(value)
    return None if value == "" else value


def _language(value: str) -> str:
    match = _LANGUAGE.match(value)
    if match is None or len(value) > 8:
        raise ValueError(f"{value!r} is not a language tag such as 'ja', 'en' or 'zh-Hant'")
    base = match["base"].lower()
    found = (
        pycountry.languages.get(alpha_2=base)
        if len(base) == 2
        else pycountry.languages.get(alpha_3=base)
    )
    if found is None:
        raise ValueError(f"{value!r}: {base!r} is not an ISO 639 language code")
    return value


def _birth_date(value: object) -> object:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a date written YYYY-MM-DD") from None
    return value


def _optional(check: Any) -> Any:
    def checked(value: str | None) -> str | None:
        return None if value is None else check(value)

    return checked


_Text = Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1)]


class PatientFields(BaseModel):
    """Who the patient is and how to reach them, checked and normalised: the
    patient's part of an import row, and the patient form's fields.

    Validation needs a context: `now` (aware) and `clinic_tz` (ZoneInfo).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Annotated[
        str,
        BeforeValidator(_strip),
        StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
    ]
    family_name: Annotated[_Text, StringConstraints(max_length=120)]
    # Empty for people with one name only.
    given_name: Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=120)]
    birth_date: Annotated[
        date | None, BeforeValidator(_birth_date), BeforeValidator(_empty_as_none)
    ]
    home_country: Annotated[_Text, AfterValidator(country_code)]
    # Empty: the patient is at home.
    current_country: Annotated[
        str | None, BeforeValidator(_empty_as_none), AfterValidator(_optional(country_code))
    ]
    language: Annotated[_Text, AfterValidator(_language)]
    timezone: Annotated[_Text, AfterValidator(timezone_key)]
    channel: Annotated[Channel, BeforeValidator(lowered)]
    channel_handle: Annotated[_Text, StringConstraints(max_length=200)]
    phone: Annotated[str | None, BeforeValidator(_empty_as_none)]
    email: Annotated[
        str | None, BeforeValidator(_empty_as_none), AfterValidator(_optional(email_address))
    ]
    # Empty or absent: not recorded. Any script; the passport name stays above.
    native_name: Annotated[
        Annotated[str, StringConstraints(max_length=200)] | None,
        BeforeValidator(_empty_as_none),
    ] = None

    @field_validator("*", mode="before")
    @classmethod
    def _plain_text(cls, value: object) -> object:
        # First of every field's checks: a name or handle carrying ESC or a bidi
        # override would act on the terminal of whoever is shown it (core.plain_text).
        return refuse_control(value) if isinstance(value, str) else value

    @field_validator("birth_date")
    @classmethod
    def _born_in_the_past(cls, value: date | None, info: ValidationInfo) -> date | None:
        if value is None:
            return None
        context = validation_context(info)
        today = context["now"].astimezone(context["clinic_tz"]).date()
        if value > today:
            raise ValueError(f"{value.isoformat()} is in the future")
        if value.year < 1900:
            raise ValueError(f"{value.isoformat()} is before 1900")
        return value

    @field_validator("channel_handle")
    @classmethod
    def _handle_fits_channel(cls, value: str, info: ValidationInfo) -> str:
        channel = info.data.get("channel")
        if channel is None:
            return value  # the channel is itself wrong (and reported)
        # The same check as the "Where is the patient now" edit (core.contacts).
        return handle_for_channel(channel, value, info.data.get("home_country"))

    @field_validator("phone")
    @classmethod
    def _phone_for_home_country(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        number = phone_number(value, info.data.get("home_country"))
        if number is None:
            raise ValueError(f"{value!r} is not a valid phone number (write it as +81 90 ...)")
        return number

    @property
    def country_now(self) -> str:
        """Where the patient is now: `current_country`, or home when it was left empty."""
        return self.current_country or self.home_country


def validation_context(info: ValidationInfo) -> dict[str, Any]:
    """What a check needs beyond the value (the clock, the zone): the caller's to give."""
    if not isinstance(info.context, dict):
        raise TypeError("PatientRow needs a validation context: now, clinic_tz, templates")
    return info.context


def field_and_problem(error: Mapping[str, Any]) -> tuple[str, str]:
    """One error of pydantic as (the field at fault, or "row"; what is wrong)."""
    cause = error.get("ctx", {}).get("error")
    column = str(error["loc"][0]) if error["loc"] else "row"
    if error["type"] == "value_error" and cause is not None:
        return column, str(cause)
    return column, _plain(error)


def _plain(error: Mapping[str, Any]) -> str:
    """Pydantic's message, in the words of someone filling in a spreadsheet."""
    kind = error["type"]
    given = error.get("input")
    if kind in ("missing", "string_too_short", "too_short"):
        return "empty; a value is required"
    if kind == "enum":
        return f"{given!r} is not one of {error['ctx']['expected']}"
    if kind == "string_pattern_mismatch":
        return f"{given!r} may hold only letters, digits, '.', '_' and '-'"
    if kind == "string_too_long":
        return f"longer than {error['ctx']['max_length']} characters"
    return str(error["msg"])


def patient_from_text(
    values: Mapping[str, str], *, now: datetime, clinic_tz: zoneinfo.ZoneInfo
) -> PatientRecord:
    """The patient typed into a form, checked as an import row is; raises
    RecordRefused with every problem, each naming its field."""
    typed = {key: values.get(key, "") for key in PatientFields.model_fields}
    try:
        row = PatientFields.model_validate(typed, context={"now": now, "clinic_tz": clinic_tz})
    except ValidationError as exc:
        problems = [field_and_problem(error) for error in exc.errors()]
        raise RecordRefused([FieldProblem(field, problem) for field, problem in problems]) from None
    return PatientRecord(
        code=row.code,
        family_name=row.family_name,
        given_name=row.given_name,
        home_country=row.home_country,
        language=row.language,
        timezone=row.timezone,
        channel=row.channel,
        channel_handle=row.channel_handle,
        native_name=row.native_name,
        birth_date=row.birth_date,
        current_country=row.country_now,
        phone=row.phone,
        email=row.email,
    )
