"""Follow-up schedule templates and the touchpoint window arithmetic.

Templates are data (TOML files shipped in `core/schedule_templates/`), so an
admin can read and change them without touching code. A touchpoint's window
is fixed in the patient's own time zone: it opens at local midnight of
`due_date - window_before` and closes at local midnight after
`due_date + window_after`. Both instants are stored in UTC so the database
can compare them with "now" in plain SQL, and `touchpoint_state` below is the
one definition of scheduled, due and overdue that every screen uses.

Which episodes get what beyond the chosen templates is decided here too:
the granuloma watch follows the products given (any exosome preparation, by
IV or an ampoule applied with microneedling), and the week-4 liver panel
reminder is added by an event, high-dose glutathione, not by a template.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from core.domain import Protocol, TouchpointResolution, TouchpointState
from core.refusals import Refused

CLINIC_TZ = ZoneInfo("Asia/Seoul")

LIVER_PANEL = "liver-panel"
"""The template name stored on the week-4 liver panel reminder's touchpoint."""


@dataclass(frozen=True)
class TouchpointPlan:
    """One planned contact in a template: day N after the procedure."""

    day: int
    window_before: int
    window_after: int
    ask: str
    photos: bool


@dataclass(frozen=True)
class ScheduleTemplate:
    """A named list of planned touchpoints."""

    name: str
    description: str
    touchpoints: tuple[TouchpointPlan, ...]
    default_for_exosome: bool = False


@dataclass(frozen=True)
class TouchpointWindow:
    """Where one touchpoint falls for one patient."""

    due_date: date
    opens_at: datetime
    closes_at: datetime


class ScheduleTemplateError(Refused, ValueError):
    """A schedule template file that cannot be read; `str()` is one line naming the
    file and what is wrong in it, in words (never a Python message such as
    "invalid literal for int()"). A refusal, so every command and the TUI's start
    say it as one line and stop."""


def parse_template(text: str, source: str) -> ScheduleTemplate:
    """Parse one template from TOML text; `source` names the file in errors."""

    def wrong(problem: str) -> ScheduleTemplateError:
        return ScheduleTemplateError(f"schedule template {source}: {problem}")

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise wrong(f"not valid TOML ({exc})") from None
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise wrong('no name (a line such as name = "standard")')
    listed = raw.get("touchpoints")
    if not isinstance(listed, list) or not listed:
        raise wrong("no touchpoints (one [[touchpoints]] table per check-in, with day and ask)")
    plans = []
    for number, tp in enumerate(listed, start=1):
        where = f"touchpoint {number}"
        if not isinstance(tp, dict):
            raise wrong(f"{where} is not a table ([[touchpoints]])")
        ask = tp.get("ask")
        if not isinstance(ask, str):
            raise wrong(f"{where} has no ask (what the coordinator asks the patient)")
        photos = tp.get("photos", False)
        if not isinstance(photos, bool):
            raise wrong(f"{where}: photos must be true or false, not {photos!r}")
        plans.append(
            TouchpointPlan(
                day=_days(tp, "day", None, where, wrong),
                window_before=_days(tp, "window_before", 0, where, wrong),
                window_after=_days(tp, "window_after", 1, where, wrong),
                ask=ask,
                photos=photos,
            )
        )
    exosome = raw.get("default_for_exosome", False)
    if not isinstance(exosome, bool):
        raise wrong(f"default_for_exosome must be true or false, not {exosome!r}")
    return ScheduleTemplate(
        name=name,
        description=str(raw.get("description", "")),
        touchpoints=tuple(plans),
        default_for_exosome=exosome,
    )


def _days(
    table: dict[str, object],
    key: str,
    default: int | None,
    where: str,
    wrong: Callable[[str], ScheduleTemplateError],
) -> int:
    """A whole number of days >= 0 from a touchpoint table, said in words when it is not."""
    value = table.get(key, default)
    if value is None:
        raise wrong(f"{where} has no {key} (days after the procedure)")
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong(f"{where}: {key} must be a whole number of days, not {value!r}")
    if value < 0:
        raise wrong(f"{where}: {key} must be 0 or more, not {value}")
    return value


# Added by an event (high-dose glutathione), not chosen: a coordinator task on
# day 28 with a short window like the early touchpoints. The panel is the home
# physician's decision, so the ask is a suggestion to pass on, not an order.
LIVER_PANEL_REMINDER = TouchpointPlan(
    day=28,
    window_before=0,
    window_after=1,
    ask=(
        "Week-4 liver panel reminder (high-dose glutathione): suggest to the home "
        "physician a comprehensive panel including liver function."
    ),
    photos=False,
)


