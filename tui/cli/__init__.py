"""The `aftercare` command line: open the TUI, set up the database, demo data, config.

Every failure a user can cause (bad config, bad database URL, unreachable
server, old schema) ends in one line on stderr and a non-zero exit status,
never a traceback (tui.cli.errors).

Each command group lives in its own module here and acts through the clinic's
services (db.services). Start-up is kept cheap: the group imports a command's
module only when that command runs (tui.cli.lazy; `--help` loads them all to
list them), the command modules import only typer and the small enums their
options name, and each command imports what it works with (configuration,
database, Textual, Apprise, the export libraries) when it runs, so
`aftercare --help` and `aftercare triage` do not load what they never use.
"""

from __future__ import annotations

import time
from typing import Annotated, NoReturn

import typer

from core.masking import masked_text
from tui.cli.errors import EXIT_REFUSED, fail, refusal_status, refusals
from tui.cli.lazy import lazy_group
from tui.cli.opening import loaded_config, open_clinic, settings, signed_in

COMMANDS: dict[str, str | None] = {
    "triage": "triage",
    "dispatch": "dispatch",
    "ack": "dispatch",
    "resolve": "dispatch",
    "backup": "backup",
    "run": None,
    "init": None,
    "demo": None,
    "schedules": None,
    "config": None,
    "notify": "notify",
    "audit": "audit",
    "oncall": "oncall",
    "db": "db",
    "staff": "staff",
    "import": "import_",
    "export": "export",
    "patient": "patient",
    "episode": "episode",
    "web": "web",
}
"""Every command, in the order `aftercare --help` lists them, and the module under
tui/cli/ whose `register(app)` adds it (None: defined in this module)."""

app = typer.Typer(
    name="aftercare",
    help="Post-trip follow-up workstation for clinic coordinators.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    # The commands of the other modules are built with the same two settings.
    cls=lazy_group(COMMANDS, pretty_exceptions_enable=False, rich_markup_mode=None),
)
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


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
    current = settings()
    clinic = open_clinic(current)
    from tui.app import AftercareApp  # Textual loads only for the TUI, not for every command.
    from tui.terminal import NoTerminal, run_in_terminal

    try:
        # The clinic's schedule templates are read now, not when a form first needs
        # them: a broken file stops here in one line naming it, before the screen opens.
        from core.schedules import load_templates

        with refusals():
            load_templates(clinic.template_dirs)
        try:
            actor = signed_in(clinic, login, flag="--as")
            status = run_in_terminal(
                AftercareApp(
                    clinic.database,
                    current,
                    actor=actor,
                    login=actor.username,
                    template_dirs=clinic.template_dirs,
                ),
                mouse=not no_mouse,
            )
        except NoTerminal as exc:
            fail(str(exc))
    finally:
        clinic.database.close()
    if status:
        raise typer.Exit(status)


@app.command()
def init() -> None:
    """Create the database, or upgrade it to this version's schema. Safe to repeat."""
    from db.services.admin import AdminServices

    current = settings()
    with refusals():
        before, after = AdminServices.initialise_database(current)
    if before == after:
        typer.echo(f"database already at schema revision {after}; nothing to do")
    else:
        typer.echo(f"database schema: {before or 'empty'} -> {after}")


@app.command()
def demo(
    patients: Annotated[int, typer.Option(min=1, help="How many demo patients.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 1,
    if_empty: Annotated[
        bool, typer.Option(help="Only load when the database has no patients at all.")
    ] = False,
) -> None:
    """Fill the database with realistic, deterministic demo patients.

    Existing demo data is replaced. Refuses when the database holds real
    (non-demo) patients: demo logins never sign in beside them. Admins only,
    except a newcomer's first demo on a database with no staff yet; every load
    is audited.
    """
    from tui.identity import os_login

    clinic = open_clinic(settings())
    try:
        with refusals():
            me = os_login()
            if if_empty:
                existing = clinic.patient_count()
                if existing:
                    typer.echo(f"database already holds {existing} patients; no demo data loaded")
                    return
            started = time.perf_counter()
            summary = clinic.load_demo_as(me, patients=patients, seed=seed)
            elapsed = time.perf_counter() - started
    finally:
        clinic.database.close()
    typer.echo(
        f"demo data: {summary.patients} patients, {summary.episodes} episodes, "
        f"{summary.touchpoints} touchpoints, {summary.contact_attempts} contact attempts, "
        f"{summary.triages} triages, {summary.incidents} incidents "
        f"in {elapsed:.1f} s"
    )
    typer.echo(demo_logins())


def demo_logins() -> str:
    """The demo staff `aftercare demo` made, so a newcomer can work as one of them."""
    from db.demo.people import ADMINS, COORDINATORS, PHYSICIANS

    lines = [
        "demo logins (work as one with `aftercare run --as LOGIN`; "
        f"`./dev run` signs in as {DEMO_RUN_LOGIN}):"
    ]
    for words, staff in (
        ("coordinators", COORDINATORS),
        ("physicians", PHYSICIANS),
        ("admin", ADMINS),
    ):
        lines.append(f"  {words + ':':<14}{', '.join(person.username for person in staff)}")
    return "\n".join(lines)


DEMO_RUN_LOGIN = "demo-rn-park"
"""Who `./dev run` works as unless DEMO_LOGIN says otherwise (the `dev` script)."""


@app.command()
def schedules() -> None:
    """List the follow-up schedule templates: built-in ones and those an admin added."""
    from core.config import schedule_template_dirs
    from core.schedules import load_templates

    loaded = loaded_config()
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
    from core.config import describe

    loaded = loaded_config()
    typer.echo(f"config file: {loaded.path if loaded.path else '(none found; defaults)'}")
    rows = describe(loaded)
    width = max(len(key) for key, _, _ in rows)
    for key, value, source in rows:
        typer.echo(f"{key:<{width}}  {value}  [{source}]")


def main() -> None:
    """Console-script entry point.

    The one place a refusal or storage failure no command caught (a database
    that fails mid-command: gone, locked) still becomes one line and exit 1,
    and so does a file the operating system refused (permission denied, disk
    full), whichever command met it.
    """
    try:
        app()
    except OSError as exc:
        _last_line(_os_refusal(exc))
    except Exception as exc:
        if refusal_status(exc, refused=EXIT_REFUSED, unavailable=EXIT_REFUSED) is None:
            raise
        _last_line(str(exc))


def _last_line(sentence: str) -> NoReturn:
    """`fail` outside the command (typer.Exit means nothing once app() has returned)."""
    typer.echo(f"aftercare: {masked_text(sentence)}", err=True)
    raise SystemExit(EXIT_REFUSED) from None


def _os_refusal(exc: OSError) -> str:
    """One line for a file the operating system refused: what, and which file."""
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"
