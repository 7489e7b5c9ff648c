"""`aftercare notify`: check the staff-alert (Apprise) config and send a test message.

`notify check` answers "will an alert for this tag reach anyone?" before an emergency
does; `notify test --tag T` proves it end to end. Both show service URLs only in
Apprise's masked form, so their output can be pasted into a ticket. Failures end in one
line on stderr and exit status 1, like the rest of the command line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from core.config import ConfigError, Settings, load_config
from core.domain import Role
from core.oncall import unreachable_tags
from db.database import open_database
from db.engine import parse_database_url
from db.errors import StorageError, explain_operational_error
from db.models import Staff
from notifiers.apprise_setup import (
    TEST_BODY,
    TEST_TITLE,
    LoadedApprise,
    NotifyConfigError,
    deliver,
    describe_services,
    load_apprise,
    tags_to_services,
)
from notifiers.delivery import tag_reaches_service

notify_app = typer.Typer(
    help="Check staff alert delivery (the Apprise config) and send test messages.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the `notify` command group to the `aftercare` command line."""
    app.add_typer(notify_app, name="notify")


def _fail(message: str) -> NoReturn:
    """One line on stderr, exit 1 (tui.cli.fail, which this module cannot import: cli
    imports this module to register it)."""
    typer.echo(f"aftercare: {message}", err=True)
    raise typer.Exit(1)


def _load() -> LoadedApprise:
    """Load settings and the Apprise file they name, failing with one clear line."""
    try:
        settings = load_config().settings
    except ConfigError as exc:
        _fail(f"configuration error: {exc}")
    if not settings.apprise_config:
        _fail(
            "apprise_config is not set: point it at the Apprise YAML file "
            "(AFTERCARE_APPRISE_CONFIG or apprise_config in the config file)"
        )
    try:
        loaded = load_apprise(Path(settings.apprise_config).expanduser())
    except NotifyConfigError as exc:
        _fail(f"alert config error: {exc}")
    for warning in loaded.warnings:
        # stderr, so stdout stays the plain service listing.
        typer.echo(f"aftercare: warning: {warning}", err=True)
    return loaded


def tag_warnings(
    apprise_config: str | None, physicians: Iterable[tuple[str, str | None]]
) -> list[str]:
    """One warning per physician whose notify tag reaches no service in the Apprise file
    (loaded as the dispatcher loads it); none when no file is configured."""
    if not apprise_config:
        return []
    try:
        loaded = load_apprise(Path(apprise_config).expanduser(), strict=False)
    except NotifyConfigError as exc:
        return [f"notify tags not checked: {exc}"]
    return unreachable_tags(physicians, lambda tag: tag_reaches_service(loaded, tag))


def _active_physicians(settings: Settings) -> list[tuple[str, str | None]]:
    """(login, notify tag) of every active physician; raises StorageError or SQLAlchemyError."""
    database = open_database(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        with database.sessions() as session:
            rows = session.execute(
                select(Staff.username, Staff.notify_tag)
                .where(Staff.active.is_(True), Staff.role == Role.PHYSICIAN)
                .order_by(Staff.username)
            ).all()
    finally:
        database.close()
    return [(login, tag) for login, tag in rows]


def _check_staff_tags(loaded: LoadedApprise) -> None:
    """Say on stdout how many physicians' tags were checked (or why not), and warn on
    stderr, one line each, about those whose tag reaches no service. Never fails."""
    reason: Exception | None = None
    try:
        settings = load_config().settings
        physicians = _active_physicians(settings)
    except (ConfigError, StorageError) as exc:
        reason = exc
    except SQLAlchemyError as exc:
        reason = explain_operational_error(exc, parse_database_url(settings.database_url))
    if reason is not None:
        shown = " ".join(str(reason).split())
        typer.echo(f"physician tags: not checked (database not readable: {shown})")
        return
    warnings = unreachable_tags(physicians, lambda tag: tag_reaches_service(loaded, tag))
    tagged = sum(1 for _, tag in physicians if tag)
    typer.echo(
        f"physician tags: {tagged} active physician(s) with a notify tag, "
        f"{len(warnings)} reaching no service"
    )
    for warning in warnings:
        typer.echo(f"aftercare: warning: {warning}", err=True)


@notify_app.command("check")
def check() -> None:
    """Validate the Apprise config: list every service (masked) and which tags reach it."""
    loaded = _load()
    services = describe_services(loaded)
    typer.echo(f"alert config: {loaded.path}")
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
        _fail(f"{len(invalid)} service(s) cannot deliver: {invalid[0].masked_url}")


@notify_app.command("test")
def send_test_message(
    tag: Annotated[
        str,
        typer.Option("--tag", help="Tag to send to, e.g. oncall, senior or dr-lee."),
    ],
) -> None:
    """Send a test message to every service with TAG and report each one's result."""
    loaded = _load()
    outcome = deliver(loaded, tag, TEST_TITLE, TEST_BODY)
    if not outcome.matched:
        _fail(f"no service has tag {tag!r}; nothing was sent (see `aftercare notify check`)")
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
        _fail(f"test notification to {tag!r} not delivered everywhere: {reason}")
    typer.echo(f"test notification delivered to {len(outcome.results)} service(s) for {tag!r}")