def gets_granuloma_watch(protocol: Protocol, product_exosome_flags: Iterable[bool | None]) -> bool:
    """Whether an episode gets the granuloma watch (nodules 2 weeks to 3 months after).

    Yes when the protocol is an exosome IV protocol, or when any product given
    is an exosome preparation, whatever the route: an exosome ampoule applied
    with microneedling counts. A product whose exosome flag was never recorded
    (None) counts too: not asked is not "no", and a missed nodule watch costs
    more than three extra check-ins.
    """
    if protocol.involves_exosomes:
        return True
    return any(flag is not False for flag in product_exosome_flags)


def event_plans(*, high_dose_glutathione: bool) -> tuple[tuple[str, TouchpointPlan], ...]:
    """Touchpoints an episode gets from what was given, not from a template.

    Pairs of (template name stored on the touchpoint, plan): today the week-4
    liver panel reminder when the episode had high-dose glutathione.
    """
    return ((LIVER_PANEL, LIVER_PANEL_REMINDER),) if high_dose_glutathione else ()


def builtin_templates() -> dict[str, ScheduleTemplate]:
    """The default templates shipped in `core/schedule_templates/`."""
    folder = resources.files("core") / "schedule_templates"
    found: dict[str, ScheduleTemplate] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            template = parse_template(entry.read_text(encoding="utf-8"), entry.name)
            found[template.name] = template
    return found


def load_templates(extra_dirs: Iterable[Path] = ()) -> dict[str, ScheduleTemplate]:
    """Built-in templates, overridden or extended by `*.toml` files an admin drops in."""
    templates = builtin_templates()
    for folder in extra_dirs:
        for path in sorted(folder.glob("*.toml")):
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise ScheduleTemplateError(f"schedule template {path}: not UTF-8 text") from None
            except OSError as exc:
                raise ScheduleTemplateError(
                    f"schedule template {path}: cannot be read ({exc.strerror or exc})"
                ) from None
            template = parse_template(text, str(path))
            templates[template.name] = template
    return templates


def procedure_local_date(procedure_at: datetime) -> date:
    """Day 0: the calendar date of the procedure in clinic time (Asia/Seoul)."""
    return procedure_at.astimezone(CLINIC_TZ).date()


def touchpoint_window(
    procedure_at: datetime, plan: TouchpointPlan, patient_tz: ZoneInfo
) -> TouchpointWindow:
    """Due date and window of one touchpoint, anchored in the patient's time zone."""
    due = procedure_local_date(procedure_at) + timedelta(days=plan.day)
    return _window(due, plan.window_before, plan.window_after, patient_tz)


def event_touchpoint_window(
    due_at: datetime, patient_tz: ZoneInfo, *, window_before: int = 0, window_after: int = 1
) -> TouchpointWindow:
    """Window of a touchpoint added by an event at the instant `due_at` (e.g. a re-check
    48 hours after a triage), with the same shape as a template's.

    The due date is `due_at`'s calendar date where the patient is; the window
    opens at local midnight `window_before` days earlier and closes at local
    midnight after `due date + window_after`, so the default gives the due day
    and the day after, whatever the hour of the event.
    """
    if due_at.tzinfo is None or due_at.utcoffset() is None:
        raise ValueError("due_at must be timezone-aware")
    if window_before < 0 or window_after < 0:
        raise ValueError("window_before and window_after must be >= 0")
    return _window(due_at.astimezone(patient_tz).date(), window_before, window_after, patient_tz)


def _window(due: date, before: int, after: int, patient_tz: ZoneInfo) -> TouchpointWindow:
    opens_local = datetime.combine(due - timedelta(days=before), time(), patient_tz)
    closes_local = datetime.combine(due + timedelta(days=after + 1), time(), patient_tz)
    return TouchpointWindow(
        due_date=due,
        opens_at=opens_local.astimezone(UTC),
        closes_at=closes_local.astimezone(UTC),
    )


def touchpoint_state(
    now: datetime,
    opens_at: datetime,
    closes_at: datetime,
    resolution: TouchpointResolution | None,
) -> TouchpointState:
    """The single definition of a touchpoint's state.

    A stored resolution wins; otherwise the window and the clock decide. The
    SQL queue query uses the same comparisons (`opens_at <= now < closes_at`).
    """
    if resolution is not None:
        return TouchpointState(resolution.value)
    if now < opens_at:
        return TouchpointState.SCHEDULED
    if now < closes_at:
        return TouchpointState.DUE
    return TouchpointState.OVERDUE


def days_after_procedure(
    procedure_at: datetime, now: datetime, patient_tz: str | None = None
) -> int:
    """Day N: calendar days from the procedure date (Seoul calendar) to today's
    date where the patient is now (0 = procedure day).

    A patient in New York on the evening of the 22nd is on the 22nd, whatever the
    date in Seoul. Without a zone, or with one that is not a real zone key, the
    clinic's calendar counts.
    """
    zone = CLINIC_TZ
    if patient_tz:
        try:
            zone = ZoneInfo(patient_tz)
        except (ValueError, KeyError):
            zone = CLINIC_TZ
    return (now.astimezone(zone).date() - procedure_local_date(procedure_at)).days
