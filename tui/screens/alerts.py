"""Physician alerts: every unresolved escalation, who was paged when, and how delivery went.

Opened with `!` from anywhere (an app-level key) and from the command palette.
The table has one line per alert (open ones first, most severe and newest
first); the pane below lists every notification of the highlighted alert:
step, target tag, delivery status, attempts, the (masked) services tried, the
Apprise file the page was sent with (path and the start of its content's hash)
and the last error; the status line names the file the live dispatcher sends
with. Failed deliveries are red, here and in the queue banner.

`k` acknowledges (every further page and pending delivery stops) and `R`
resolves after a confirmation; both call the app's `Clinic` in a thread
worker, one transaction each, as the app's actor (a read-only login is
refused). The screen stays live the way the queue does: a thread worker reads
the change marker, and the alerts only when it moved (the dispatcher bumps it
on every recorded delivery) or every 30 s, since "next step in 3m" ages.

Patient and staff names are always `rich.text.Text`, never markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.widgets import DataTable, Static

from core.domain import EscalationStatus, NotificationStatus
from core.dossier import DECISION_NOTE
from core.escalation import DEFAULT_POLICIES
from db.alerts import AlertView, NotificationView
from db.escalations import DispatcherHolder, SentWith
from db.followup import Actor
from tui.keys import bind, screen_keys
from tui.plain import shown_fields
from tui.screens.common import LiveTableScreen
from tui.styles import Palette

if TYPE_CHECKING:
    from db.services import Clinic

# Time alone ages "next step in 3m" and "raised 7m ago"; re-read at least this often.
FULL_READ_EVERY = timedelta(seconds=30)

COLUMNS: tuple[tuple[str, str], ...] = (
    ("alert", "Alert"),
    ("patient", "Patient"),
    ("state", "State"),
    ("step", "Step"),
    ("deliveries", "This step's deliveries"),
    ("raised", "Raised (KST)"),
)


@dataclass(frozen=True)
class AlertsPage:
    """One read: the alerts, when, the change marker seen, and who sends alerts now."""

    alerts: list[AlertView]
    read_at: datetime
    marker: int
    dispatcher: str | None
    holder: DispatcherHolder | None = None


class AlertsScreen(LiveTableScreen[AlertsPage, AlertView]):
    """Open and acknowledged physician escalations, live."""

    BINDINGS = [
        bind(
            "alerts.acknowledge",
            "k",
            "acknowledge",
            "Acknowledge",
            "Acknowledge the highlighted alert: every further page stops",
        ),
        bind(
            "alerts.resolve",
            "R",
            "resolve",
            "Resolve",
            "Resolve (close) the highlighted alert, after a confirmation",
        ),
        *screen_keys("alerts", reload="Read the alerts now"),
    ]

    HELP_TITLE = "Physician alerts"
    FULL_READ_EVERY = FULL_READ_EVERY
    READ_GROUP = "alerts-read"
    WHAT = "the alerts"
    NAME = "alerts"
    LOADING = "Loading physician alerts…"
    COLUMNS = COLUMNS

    # -- reading -----------------------------------------------------------

    def read_page(self, clinic: Clinic, now: datetime, marker: int) -> AlertsPage:
        """The open alerts and who sends them (in a worker thread)."""
        read = clinic.physician_alerts(now)
        return AlertsPage(read.alerts, now, marker, read.dispatcher, read.holder)

    def show_page(self, page: AlertsPage) -> None:
        """Rows, summary and the highlighted alert's deliveries."""
        tz, palette = self.aftercare.clinic_tz, self.palette
        self.show_rows(
            {str(alert.id): alert for alert in page.alerts},
            [
                (str(alert.id), _row_cells(alert, page.read_at, tz, palette))
                for alert in page.alerts
            ],
        )
        self._show_summary(page)
        self._show_detail()

    def _show_summary(self, page: AlertsPage) -> None:
        opened = sum(1 for a in page.alerts if a.status is EscalationStatus.OPEN)
        acked = len(page.alerts) - opened
        failing = sum(a.failing for a in page.alerts if a.status is EscalationStatus.OPEN)
        header = Text()
        header.append("Physician alerts  ", style="bold")
        header.append(f"{opened} open", style="bold red" if opened else "bold")
        header.append(f"   {acked} acknowledged, not resolved")
        if failing:
            header.append(
                f"   ✗ {failing} failed deliver{'y' if failing == 1 else 'ies'}",
                style=self.palette.alarm,
            )
        self.query_one("#alerts-summary", Static).update(header)
        status = Text(
            f"{self.signed_in_as()} · read "
            f"{page.read_at.astimezone(self.aftercare.clinic_tz):%H:%M:%S} "
        )
        if page.dispatcher is None:
            status.append("· no dispatcher is sending alerts", style="bold red")
        elif page.dispatcher == self.aftercare.dispatcher_owner:
            status.append("· alerts sent by this app")
        else:
            status.append("· alerts sent by ")
            status.append(page.dispatcher)
        if page.holder is not None and page.holder.sent_with is not None:
            status.append(" with ")
            status.append(_file_words(page.holder.sent_with))
        if self.aftercare.dispatcher_state == "not the clinic's":
            status.append(" · this app's Apprise file is not the clinic's: it sends nothing")
        self.show_status(status)

    @on(DataTable.RowHighlighted, "#alerts-table")
    def _highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        alert = self.highlighted()
        pane = self.query_one("#alerts-detail-text", Static)
        if alert is None or self.page is None:
            pane.update(
                Text("No open physician alerts.", style="dim")
                if self.page is not None
                else Text("")
            )
            return
        pane.update(
            _detail(shown_fields(alert), self.page.read_at, self.aftercare.clinic_tz, self.palette)
        )

    # -- changes -------------------------------------------------------------

    def _writer(self, verb: str) -> tuple[Actor, AlertView] | None:
        return self.acting_on(f"{verb} alerts", self.highlighted(), "No alert selected.")

    def action_acknowledge(self) -> None:
        """Acknowledge the highlighted alert: further steps and pending deliveries stop."""
        ready = self._writer("acknowledge")
        if ready is None:
            return
        actor, alert = ready
        if alert.status is not EscalationStatus.OPEN:
            by = f" by {alert.acknowledged_by}" if alert.acknowledged_by else ""
            self.notify(f"E-{alert.id} is already acknowledged{by}.", markup=False)
            return
        clinic = self.aftercare.clinic
        self._write(
            f"E-{alert.id} acknowledged: no further pages.",
            lambda who: clinic.acknowledge_alert(who, alert.id),
            actor,
        )

    def action_resolve(self) -> None:
        """Close the highlighted alert, after a confirmation."""
        ready = self._writer("resolve")
        if ready is None:
            return
        actor, alert = ready
        clinic = self.aftercare.clinic

        question = Text.assemble(
            "Resolve ",
            (f"E-{alert.id}", "bold"),
            f" ({alert.disposition.value}) for ",
            (f"{alert.patient_code} {alert.patient_name}", "bold"),
            "?\nIt leaves every queue; pending deliveries are cancelled.",
        )
        self._write_if_confirmed(
            question,
            f"E-{alert.id} resolved.",
            lambda who: clinic.resolve_alert(who, alert.id),
            actor,
        )


