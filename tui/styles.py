"""The colours of the clinic's states, defined once in aftercare.tcss.

Rich `Text` cells (DataTable rows, panes) cannot take TCSS classes, so every
screen that colours a disposition, a queue band, a seriousness or a report
clock declares these names as component classes (`ClinicStyles`), and
aftercare.tcss styles them (`Screen > .disposition--emergency { ... }`). A
`Palette` reads the resulting Rich style from the stylesheet; a theme or
stylesheet change reaches every cell on the next repaint, and no colour is
written in Python.
"""

from __future__ import annotations

from typing import Protocol

from rich.style import Style

from core.domain import Disposition, Seriousness
from core.incidents import ClockState, ReportClock
from core.queue import QueueCategory

# How close a report deadline must be before it is shown in the "soon" colour.
REPORT_SOON_DAYS = 3

_GRAVE = frozenset({Seriousness.DEATH, Seriousness.LIFE_THREATENING})
_CLOCK_CLASS = {
    ClockState.OVERDUE: "clock--overdue",
    ClockState.DUE_TODAY: "clock--due-today",
    ClockState.REPORTED: "clock--reported",
    ClockState.NO_DEADLINE: "clock--no-deadline",
}

STYLE_CLASSES: set[str] = set(
    {
        "alarm",
        *(f"disposition--{d.value}" for d in Disposition),
        *(f"band--{c.name.lower()}" for c in QueueCategory),
        "seriousness--not-assessed",
        "seriousness--non-serious",
        "seriousness--grave",
        "seriousness--serious",
        *_CLOCK_CLASS.values(),
        "clock--soon",
        "clock--later",
    }
)
"""Every name aftercare.tcss styles for Rich cells."""


class _Styled(Protocol):
    def get_component_rich_style(
        self, *names: str, partial: bool = False, default: Style | None = None
    ) -> Style: ...


class ClinicStyles:
    """Mixin for a Screen whose cells are coloured by the clinic's states.

    The screen class itself declares `COMPONENT_CLASSES = STYLE_CLASSES`:
    Textual reads component classes only from classes that are DOM nodes.
    """

    @property
    def palette(self) -> Palette:
        """The clinic's state colours, as this screen's stylesheet says."""
        return Palette(self)  # type: ignore[arg-type]


class Palette:
    """Rich styles for the clinic's states, read from the stylesheet of one screen."""

    def __init__(self, screen: _Styled) -> None:
        self._screen = screen

    def __call__(self, name: str) -> Style:
        """The style of one class in STYLE_CLASSES (only what the stylesheet sets)."""
        return self._screen.get_component_rich_style(name, partial=True)

    def frozen(self) -> FrozenPalette:
        """Every style read now, for a worker thread to colour cells with (the
        stylesheet itself may only be read on the event loop)."""
        return FrozenPalette({name: self(name) for name in STYLE_CLASSES})

    @property
    def alarm(self) -> Style:
        """What must be seen first: an emergency number, failed deliveries."""
        return self("alarm")

    def disposition(self, disposition: Disposition) -> Style:
        """A triage outcome, emergency down to expected."""
        return self(f"disposition--{disposition.value}")

    def band(self, band: QueueCategory) -> Style:
        """A queue band: alert, overdue, due, upcoming."""
        return self(f"band--{band.name.lower()}")

    def seriousness(self, seriousness: Seriousness) -> Style:
        """An incident's seriousness; not yet assessed is flagged, not alarming."""
        if seriousness is Seriousness.NOT_ASSESSED:
            return self("seriousness--not-assessed")
        if seriousness is Seriousness.NON_SERIOUS:
            return self("seriousness--non-serious")
        return self("seriousness--grave" if seriousness in _GRAVE else "seriousness--serious")

    def clock(self, clock: ReportClock) -> Style:
        """A report clock: late, due today, soon, later, reported, none owed."""
        name = _CLOCK_CLASS.get(clock.state)
        if name is None:
            soon = (clock.days_left or 99) <= REPORT_SOON_DAYS
            name = "clock--soon" if soon else "clock--later"
        return self(name)


class FrozenPalette(Palette):
    """A palette read once: the same styles, from a dictionary."""

    def __init__(self, styles: dict[str, Style]) -> None:
        self._styles = styles

    def __call__(self, name: str) -> Style:
        return self._styles[name]

    def frozen(self) -> FrozenPalette:
        return self
