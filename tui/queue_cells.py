"""How one queue row reads in the table: text, colour, widths that fit 80 and 120 columns."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from core.domain import Channel
from core.incidents import ClockState, clinic_today, report_clock
from core.plain_text import shown
from core.queue import QueueCategory, QueueRow, due_phrase, humanise
from tui.plain import plain_cells
from tui.styles import REPORT_SOON_DAYS, Palette

COLUMNS: tuple[tuple[str, str], ...] = (
    # What a coordinator acts on comes first, so it is on screen at 80 columns: how
    # urgent, who, what time it is where they are, how late, what is next. The rest
    # follows to the right (the arrow keys scroll the table sideways).
    ("priority", "Priority"),
    ("patient", "Patient"),
    ("local", "Local now"),
    ("due", "Due"),
    ("touchpoint", "Next"),
    ("day", "Day"),
    ("country", "Ctry"),
    ("report", "Report"),
    ("last", "Contact"),
    ("channel", "Channel"),
    ("assigned", "Assigned"),
)

NARROW_BELOW = 100
"""A terminal narrower than this (80 columns over SSH) gets the narrow queue: the local
time without its weekday and names cut shorter, so the first five columns fit."""

_NARROW_LABELS = {"local": "Local"}
_NAME_WIDTH = 22
_NARROW_NAME_WIDTH = 19


def columns(*, narrow: bool = False) -> tuple[tuple[str, str], ...]:
    """The queue's columns (key, heading) at the terminal's width."""
    if not narrow:
        return COLUMNS
    return tuple((key, _NARROW_LABELS.get(key, label)) for key, label in COLUMNS)


TEMPLATE_LABEL = {
    "standard": "std",
    "extended": "ext",
    "granuloma-watch": "granuloma",
    "return-cycle": "return",
    # Added by events, not chosen: the 48-hour re-check after a monitor triage and
    # the week-4 liver panel reminder after high-dose glutathione.
    "triage-recheck": "re-check",
    "liver-panel": "liver panel",
}
"""Short words for schedule template names where a column is narrow (the queue)."""

TEMPLATE_WORDS = {
    "triage-recheck": "re-check 48 h after a monitor triage",
    "liver-panel": "week-4 liver panel reminder",
}
"""Templates whose stored name does not read as words, where there is room (the timeline)."""

_CHANNEL_LABEL = {Channel.KAKAOTALK: "kakao"}


def clip(text: str, width: int) -> str:
    """Cut to `width` characters with an ellipsis."""
    return text if len(text) <= width else text[: width - 1] + "…"


def row_cells(
    row: QueueRow, now: datetime, quiet_days: int, palette: Palette, *, narrow: bool = False
) -> tuple[Text, ...]:
    """The cells of one row, in the order of COLUMNS. Names go in as Text, so
    patient-written markup shows literally. `narrow`: for a terminal under NARROW_BELOW."""
    band = row.category(now)
    if row.alert_disposition is not None:
        priority = Text(
            f"ALERT {row.alert_disposition.value}", style=palette.band(QueueCategory.ALERT)
        )
    elif row.latest_disposition is not None:
        priority = Text(
            row.latest_disposition.value, style=palette.disposition(row.latest_disposition)
        )
    else:
        priority = Text("—", style="dim")
    quiet = row.quiet_since(now, quiet_days)
    if row.last_contact_at is None:
        last = Text("never", style="dim")
    else:
        last = Text(f"{humanise(now - row.last_contact_at).split()[0]} ago")
    if quiet is not None:
        # The channel went quiet while a window is open: flag it where the eye lands.
        last = Text(f"quiet {humanise(quiet).split()[0]}", style="bold magenta")
    touchpoint = (
        f"d{row.next_day} {TEMPLATE_LABEL.get(row.next_template or '', row.next_template)}"
        if row.next_template is not None
        else "—"
    )
    days = row.days_after(now)
    # At 80 columns the hour is what decides whether to call; the weekday gives way.
    local = f"{row.local_now(now):%H:%M}" if narrow else f"{row.local_now(now):%a %H:%M}"
    name_width = _NARROW_NAME_WIDTH if narrow else _NAME_WIDTH
    # Stored text goes on screen as data: control characters an old record holds are
    # shown, never sent (tui.plain). Made visible before clipping, so the width is right.
    return plain_cells(
        (
            priority,
            Text(clip(shown(f"{row.patient_code} {row.patient_name}"), name_width)),
            Text(local),
            Text(due_phrase(row, now), style=palette.band(band) if band is not None else ""),
            Text(touchpoint),
            Text(str(days) if days is not None else "—"),
            Text(row.country),
            report_cell(row, now),
            last,
            Text(_CHANNEL_LABEL.get(row.channel, row.channel.value)),
            Text(
                clip(shown(row.assigned_to), 14) if row.assigned_to else "—",
                style="" if row.assigned_to else "dim",
            ),
        )
    )


def report_cell(row: QueueRow, now: datetime) -> Text:
    """Days left on the patient's most urgent MFDS report still owed, if any; and
    "documents missing" when the patient left Seoul without every checklist document."""
    cell = _report_clock_cell(row, now)
    if row.documents_missing:
        cell.append(("; " if cell.plain else "") + "documents missing", style="bold red")
    return cell


def _report_clock_cell(row: QueueRow, now: datetime) -> Text:
    if row.report_due_on is None:
        return Text("")
    clock = report_clock(row.report_due_on, None, clinic_today(now))
    if clock.state in (ClockState.OVERDUE, ClockState.DUE_TODAY):
        style = "bold red"
    elif clock.days_left is not None and clock.days_left <= REPORT_SOON_DAYS:
        style = "yellow"
    else:
        style = ""
    return Text(clock.short_label, style=style)
