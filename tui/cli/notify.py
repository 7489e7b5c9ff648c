"""`aftercare notify`: check the staff-alert (Apprise) config and send a test message.

`notify check` answers "will an alert for this tag reach anyone?" before an emergency
does; `notify test --tag T` proves it end to end. Both show service URLs only masked
(`core.service_urls`: passwords, webhook path tokens, ntfy topics, secret query values),
so their output can be pasted into a ticket. `notify check` also says whether the file
is the clinic's own, the only kind the dispatcher sends with (notifiers.clinic_config).
Failures end in one line on stderr and exit status 1, like the rest of the command line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tui.cli.errors import fail, warn

if TYPE_CHECKING:
    from notifiers.apprise_setup import LoadedApprise

notify_app = typer.Typer(
    help="Check staff alert delivery (the Apprise config) and send test messages.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the `notify` command group to the `aftercare` command line."""
    app.add_typer(notify_app, name="notify")


def _load() -> LoadedApprise:
    """Load settings and the Apprise file they name, failing with one clear line."""
    from notifiers.apprise_setup import NotifyConfigError, load_apprise
    from tui.cli.opening import settings as load_settings

    settings = load_settings()
    if not settings.apprise_config:
        fail(
            "apprise_config is not set: point it at the Apprise YAML file "
            "(AFTERCARE_APPRISE_CONFIG or apprise_config in the config file)"
        )
    try:
        loaded = load_apprise(Path(settings.apprise_config).expanduser())
    except NotifyConfigError as exc:
        fail(f"alert config error: {exc}")
    for warning in loaded.warnings:
        # stderr, so stdout stays the plain service listing.
        warn(warning)
    return loaded


def tag_warnings(
    apprise_config: str | None, physicians: Iterable[tuple[str, str | None]]
) -> list[str]:
    """One warning per physician whose notify tag reaches no service in the Apprise file
    (loaded as the dispatcher loads it); none when no file is configured."""
    if not apprise_config:
        return []
    from core.oncall import unreachable_tags
    from notifiers.apprise_setup import NotifyConfigError, load_apprise
    from notifiers.delivery import tag_reaches_service

    try:
        loaded = load_apprise(Path(apprise_config).expanduser(), strict=False)
    except NotifyConfigError as exc:
        return [f"notify tags not checked: {exc}"]
    return unreachable_tags(physicians, lambda tag: tag_reaches_service(loaded, tag))


def _staff_tags() -> tuple[list[tuple[str, str | None]], list[str]]:
    """(login, notify tag) of every active physician, and one warning per active physician
    without a tag who treats a patient still followed up; raises ConfigError, StorageError
    or a Refused (the database not readable)."""
    from core.clock import SystemClock
    from core.config import load_config
    from db.database import open_database
    from db.services import Clinic

    settings = load_config().settings
    database = open_database(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        clinic = Clinic(database, settings, SystemClock())
        untagged = clinic.untagged_treating_physicians()
        return clinic.active_physician_tags(), [line.warning() for line in untagged]
    finally:
        database.close()


def _check_staff_tags(loaded: LoadedApprise) -> None:
    """Say on stdout how many physicians' tags were checked (or why not), and warn on
    stderr, one line each, about those whose tag reaches no service and about treating
    physicians without a tag (their patients' alerts page the on-call). Never fails."""
    from core.config import ConfigError
    from core.oncall import unreachable_tags
    from core.refusals import Refused
    from db.errors import StorageError
    from notifiers.delivery import tag_reaches_service

    try:
        physicians, untagged = _staff_tags()
    except (ConfigError, StorageError, Refused) as exc:
        shown = " ".join(str(exc).split())
        typer.echo(f"physician tags: not checked (database not readable: {shown})")
        return
    warnings = unreachable_tags(physicians, lambda tag: tag_reaches_service(loaded, tag))
    tagged = sum(1 for _, tag in physicians if tag)
    typer.echo(
        f"physician tags: {tagged} active physician(s) with a notify tag, "
        f"{len(warnings)} reaching no service"
    )
    for warning in [*warnings, *untagged]:
        warn(warning)


@notify_app.command("check")
def check() -> None:
    """Validate the Apprise config: list every service (masked) and which tags reach it."""
    from notifiers.apprise_setup import describe_services, tags_to_services
    from notifiers.clinic_config import not_the_clinics

    loaded = _load()
    services = describe_services(loaded)
    typer.echo(f"alert config: {loaded.path}")
    configuration = loaded.configuration
    refusal = not_the_clinics(configuration)
    verdict = (
        "the clinic's own, alerts may be sent with it" if refusal is None else "NOT the clinic's"
    )
    typer.echo(
        f"  owner {configuration.owner}, mode {configuration.mode & 0o7777:o}, "
        f"content {configuration.short_hash}: {verdict}"
    )
    if refusal is not None:
        warn(f"{refusal}: the alert service refuses it and no app sends alerts with it")
    typer.echo(f"services ({len(services)}):")
    for line in services:
        state = "ok" if line.valid else "INVALID"
        tags = ", ".join(line.tags) or "(no tags: reached only by untagged sends)"
        typer.echo(f"  [{state}] {line.service}: {line.masked_url}")
        typer.echo(f"      tags: {tags}")
    typer.echo("tags:")
    for tag, urls in tags_to_services(loaded).items():
        typer.echo(f"  {tag} -> {len(urls)} service{'s' if len(urls) != 1 else ''}")
        for url in urls:
            typer.echo(f"      {url}")
    _check_staff_tags(loaded)
    invalid = [line for line in services if not line.valid]
    if invalid:
        fail(f"{len(invalid)} service(s) cannot deliver: {invalid[0].masked_url}")


@notify_app.command("test")
def send_test_message(
    tag: Annotated[
        str,
        typer.Option("--tag", help="Tag to send to, e.g. oncall, senior or dr-lee."),
    ],
) -> None:
    """Send a test message to every service with TAG and report each one's result."""
    from notifiers.apprise_setup import TEST_BODY, TEST_TITLE, deliver

    loaded = _load()
    outcome = deliver(loaded, tag, TEST_TITLE, TEST_BODY)
    if not outcome.matched:
        fail(f"no service has tag {tag!r}; nothing was sent (see `aftercare notify check`)")
    for result in outcome.results:
        state = "ok" if result.ok else "FAILED"
        detail = f": {result.error}" if result.error else ""
        typer.echo(
            f"{state:<6} {result.service}: {result.masked_url} "
            f"(attempts {result.attempts}, {result.elapsed_seconds:.2f} s){detail}"
        )
    if not outcome.ok_all:
        failed = sum(1 for r in outcome.results if not r.ok)
        reason = outcome.error or f"{failed} of {len(outcome.results)} service(s) failed"
        fail(f"test notification to {tag!r} not delivered everywhere: {reason}")
    typer.echo(f"test notification delivered to {len(outcome.results)} service(s) for {tag!r}")
