"""Forms that edit the record of a patient.

"Where is the patient now" (`W` on the patient screen): the country and the
time zone change together (a country with one zone fills it in, a country
with several asks for one), and the phone, messenger handle and e-mail are
checked as the CSV import checks them. A problem is shown under the field it
is about, and the form stays open with what was typed.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Button, Input, Label, Static

from core.commands import ContactDetails, PatientMove, Whereabouts
from core.contacts import FIELD_WORDS, FieldRefused, checked_contacts, checked_move, country_code
from core.countries import country_name
from core.domain import Channel
from core.zones import suggested_zone, zones_for_country
from tui.modals import FormModal

_FIELDS = ("country", "timezone", "channel_handle", "phone", "email")
_HINTS = {
    "country": "two letters, e.g. TH for Thailand",
    "timezone": "filled in when the country has one zone",
    "channel_handle": "on the patient's channel",
    "phone": "+66 81 ... ; empty if none",
    "email": "empty if none",
}


class WhereaboutsModal(FormModal[Whereabouts]):
    """Where is the patient now: country, time zone, phone, messenger handle, e-mail."""

    FORM_CLASSES = "form wide"

    DEFAULT_CSS = """
    WhereaboutsModal .field-error {
        color: $error;
        text-style: bold;
        height: auto;
    }
    WhereaboutsModal .field-error.-empty {
        display: none;
    }
    WhereaboutsModal .zone-hint {
        color: $text-muted;
        height: auto;
    }
    """

    def __init__(
        self, patient: str, current: Whereabouts, *, channel: Channel, home_country: str
    ) -> None:
        super().__init__(f"Where is the patient now: {patient}")
        self._current = current
        self._channel = channel
        self._home_country = home_country

    def fields(self) -> ComposeResult:
        values = {
            "country": self._current.move.country,
            "timezone": self._current.move.timezone or "",
            "channel_handle": self._current.contacts.channel_handle,
            "phone": self._current.contacts.phone or "",
            "email": self._current.contacts.email or "",
        }
        for field in _FIELDS:
            words = FIELD_WORDS[field]
            if field == "channel_handle":
                words = f"{words} ({self._channel.value})"
            yield Label(Text(f"{words}: {_HINTS[field]}"))
            yield Input(value=values[field], id=field)
            if field == "timezone":
                yield Static("", id="timezone-hint", classes="zone-hint")
            yield Static("", id=f"{field}-error", classes="field-error -empty")

    @on(Input.Changed, "#country")
    def _country_changed(self, event: Input.Changed) -> None:
        """A one-zone country fills in its zone; a country with several lists them."""
        hint = self.query_one("#timezone-hint", Static)
        try:
            code = country_code(event.value)
        except ValueError:
            hint.update("")
            return
        zones = zones_for_country(code)
        zone_input = self.query_one("#timezone", Input)
        only = suggested_zone(code)
        if code == self._current.move.country.upper():
            # Back to (or still at) where the record says: its own zone, as stored.
            zone_input.value = self._current.move.timezone or zone_input.value
            hint.update("")
        elif only is not None:
            zone_input.value = only
            hint.update(Text(f"{country_name(code)} has one time zone: {only}"))
        elif zones:
            if zone_input.value not in zones:
                zone_input.value = ""
            hint.update(Text(f"{country_name(code)} has several; choose one: {', '.join(zones)}"))
        else:
            hint.update("")

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def _save(self) -> None:
        for field in _FIELDS:
            self._show_problem(field, "")
        value = {f: self.query_one(f"#{f}", Input).value for f in _FIELDS}
        try:
            move = checked_move(PatientMove(value["country"], value["timezone"] or None))
            contacts = checked_contacts(
                ContactDetails(value["channel_handle"], value["phone"], value["email"]),
                self._channel,
                self._home_country,
            )
        except FieldRefused as refused:
            self._show_problem(refused.field, f"{FIELD_WORDS[refused.field]}: {refused.problem}")
            self.refuse(f"Not saved: {FIELD_WORDS[refused.field]} needs a change.")
            self.query_one(f"#{refused.field}", Input).focus()
            return
        self.dismiss(Whereabouts(move, contacts))

    def _show_problem(self, field: str, problem: str) -> None:
        shown = self.query_one(f"#{field}-error", Static)
        shown.update(Text(problem))
        shown.set_class(not problem, "-empty")


def whereabouts_shown(
    country: str, timezone: str, channel_handle: str, phone: str | None, email: str | None
) -> Whereabouts:
    """The whereabouts a screen shows, as the form opens with them (and a save compares)."""
    return Whereabouts(PatientMove(country, timezone), ContactDetails(channel_handle, phone, email))
