"""Follow-up schedule templates and the touchpoint window arithmetic.

Templates are data (TOML files shipped in `core/schedule_templates/`), so an
admin can read and change them without touching code. A touchpoint's window
is fixed in the patient's own time zone: it opens at local midnight of
`due_date - window_before` and closes at local midnight after
`due_date + window_after`. Both instants are stored in UTC so the database
can compare them with "now" in plain SQL, and `touchpoint_state` below is the
one definition of scheduled, due and overdue that every screen uses.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from core.domain import TouchpointResolution, TouchpointState

CLINIC_TZ = ZoneInfo("Asia/Seoul")


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


def parse_template(text: str, source: str) -> ScheduleTemplate:
    """Parse one template from TOML text; `source` names the file in errors."""
    try:
        raw = tomllib.loads(text)
        plans = tuple(
            TouchpointPlan(
                day=int(tp["day"]),
                window_before=int(tp.get("window_before", 0)),
                window_after=int(tp.get("window_after", 1)),
                ask=str(tp["ask"]),
                photos=bool(tp.get("photos", False)),
            )
            for tp in raw["touchpoints"]
        )
        template = ScheduleTemplate(
            name=str(raw["name"]),
            description=str(raw.get("description", "")),
            touchpoints=plans,
            default_for_exosome=bool(raw.get("default_for_exosome", False)),
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"schedule template {source}: {exc}") from exc
    for plan in plans:
        if plan.day < 0 or plan.window_before < 0 or plan.window_after < 0:
            raise ValueError(f"schedule template {source}: day and window must be >= 0")
    return template


def builtin_templates() -> dict[str, ScheduleTemplate]:
    """The four default templates of DOMAIN.md section 3."""
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
            template = parse_template(path.read_text(encoding="utf-8"), str(path))
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
    opens_local = datetime.combine(due - timedelta(days=plan.window_before), time(), patient_tz)
    closes_local = datetime.combine(due + timedelta(days=plan.window_after + 1), time(), patient_tz)
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


def days_after_procedure(procedure_at: datetime, now: datetime) -> int:
    """Whole days since the procedure in clinic time (0 = procedure day)."""
    return (procedure_local_date(now) - procedure_local_date(procedure_at)).days
