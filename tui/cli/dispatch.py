"""`aftercare dispatch`, `ack` and `resolve`: the alert path on the command line."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tui.cli.errors import fail, refusals, warn
from tui.cli.opening import open_clinic, signed_in
from tui.cli.opening import settings as load_settings

if TYPE_CHECKING:
    from db.services import Clinic

EscalationArgument = Annotated[str, typer.Argument(help="Escalation id, e.g. E-123.")]
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="Staff login of who acts (default: yours)."),
]


def _escalation_id(text: str) -> int:
    match = re.fullmatch(r"[Ee]-?(\d{1,18})|(\d{1,18})", text.strip())
    if match is None:
        fail(f"{text!r} is not an escalation id (expected E-123)")
    return int(match.group(1) or match.group(2))


def register(app: typer.Typer) -> None:
    """Add the alert-path commands to the `aftercare` CLI."""

    @app.command()
    def dispatch(
        once: Annotated[bool, typer.Option(help="Process what is due, then exit.")] = False,
        interval: Annotated[float, typer.Option(help="Seconds between rounds.")] = 2.0,
        lease_seconds: Annotated[
            int, typer.Option(min=5, help="How long a claim on a delivery or the dispatcher holds.")
        ] = 60,
        health: Annotated[
            bool,
            typer.Option(
                "--health",
                help="Say whether alerts are being sent, and exit: 0 sending, 1 no "
                "dispatcher alive (nothing waiting yet), 2 alerts NOT being sent.",
            ),
        ] = False,
    ) -> None:
        """Send physician alerts from the outbox and climb unacknowledged escalations.

        Run it as a service on the clinic server (see docs/deployment.md); only one
        dispatcher sends at a time, others wait for the lease. With --health, only
        report (for monitoring): the last heartbeat and the oldest alert waiting.
        """
        if health:
            _health()
            return
        import signal

        from notifiers.clinic_config import not_the_clinics, read_configuration
        from notifiers.systemd import notify

        def stop_notice() -> None:
            notify("STOPPING=1")

        settings = load_settings()
        if not settings.apprise_config:
            fail(
                "apprise_config is not set: point it at the Apprise YAML file "
                "(AFTERCARE_APPRISE_CONFIG or the config file)"
            )
        path = Path(settings.apprise_config)
        # Only the clinic's own file sends (notifiers.clinic_config): a file anyone in
        # the group could write would let them redirect every emergency page. Checked
        # before Apprise is even imported, and again on the bytes it loads.
        try:
            _, first_look = read_configuration(path)
        except OSError:
            pass  # load_apprise says what is wrong, in its words
        else:
            refusal = not_the_clinics(first_look)
            if refusal is not None:
                fail(f"{refusal}; no alerts are sent with it", 2)
        from core.escalation import build_policies
        from notifiers.apprise_setup import NotifyConfigError, load_apprise
        from notifiers.audit_anchor import daily_anchor
        from notifiers.delivery import deliverer_for
        from notifiers.dispatcher import Dispatcher

        try:
            loaded = load_apprise(path, strict=False)
        except NotifyConfigError as exc:
            fail(str(exc))
        configuration = loaded.configuration
        refusal = not_the_clinics(configuration)
        if refusal is not None:
            fail(f"{refusal}; no alerts are sent with it", 2)
        # A broken entry must not stop alerts to the valid ones: say so, keep going.
        for warning in loaded.warnings:
            warn(warning)
        deliver = deliverer_for(loaded)
        from notifiers.dispatcher import alert_links

        # Each page carries a one-tap link when the web service is set up (docs/deployment.md).
        links, link_warnings = alert_links(settings)
        for warning in link_warnings:
            warn(warning)
        clinic = open_clinic(settings)
        database = clinic.database
        lease = timedelta(seconds=lease_seconds)
        dispatcher = Dispatcher(
            database,
            deliver,
            clinic.clock,
            lease=lease,
            row_lease=lease * 2,
            include_patient_name=settings.alert_include_patient_name,
            policies=build_policies(settings.escalation_policies),
            links=links,
            retry_cap_seconds=settings.alert_retry_max_seconds,
            configuration=configuration,
            anchors=daily_anchor(settings.audit_anchor_file, deliver),
        )
        try:
            if once:
                done = dispatcher.run_once()
                dispatcher.release()
                if not done.held_lease:
                    typer.echo("another dispatcher holds the lease; nothing sent")
                    return
                typer.echo(
                    f"sent {done.sent}, retrying {done.retried}, "
                    f"escalations moved {len(done.advanced)}"
                )
                return
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            typer.echo(
                f"dispatcher {dispatcher.owner} running with {configuration.words()}; "
                "SIGTERM stops it"
            )
            _watch(clinic, dispatcher.owner, stop, interval, lease)
            dispatcher.run_forever(stop, interval=interval)
        finally:
            stop_notice()
            database.close()

    def _watch(
        clinic: Clinic, owner: str, stop: threading.Event, interval: float, lease: timedelta
    ) -> None:
        """Under systemd (Type=notify, WatchdogSec=): say ready, then ping the watchdog
        while alerts can flow: this dispatcher renewed its lease lately, or another
        one holds a live lease. A process up but stuck is then restarted by systemd."""
        from notifiers.systemd import notify, watchdog_seconds

        notify("READY=1")
        deadline = watchdog_seconds()
        if deadline is None:
            return
        fresh = max(3 * interval, lease.total_seconds() / 3)

        def ping() -> None:
            while not stop.wait(deadline / 3):
                try:
                    state = clinic.alert_path()
                except Exception:  # the database is gone: no ping, systemd restarts us
                    continue
                heartbeat = state.heartbeat_at
                mine = (
                    state.owner == owner
                    and heartbeat is not None
                    and (state.now - heartbeat).total_seconds() <= fresh
                )
                if mine or (state.owner != owner and state.dispatcher_alive):
                    notify("WATCHDOG=1")

        threading.Thread(target=ping, name="watchdog", daemon=True).start()

    def _health() -> None:
        # Exit 2 for configuration or database trouble too: a monitor must page on it.
        clinic = open_clinic(load_settings(2), 2)
        try:
            with refusals(2):
                state = clinic.alert_path()
        finally:
            clinic.database.close()
        for line in state.report():
            typer.echo(line)
        raise typer.Exit(int(state.health))

    def _act(which: str, escalation: str, by: str | None) -> None:
        from core.config import ConfigError, load_config

        try:
            settings = load_config().settings
        except ConfigError as exc:  # said as it is, without "configuration error:"
            fail(str(exc))
        clinic = open_clinic(settings)
        try:
            escalation_id = _escalation_id(escalation)
            # Who acts: the OS login, or --by when the OS login may act for them
            # (tui.identity); the role check itself is in db.escalations.
            actor = signed_in(clinic, by, flag="--by")
            with refusals():
                if which == "acknowledged":
                    clinic.acknowledge_alert(actor, escalation_id)
                else:
                    clinic.resolve_alert(actor, escalation_id)
        finally:
            clinic.database.close()
        typer.echo(f"E-{escalation_id} {which} by {actor.display_name}")

    @app.command()
    def ack(escalation: EscalationArgument, by: ByOption = None) -> None:
        """Acknowledge an alert (physicians): every further step and delivery stops at once."""
        _act("acknowledged", escalation, by)

    @app.command("resolve")
    def resolve_command(escalation: EscalationArgument, by: ByOption = None) -> None:
        """Close an alert (physicians)."""
        _act("resolved", escalation, by)
