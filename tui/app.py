"""The aftercare Textual application: the database, clock, settings and who is working.

When an Apprise file is configured and no other dispatcher holds the lease, the
app also sends physician alerts itself: a `Dispatcher` runs on a daemon thread
from mount to unmount (see `_dispatch_loop`). The Dispatcher takes the lease
every round, so even two apps started together never both send; the second one
simply idles until the first goes away.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable, Sequence
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen, Screen

from core.clock import Clock, SystemClock
from core.config import Settings
from core.escalation import build_policies
from db.database import Database
from db.followup import Actor
from db.listen import ChangeListener, ListenerState
from db.services import Clinic
from notifiers.dispatcher import Dispatcher, default_owner
from tui.collector import IdleCollector
from tui.keys import bind
from tui.live import SessionEnded
from tui.screens.alerts import AlertsScreen
from tui.screens.incidents import IncidentLogScreen
from tui.screens.oncall import OnCallScreen
from tui.screens.queue import QueueScreen
from tui.session_ended import SessionEndedScreen

log = logging.getLogger("aftercare.tui")

DISPATCH_INTERVAL = 2.0
"""Seconds between the in-app dispatcher's rounds."""
DISPATCH_JOIN_SECONDS = 5.0
"""How long exit waits for a send in flight before leaving the lease to expire."""


CLOCK_EVERY = 30.0
"""Seconds between two redraws of "local time now" on the screens that show it."""


