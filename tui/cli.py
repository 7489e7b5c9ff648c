"""The `aftercare` command line: open the TUI, set up the database, demo data, config.

Every failure a user can cause (bad config, bad database URL, unreachable
server, old schema) ends in one line on stderr and a non-zero exit status,
never a traceback.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated, NoReturn

import typer

from core.clock import SystemClock
from core.config import ConfigError, LoadedConfig, describe, load_config
from db.database import Database, initialise_database, open_database
from db.errors import StorageError
from tui.audit_cli import register as register_audit
from tui.backup_cli import register as register_backup
from tui.db_cli import register as register_db
from tui.dispatch_cli import register as register_dispatch
from tui.export_cli import register as register_export
from tui.identity import SignInRefused, sign_in
from tui.import_cli import register as register_import
from tui.notify_cli import register as register_notify
from tui.oncall_cli import register as register_oncall
from tui.staff_cli import register as register_staff
from tui.triage_cli import register as register_triage

app = typer.Typer(
    name="aftercare",
    help="Post-trip follow-up workstation for clinic coordinators.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")
register_triage(app)
register_notify(app)
register_dispatch(app)
register_audit(app)
register_oncall(app)
register_db(app)
register_staff(app)
register_import(app)
register_backup(app)
register_export(app)


def fail(message: str, status: int = 1) -> NoReturn:
    """Print one line to stderr and exit."""
    typer.echo(f"aftercare: {message}", err=True)
    raise typer.Exit(status)


def _config() -> LoadedConfig:
    try:
        return load_config()
    except ConfigError as exc:
        fail(f"configuration error: {exc}")


@app.callback(invoke_without_command=True)
def _default(ctx: typer.Context) -> None:
    """With no command, open the queue (same as `aftercare run`)."""
    if ctx.invoked_subcommand is None:
        run(login=None)


@app.command()
def run(
    login: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Work as this demo staff login instead of the operating-system user, "
            "on a database without real patients (--as demo-rn-park).",
        ),
    ] = None,
    no_mouse: Annotated[
        bool,
        typer.Option(
            "--no-mouse",
            help="Leave the mouse to the terminal (its own select and copy); keys only.",
        ),
    ] = False,
) -> None:
    """Open the coordinator workstation (the TUI) on the configured database."""
    settings = _config().settings
    database = _open(settings.database_url, settings.sqlite_busy_timeout_ms)
    from tui.app import AftercareApp  # Textual loads only for the TUI, not for every command.
    from tui.terminal import NoTerminal, run_in_terminal

    try:
        try:
            actor = sign_in(database, login, flag="--as", now=SystemClock().now())
        except SignInRefused as exc:  # unknown, disabled, or may not work as LOGIN
            fail(str(exc))
        who = actor.username
        status = run_in_terminal(
            AftercareApp(database, settings, actor=actor, login=who), mouse=not no_mouse
        )
    except NoTerminal as exc:
        fail(str(exc))
    finally:
        database.close()
    if status:
        raise typer.Exit(status)


@app.command()
def init() -> None:
    """Create the database, or upgrade it to this version's schema. Safe to repeat."""
    settings = _config().settings
    try:
        before, after = initialise_database(
            settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
        )
    except StorageError as exc:
        fail(str(exc))
    if before == after:
        typer.echo(f"database already at schema revision {after}; nothing to do")
    else:
        typer.echo(f"database schema: {before or 'empty'} -> {after}")


@app.command()
def demo(
    patients: Annotated[int, typer.Option(min=1, help="How many demo patients.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 1,
    force: Annotated[
        bool, typer.Option(help="Add demo data even though real patients are present.")
    ] = False,
    if_empty: Annotated[
        bool, typer.Option(help="Only load when the database has no patients at all.")
    ] = False,
) -> None:
    """Fill the database with realistic, deterministic demo patients.

    Existing demo data is replaced. Refuses when the database holds real
    (non-demo) patients unless --force is given.
    """
    from db.demo import load_demo
    from db.queries import patient_count

    settings = _config().settings
    database = _open(settings.database_url, settings.sqlite_busy_timeout_ms)
    try:
        if if_empty:
            with database.sessions() as session:
                existing = patient_count(session)
            if existing:
                typer.echo(f"database already holds {existing} patients; no demo data loaded")
                return
        started = time.perf_counter()
        summary = load_demo(
            database.engine,
            patients=patients,
            seed=seed,
            now=SystemClock().now(),
            force=force,
            high_dose_glutathione_mg=settings.high_dose_glutathione_mg,
        )
        elapsed = time.perf_counter() - started
    except StorageError as exc:
        fail(str(exc))
    finally:
        database.close()
    typer.echo(
        f"demo data: {summary.patients} patients, {summary.episodes} episodes, "
        f"{summary.touchpoints} touchpoints, {summary.contact_attempts} contact attempts, "
        f"{summary.triages} triages, {summary.incidents} incidents "
        f"in {elapsed:.1f} s"
    )


@app.command()
def schedules() -> None:
    """List the follow-up schedule templates: built-in ones and those an admin added."""
    from core.config import schedule_template_dirs
    from core.schedules import load_templates

    loaded = _config()
    folders = schedule_template_dirs(loaded)
    try:
        templates = load_templates(folders)
    except ValueError as exc:
        fail(str(exc))
    typer.echo(
        "template folders: " + (", ".join(str(f) for f in folders) or "(none; built-in only)")
    )
    for template in templates.values():
        days = ", ".join(
            f"d{tp.day} (-{tp.window_before}/+{tp.window_after})" for tp in template.touchpoints
        )
        typer.echo(f"{template.name}: {days}")
        if template.description:
            typer.echo(f"    {template.description}")


@config_app.command("show")
def config_show() -> None:
    """Print every setting, its effective value (secrets masked) and where it came from."""
    loaded = _config()
    typer.echo(f"config file: {loaded.path if loaded.path else '(none found; defaults)'}")
    rows = describe(loaded)
    width = max(len(key) for key, _, _ in rows)
    for key, value, source in rows:
        typer.echo(f"{key:<{width}}  {value}  [{source}]")


def _open(url: str, busy_timeout_ms: int) -> Database:
    try:
        return open_database(url, busy_timeout_ms=busy_timeout_ms)
    except StorageError as exc:
        fail(str(exc))


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except StorageError as exc:
        # A database that fails mid-command (gone, locked) still gets one line.
        typer.echo(f"aftercare: {exc}", err=True)
        sys.exit(1)
