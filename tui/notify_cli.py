"""`aftercare notify`: check the staff-alert (Apprise) config and send a test message.

`notify check` answers "will an alert for this tag reach anyone?" before an emergency
does; `notify test --tag T` proves it end to end. Both show service URLs only in
Apprise's masked form, so their output can be pasted into a ticket. Failures end in one
line on stderr and exit status 1, like the rest of the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from core.config import ConfigError, load_config
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
