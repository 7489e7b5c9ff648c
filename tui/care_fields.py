"""The fields of the record of care form (tui.care_forms): each field's words,
widget, hint and problem line, filled in with the record as stored (a
correction) or empty (a new record).

The form lays them out and reads them back by id: a field's id is its key in
`core.records` ("nurse_name", "product-2-lot_number"), and its problem is
shown in the line with id "<key>-error" under it, so a problem the records
module names lands beside the field it is about.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Final

from rich.text import Text
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from core.domain import Channel, Protocol
from core.dossier import channel_label
from core.records import (
    FIELD_WORDS,
    PATIENT_FIELDS,
    SCHEDULE_SEPARATOR,
    TEXT_FIELDS,
    AddOn,
    EpisodeRecord,
    PatientRecord,
    Product,
    field_words,
)
from core.schedules import CLINIC_TZ
from core.triage.course import PROTOCOL_WORDS

if TYPE_CHECKING:
    from db.services import Clinic

NOT_RECORDED: Final = "not recorded"
PRODUCT_FIELDS: Final = ("name", "mfds_reference", "lot_number", "expiry_date", "exosome")
ADDON_FIELDS: Final = ("name", "dose_mg")
YES_NO_KEYS: Final = ("has_allergies", "vasovagal_history", "sensitive_skin")
_TIME_FORMAT: Final = "%Y-%m-%d %H:%M"
_PLACEHOLDERS: Final = {
    "code": "e.g. JP-0042: letters, digits, '.', '_', '-'",
    "family_name": "as in the passport",
    "given_name": "as in the passport; empty if none",
    "native_name": "in the patient's own script; empty if none",
    "birth_date": "YYYY-MM-DD; empty if not known",
    "home_country": "two letters, e.g. JP",
    "current_country": "empty: at home",
    "language": "e.g. ja, en, zh-Hant",
    "timezone": "filled in when the country has one zone",
    "channel_handle": "the patient's handle on that channel",
    "phone": "+81 90 ...; empty if none",
    "email": "empty if none",
    "procedure_at": "YYYY-MM-DD HH:MM, clinic time",
    "departure_date": "YYYY-MM-DD; empty if not known",
    "allergies": "what the patient is allergic to",
    "product-name": "as on the label",
    "product-lot_number": "as printed on the vial",
    "product-expiry_date": "YYYY-MM or YYYY-MM-DD",
    "addon-name": "e.g. glutathione",
    "addon-dose_mg": "mg, e.g. 1200",
}

GivenRow = Callable[[str, Product | AddOn | None], Vertical]
"""Makes the next row of a list ("product" or "addon"), filled with what was given."""


@dataclass(frozen=True)
class FormChoices:
    """What the episode fields offer: the active physicians and the schedule templates."""

    physicians: tuple[tuple[str, str], ...]
    """(login, name) of each active physician."""
    templates: tuple[str, ...]

    @classmethod
    def read(cls, clinic: Clinic) -> FormChoices:
        """Read them (a database read: call it off the event loop)."""
        return cls(tuple(clinic.physicians()), tuple(clinic.template_names()))


def opened_time(episode: EpisodeRecord | None, now: datetime) -> str:
    """The procedure time the form opens with, as typed in clinic time: the
    episode's, or (a new one) now."""
    opened_at = episode.procedure_at if episode else _rounded(now)
    return f"{opened_at.astimezone(CLINIC_TZ):{_TIME_FORMAT}}"


def patient_widgets(keys: Sequence[str], patient: PatientRecord | None) -> Iterator[Widget]:
    """The patient's fields named by `keys`, filled with `patient` (None: empty)."""
    shown = patient_text(patient)
    for key in keys:
        if key == "channel":
            chosen = patient.channel if patient else Select.NULL
            widget: Widget = Select(
                [(channel_label(c), c) for c in Channel],
                prompt="choose the channel",
                value=chosen,
                id=key,
                compact=True,
            )
        else:
            widget = _input(key, shown.get(key, ""))
        yield from _field(key, widget, hint=key == "timezone")


def episode_widgets(
    episode: EpisodeRecord | None, choices: FormChoices, opened: str, make_row: GivenRow
) -> Iterator[Widget]:
    """The episode's fields, filled with `episode` (None: a new one); `opened` is
    the procedure time shown, `make_row` makes each product and add-on row."""
    text = _episode_text(episode)
    yield from _field(
        "procedure_at",
        _input("procedure_at", opened),
        hint=True,
        said="clinic time (KST), YYYY-MM-DD HH:MM",
    )
    protocol = episode.protocol if episode else Select.NULL
    yield from _field(
        "protocol",
        Select(
            [(_capital(PROTOCOL_WORDS[p]), p) for p in Protocol],
            prompt="choose the protocol",
            value=protocol,
            id="protocol",
            compact=True,
        ),
    )
    known = ", ".join(choices.templates)
    yield from _field(
        "schedule",
        _input("schedule", text["schedule"] or "standard"),
        hint=True,
        said=f"known: {known}; several: separate with '{SCHEDULE_SEPARATOR}'",
    )
    yield from _field("treating_physician", _physician_select(choices, episode))
    for key in ("nurse_name", "nurse_license_ref", "departure_date"):
        yield from _field(key, _input(key, text[key]))
    for key in ("travel_insurer", "travel_policy_number", "khidi_cover_ref"):
        yield from _field(key, _input(key, text[key]))
    for key in YES_NO_KEYS:
        yield from _field(key, _yes_no(key, getattr(episode, key, None)))
        if key == "has_allergies":
            yield from _field("allergies", _input("allergies", text["allergies"]))
    yield from _list_widgets("product", episode.products if episode else None, make_row)
    yield from _list_widgets("addon", episode.addons if episode else None, make_row)