class AftercareApp(App[None]):
    """The coordinator workstation."""

    TITLE = "aftercare"
    CSS_PATH = "aftercare.tcss"
    # In every screen's footer (tui.footer keeps them at 80 columns), so a newcomer
    # finds every screen; the screen already open is left out (check_action).
    BINDINGS = [
        bind(
            "app.alerts",
            "exclamation_mark",
            "open_alerts",
            "Alerts",
            "Physician alerts: who was paged, delivery status, acknowledge",
        ),
        bind(
            "app.incidents",
            "i",
            "open_incidents",
            "Incidents",
            "Incident log: adverse events, MFDS report clocks, timelines",
        ),
        bind(
            "app.oncall",
            "O",
            "open_oncall",
            "On-call",
            "On-call schedule: who receives oncall pages; admins set shifts",
        ),
    ]

    def __init__(
        self,
        database: Database,
        settings: Settings,
        clock: Clock | None = None,
        *,
        actor: Actor | None = None,
        login: str = "",
        run_dispatcher: bool = True,
        template_dirs: Sequence[Path] = (),
    ) -> None:
        super().__init__()
        self.database = database
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.clinic = Clinic(
            database, settings, self.clock, template_dirs=template_dirs, signed_in=actor
        )
        """The service layer: every screen reads and writes through it, for `actor` only
        while they stay active staff (db.services.base.SignedOut)."""
        self.session_ended = ""
        """Why this session shows no more patient data (its login was disabled), or ""."""
        # Any read refused for that reason, from any screen's worker, ends the session.
        self.clinic.on_signed_out = lambda sentence: self.post_message(SessionEnded(sentence))
        self.actor = actor
        """The staff member at the keyboard; None means read-only."""
        self.login = login or (actor.username if actor else "")
        self.clinic_tz = ZoneInfo(settings.clinic_timezone)
        self.sub_title = settings.clinic_name
        self.run_dispatcher = run_dispatcher
        """Whether this app may send alerts itself (tests turn it off)."""
        self.dispatcher_owner = default_owner()
        """The lease owner name this app's dispatcher uses (the alerts screen compares)."""
        self.dispatcher_state = "off"
        """off, starting, running, standby (another dispatcher sends), broken, or
        "not the clinic's" (its Apprise file may not send: see `_dispatch_loop`)."""
        self.dispatcher: Dispatcher | None = None
        """The running in-app dispatcher, once started."""
        self._dispatch_stop = threading.Event()
        self._dispatch_thread: threading.Thread | None = None
        self.change_listener: ChangeListener | None = None
        """On PostgreSQL, wakes the current screen when anyone commits a change."""
        self._live_updates_paused = False
        self.collector = IdleCollector()
        """Full garbage collections while nobody types (started by the first page shown)."""
        if settings.keymap:
            # Ids and keys were checked when the config file was read (core.config).
            self.set_keymap(settings.keymap)

    def on_mount(self) -> None:
        self.push_screen(QueueScreen())
        if self.actor is None:
            self.notify(
                f"Login {self.login!r} is not an active staff member: read-only.",
                severity="warning",
                timeout=10,
            )
        self._start_dispatcher()
        self._start_listener()
        # One clock for every screen that shows "local time now". A screen's own long
        # timer, once the screen closed, kept it (and its widgets) alive until the
        # timer's next due time: asyncio holds a cancelled timer until then.
        self.set_interval(CLOCK_EVERY, self._show_clocks)

    async def on_event(self, event: events.Event) -> None:
        """Every key tells the garbage collector the coordinator is working."""
        if isinstance(event, events.Key):
            self.collector.key_pressed()
        await super().on_event(event)

    def _show_clocks(self) -> None:
        """Every open screen that shows the time of day draws it again."""
        for screen in self.screen_stack:
            show = getattr(screen, "show_clock", None)
            if callable(show):
                show()

    async def on_unmount(self) -> None:
        await self._stop_dispatcher()
        if self.change_listener is not None:
            await asyncio.to_thread(self.change_listener.stop)

    # -- the in-app dispatcher ---------------------------------------------

    def _start_dispatcher(self) -> None:
        if not self.run_dispatcher or not self.settings.apprise_config:
            return
        self.dispatcher_state = "starting"
        # Loading Apprise and reading the lease are blocking: both happen on the thread.
        self._dispatch_thread = threading.Thread(
            target=self._dispatch_loop, name="aftercare-dispatcher", daemon=True
        )
        self._dispatch_thread.start()

    def _dispatch_loop(self) -> None:
        """Thread body: load Apprise, then send whenever this app holds the dispatcher lease."""
        # Imported here, on the thread: Apprise is slow to import and the queue's first
        # paint must not wait for it.
        from notifiers.apprise_setup import NotifyConfigError, load_apprise
        from notifiers.clinic_config import not_the_clinics
        from notifiers.delivery import deliverer_for

        path = Path(self.settings.apprise_config or "").expanduser()
        try:
            # Not strict: one bad entry must not stop alerts to every valid service.
            loaded = load_apprise(path, strict=False)
        except NotifyConfigError as exc:
            self._dispatch_broken(str(exc))
            return
        except Exception as exc:  # Apprise itself failing must not take the app down
            self._dispatch_broken(f"{path}: {exc}")
            return
        # Only the clinic's own Apprise file sends (notifiers.clinic_config): a file of
        # the person at the keyboard would let them take the lease and divert every page.
        # This app then never asks for the lease; the queue's alert-path banner still
        # says whether the service is sending.
        refusal = not_the_clinics(loaded.configuration)
        if refusal is not None:
            self.dispatcher_state = "not the clinic's"
            log.warning("this app does not send physician alerts: %s", refusal)
            self.notify(
                f"This app does not send physician alerts: {refusal}. The clinic's alert "
                "service sends them.",
                severity="warning",
                markup=False,
                timeout=30,
            )
            return
        if loaded.warnings:
            more = f" (+{len(loaded.warnings) - 1} more)" if len(loaded.warnings) > 1 else ""
            self.notify(
                f"Apprise: {loaded.warnings[0]}{more}", severity="warning", markup=False, timeout=15
            )
        try:
            holder = self.clinic.dispatcher_holder()
        except Exception as exc:  # the database is gone for a moment: do not guess, step aside
            log.warning("could not read the dispatcher lease: %s", exc)
            self._dispatch_broken(f"could not read the dispatcher lease ({exc})")
            return
        dispatcher = Dispatcher(
            self.database,
            deliverer_for(loaded),
            self.clock,
            owner=self.dispatcher_owner,
            include_patient_name=self.settings.alert_include_patient_name,
            policies=build_policies(self.settings.escalation_policies),
            retry_cap_seconds=self.settings.alert_retry_max_seconds,
            configuration=loaded.configuration,
        )
        self.dispatcher = dispatcher
        # Standing by is not stopping: every round asks for the lease, so if the
        # dispatcher service dies this app takes over once its lease runs out.
        self.dispatcher_state = "standby" if holder is not None else "running"
        if holder is not None:
            log.info("dispatcher %s is live; this app stands by", holder)
        # run_forever releases the lease when it stops, however it stops.
        dispatcher.run_forever(self._dispatch_stop, interval=DISPATCH_INTERVAL)

    def _dispatch_broken(self, reason: str) -> None:
        self.dispatcher_state = "broken"
        # App.notify posts a message, so it is safe from this thread.
        self.notify(
            f"Physician alerts are NOT sent from this app: {reason}",
            severity="error",
            markup=False,
            timeout=30,
        )

    async def _stop_dispatcher(self) -> None:
        thread = self._dispatch_thread
        if thread is None:
            return
        self._dispatch_stop.set()
        # Joining blocks: do it off the event loop, bounded, as a send may be in flight.
        await asyncio.to_thread(thread.join, DISPATCH_JOIN_SECONDS)
        if thread.is_alive() and self.dispatcher is not None:
            # Stuck in a slow send: hand the lease back now rather than after it expires.
            await asyncio.to_thread(self.dispatcher.release)
        self._dispatch_thread = None

    # -- instant refresh on PostgreSQL (LISTEN/NOTIFY) ------------------------

    def _start_listener(self) -> None:
        # Polling stays on in every screen: this only makes PostgreSQL news arrive sooner.
        if self.database.engine.url.get_backend_name() != "postgresql":
            return
        self.change_listener = ChangeListener(
            self.database.engine.url, self._changed_elsewhere, on_state=self._listener_state
        )
        self.change_listener.start()

    def _changed_elsewhere(self) -> None:
        """Listener thread: someone committed a change; re-read the screen in view."""
        with suppress(RuntimeError):  # the app is closing
            self.call_from_thread(self._refresh_screen_in_view)

    def _refresh_screen_in_view(self) -> None:
        # A form (modal) over the queue leaves the queue in view behind it.
        for screen in reversed(self.screen_stack):
            if isinstance(screen, ModalScreen):
                continue
            refresh_now = getattr(screen, "refresh_now", None)
            if callable(refresh_now):
                refresh_now()
            return

    def _listener_state(self, state: ListenerState, reason: str) -> None:
        """Listener thread: say when live updates stop and come back (App.notify is safe)."""
        if state is ListenerState.RECONNECTING:
            log.warning("live updates paused: %s", reason)
            self._live_updates_paused = True
            self.notify(
                "Live updates paused (no connection to the database); screens still re-read "
                f"every {self.settings.refresh_seconds:g} s.",
                severity="warning",
                markup=False,
                timeout=10,
            )
        elif state is ListenerState.LISTENING and self._live_updates_paused:
            self._live_updates_paused = False
            self.notify("Live updates are back.", markup=False, timeout=5)

    # -- the session's end -------------------------------------------------

    async def on_session_ended(self, message: SessionEnded) -> None:
        """The login was disabled: every screen goes, one sentence stays (tui.session_ended)."""
        if self.session_ended:
            return
        self.session_ended = message.sentence
        while len(self.screen_stack) > 1:
            await self.pop_screen()
        for kind in (AlertsScreen, IncidentLogScreen, OnCallScreen):
            # Kept screens hold the last patient data read; they go too.
            name = f"kept-{kind.__name__}"
            if self.is_screen_installed(name):
                kept = self.get_screen(name)
                self.uninstall_screen(name)
                if kept.is_attached:
                    await kept.remove()
        await self.push_screen(SessionEndedScreen(message.sentence))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """After the session ended, no key opens a screen again, nor the palette."""
        if self.session_ended and (action.startswith("open_") or action == "command_palette"):
            return False
        if self._opens_screen_in_view(action):
            return False  # no key offered for the screen already open
        return super().check_action(action, parameters)

    def _opens_screen_in_view(self, action: str) -> bool:
        opened = {
            "open_alerts": AlertsScreen,
            "open_incidents": IncidentLogScreen,
            "open_oncall": OnCallScreen,
        }.get(action)
        return opened is not None and isinstance(self.screen, opened)

    # -- screens -----------------------------------------------------------

    def open_patient(self, patient_id: int) -> None:
        """Show one patient's screen."""
        from tui.screens.patient import PatientScreen

        self.push_screen(PatientScreen(patient_id))

    def action_open_alerts(self) -> None:
        """Show the physician alerts (not over a form, and not twice)."""
        self._open_kept(AlertsScreen)

    def action_open_incidents(self) -> None:
        """Show the incident log (not over a form, and not twice)."""
        self._open_kept(IncidentLogScreen)

    def action_open_oncall(self) -> None:
        """Show the on-call schedule (not over a form, and not twice)."""
        self._open_kept(OnCallScreen)

    def _open_kept(self, kind: type[Screen[None]]) -> None:
        """Show the one kept screen of `kind`, built on its first opening only.

        Building the alerts, incident-log or on-call screen costs a quarter of a second
        of CPU; kept, it comes back at once with its last page, its filters and its
        cursor, and looks for news as it appears (tui.screens.common). When it is
        already open further down (alerts -> a patient -> alerts), a fresh one goes on
        top: one screen cannot be in the stack twice.
        """
        if isinstance(self.screen, kind | ModalScreen) or self.session_ended:
            return
        name = f"kept-{kind.__name__}"
        if not self.is_screen_installed(name):
            self.install_screen(kind(), name)
        if self.get_screen(name) in self.screen_stack:
            self.push_screen(kind())
        else:
            self.push_screen(name)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette offers every action of the current screen, not only the app's,
        each once (Textual's own Quit stands for the queue's `q`)."""
        offered: set[str] = set()
        for command in super().get_system_commands(screen):
            offered.add(command.title)
            yield command
        if not isinstance(screen, AlertsScreen):
            yield SystemCommand(
                "Physician alerts",
                "Open escalations: who was paged, delivery status, acknowledge (!)",
                self.action_open_alerts,
            )
        if not isinstance(screen, OnCallScreen):
            yield SystemCommand(
                "On-call schedule",
                "Who receives oncall pages now and the next 14 days; admins set shifts (O)",
                self.action_open_oncall,
            )
        if not isinstance(screen, IncidentLogScreen):
            yield SystemCommand(
                "Incident log",
                "Adverse events, MFDS report clocks, timelines (i)",
                self.action_open_incidents,
            )
        for binding in screen.BINDINGS:
            if (
                isinstance(binding, Binding)
                and binding.description not in ("", *offered)
                and screen.check_action(binding.action, ()) is not False
            ):
                offered.add(binding.description)
                yield SystemCommand(
                    binding.description,
                    binding.tooltip or binding.description,
                    partial(screen.run_action, binding.action),
                )