def _ago(then: datetime, now: datetime) -> str:
    """'7m ago', '2h 5m ago', '3d ago': coarse on purpose, it is read at a glance."""
    minutes = max(0, int((now - then).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes}m ago"
    if minutes < 24 * 60:
        return f"{minutes // 60}h {minutes % 60}m ago"
    return f"{minutes // (24 * 60)}d ago"


def _until(then: datetime, now: datetime) -> str:
    seconds = int((then - now).total_seconds())
    if seconds <= 0:
        return "now"
    minutes = (seconds + 59) // 60
    return f"in {minutes}m" if minutes < 60 else f"in {minutes // 60}h {minutes % 60}m"


def _file_words(sent_with: SentWith) -> str:
    """The Apprise file a page went with, in words: its path and the start of the hash of
    its content (two versions of one file differ there)."""
    return f"Apprise file {sent_with.path}, content {sent_with.sha256[:12]}"


def _steps_of(alert: AlertView) -> str:
    policy = DEFAULT_POLICIES.get(alert.disposition)
    return f"/{len(policy.steps)}" if policy is not None else ""


def _delivery(n: NotificationView, tz: tzinfo) -> Text:
    """One notification's delivery status, coloured: red for anything failing."""
    if n.status is NotificationStatus.SENT and n.sent_at is not None:
        return Text(f"✓ sent {n.sent_at.astimezone(tz):%H:%M}", style="green")
    if n.status is NotificationStatus.FAILED:
        return Text("✗ FAILED", style="bold red")
    if n.failing:
        return Text("✗ retrying", style="bold red")
    if n.status is NotificationStatus.SENDING:
        return Text("→ sending", style="yellow")
    if n.status is NotificationStatus.CANCELLED:
        return Text("cancelled", style="dim")
    return Text("… queued", style="yellow")


def _row_cells(alert: AlertView, now: datetime, tz: tzinfo, palette: Palette) -> tuple[Text, ...]:
    label = Text(f"E-{alert.id} ", style="bold")
    label.append(alert.disposition.value.upper(), style=palette.disposition(alert.disposition))
    patient = Text(f"{alert.patient_code} ", style="bold")
    patient.append(alert.patient_name)
    if alert.status is EscalationStatus.OPEN:
        state = Text("OPEN", style="bold red")
    else:
        state = Text("ack ", style="green")
        state.append(alert.acknowledged_by or "?")
    step = Text(f"{alert.current_step}{_steps_of(alert)} c{alert.cycle}")
    if alert.status is EscalationStatus.OPEN:
        if alert.next_step_at is not None:
            step.append(f" next {_until(alert.next_step_at, now)}", style="dim")
        else:
            step.append(" chain done", style="bold red")
    deliveries = Text()
    for n in alert.current:
        if deliveries:
            deliveries.append(", ")
        deliveries.append(f"{n.target_tag} ")
        deliveries.append_text(_delivery(n, tz))
    if not alert.current:
        deliveries.append("—", style="dim")
    if alert.failing and not any(n.failing for n in alert.current):
        # An earlier step failed: still worth red on the line, not only in the pane.
        deliveries.append(f"  +{alert.failing} earlier failed", style="bold red")
    created = alert.created_at.astimezone(tz)
    # The date is in the detail pane; the line keeps to what is read at a glance.
    raised = Text(f"{created:%H:%M} ({_ago(alert.created_at, now)})")
    return label, patient, state, step, deliveries, raised


def _detail(alert: AlertView, now: datetime, tz: tzinfo, palette: Palette) -> RenderableType:
    """Every notification of one alert: who was paged when, over what, and how it went."""
    head = Text.assemble(
        (f"E-{alert.id} ", "bold"),
        (alert.disposition.value.upper(), palette.disposition(alert.disposition)),
        "  ",
        (alert.patient_code, "bold"),
        " ",
        alert.patient_name,
        f"   raised {alert.created_at.astimezone(tz):%d %b %H:%M} KST",
        f"   step {alert.current_step}{_steps_of(alert)}, cycle {alert.cycle}",
    )
    if alert.status is EscalationStatus.OPEN:
        if alert.next_step_at is not None:
            head.append(
                f"   next step {alert.next_step_at.astimezone(tz):%H:%M} "
                f"({_until(alert.next_step_at, now)})"
            )
        else:
            head.append("   every step has run: nobody acknowledged", style="bold red")
    else:
        when = f" {alert.acknowledged_at.astimezone(tz):%H:%M}" if alert.acknowledged_at else ""
        head.append("   acknowledged by ", style="green")
        head.append(alert.acknowledged_by or "?")
        head.append(when)
    if not alert.notifications:
        return Group(head, Text("No notification queued for this alert.", style="dim"))
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, expand=True)
    # Short columns never wrap; the one free-text column takes what is left and folds,
    # so the pane stays readable at 80 columns.
    for heading in ("Step", "Target", "Delivery", "Tries", "Queued"):
        table.add_column(heading, no_wrap=True)
    table.add_column("Via (masked) / last error", overflow="fold", ratio=1)
    for n in alert.notifications:
        via = Text("\n".join(n.services) or "not tried yet", style="" if n.services else "dim")
        if n.sent_with is not None:
            via.append("\n" if via.plain else "")
            via.append(f"sent with {_file_words(n.sent_with)}", style="dim")
        if n.last_error:
            via.append("\n" if n.services else " · ")
            via.append(n.last_error, style="red" if n.failing else "dim")
        table.add_row(
            Text(f"{n.step} c{n.cycle}"),
            Text(n.target_tag, style="bold red" if n.failing else "bold"),
            _delivery(n, tz),
            Text(str(n.attempts)),
            Text(f"{n.created_at.astimezone(tz):%H:%M}"),
            via,
        )
    return Group(head, table, Text(DECISION_NOTE, style="dim"))