def _physician_select(choices: FormChoices, episode: EpisodeRecord | None) -> Select[str]:
    options = [(f"{name} ({login})", login) for login, name in choices.physicians]
    chosen = episode.treating_physician if episode else None
    if chosen and chosen not in {login for login, _ in choices.physicians}:
        # Kept as recorded: a correction must not drop a physician who left since.
        options.append((f"{chosen} (no longer an active physician)", chosen))
    return Select(
        options,
        prompt=NOT_RECORDED,
        value=chosen or Select.NULL,
        id="treating_physician",
        compact=True,
    )


def _list_widgets(
    kind: str, given: tuple[Product, ...] | tuple[AddOn, ...] | None, make_row: GivenRow
) -> Iterator[Widget]:
    key = f"{kind}s"
    yield Label(Text(field_words(key)), classes="section")
    yield Checkbox("None given", value=given == (), id=key, compact=True)
    yield Static("", id=f"{key}-error", classes="field-error -empty")
    rows: list[Product | AddOn | None] = [*(given or ())] or [None]
    yield Vertical(*(make_row(kind, row) for row in rows), id=f"{kind}-rows", classes="rows")
    label = "Add product" if kind == "product" else "Add add-on"
    yield Button(label, id=f"add-{kind}", compact=True)


def given_row(kind: str, n: int, given: Product | AddOn | None) -> Vertical:
    """Row `n` of the products ("product") or add-ons ("addon"), filled with `given`."""
    title = f"{'Product' if kind == 'product' else 'Add-on'} {n}"
    parts: list[Widget] = [Label(Text(title), classes="row-title")]
    for name in PRODUCT_FIELDS if kind == "product" else ADDON_FIELDS:
        key = f"{kind}-{n}-{name}"
        widget: Widget
        if name == "exosome":
            widget = _yes_no(key, given.exosome if isinstance(given, Product) else None)
        else:
            widget = _input(key, _row_text(given, name), placeholder=f"{kind}-{name}")
        parts.extend(_field(key, widget, words=_capital(FIELD_WORDS[name])))
    return Vertical(*parts, id=f"{kind}-row-{n}", classes="row")


def _field(
    key: str, widget: Widget, *, words: str = "", hint: bool = False, said: str = ""
) -> list[Widget]:
    """A field: its words and widget on one line, a hint under it, its problem under that."""
    parts: list[Widget] = [
        Horizontal(Label(Text(words or field_words(key))), widget, classes="field")
    ]
    if hint:
        parts.append(
            Static(Text(said), id=f"{key}-hint", classes="hint" + ("" if said else " -empty"))
        )
    parts.append(Static("", id=f"{key}-error", classes="field-error -empty"))
    return parts


class FieldInput(Input):
    """An input of a long form: Enter moves on to the next field at once.

    Input's own Enter posts a Submitted message, handled after the keys already
    typed behind it: text typed (or pasted) fast after Enter would land in the
    same field. Moving the focus inside the key's own handling keeps every
    keystroke in the field it was typed for."""

    async def action_submit(self) -> None:
        self.screen.focus_next()


def _input(key: str, value: str, *, placeholder: str = "") -> Input:
    return FieldInput(
        value=value,
        placeholder=_PLACEHOLDERS.get(placeholder or key, ""),
        id=key,
        compact=True,
    )


def _yes_no(key: str, value: bool | None) -> Select[str]:
    chosen = Select.NULL if value is None else ("yes" if value else "no")
    return Select(
        [("yes", "yes"), ("no", "no")], prompt=NOT_RECORDED, value=chosen, id=key, compact=True
    )


def _capital(words: str) -> str:
    return words[:1].upper() + words[1:]


def _rounded(now: datetime) -> datetime:
    """Now, down to the five minutes: a time a person would write."""
    return now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value == int(value) else f"{value:g}"
    return str(value)


def patient_text(patient: PatientRecord | None) -> dict[str, str]:
    """The patient's fields as a form shows them (all empty for a new patient)."""
    if patient is None:
        return {}
    return {key: _shown(getattr(patient, key)) for key in PATIENT_FIELDS}


def _episode_text(episode: EpisodeRecord | None) -> dict[str, str]:
    text = {key: _shown(getattr(episode, key, None)) for key in TEXT_FIELDS}
    text["schedule"] = SCHEDULE_SEPARATOR.join(episode.schedule) if episode else ""
    return text


def _row_text(given: Product | AddOn | None, name: str) -> str:
    return _shown(getattr(given, name, None)) if given is not None else ""
