"""The command line loads only what a command uses (bench/cli_start.py times it).

`aftercare triage --json` is called by other programs once per set of
findings, and `aftercare --help` is the first thing a newcomer types: neither
may pay for the database, the screens, the alert delivery or the other
commands. The real console script runs under `python -X importtime`, which
names on stderr every module the process imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import typer
import typer.main
from typer.testing import CliRunner

import tui.cli
from tui.cli import COMMANDS, app

AFTERCARE = str(Path(sys.executable).with_name("aftercare"))
FINDINGS = '{"day": 9, "temperature_c": 37.1, "symptoms": ["erythema"], "country": "JP"}'

# Libraries that only the database, the screens, alert delivery or the exports need.
NOT_FOR_TRIAGE = {
    "aiohttp",
    "web",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "textual",
    "rich",
    "apprise",
    "fhir",
    "fpdf",
    "db",
    "notifiers",
}


def _imported(
    *args: str, env: Mapping[str, str], stdin: str = ""
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the console script under -X importtime: its result and every module it imported."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", AFTERCARE, *args],
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "tui.cli" in modules, result.stderr[-2000:]
    return result, modules


def _roots(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def _other_commands(modules: set[str], *used: str) -> set[str]:
    """Command modules under tui/cli/ that were loaded although not in `used`."""
    commands = {f"tui.cli.{module}" for module in COMMANDS.values() if module}
    return (commands & modules) - {f"tui.cli.{module}" for module in used}


def test_triage_json_loads_no_database_screen_or_other_command(cli_env: dict[str, str]) -> None:
    result, modules = _imported("triage", "--json", env=cli_env, stdin=FINDINGS)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["disposition"] == "review"
    assert "core.triage" in modules
    assert not _roots(modules) & NOT_FOR_TRIAGE
    assert not _other_commands(modules, "triage")
    assert "tui.app" not in modules and "tui.identity" not in modules


def test_help_loads_no_rules_database_or_screens(cli_env: dict[str, str]) -> None:
    result, modules = _imported("--help", env=cli_env)
    assert result.returncode == 0
    assert "triage" in result.stdout
    assert not _roots(modules) & (NOT_FOR_TRIAGE | {"pydantic"})
    assert "core.triage" not in modules


def test_ack_opens_the_database_without_screens_delivery_or_other_commands(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    cli_env["AFTERCARE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'aftercare.db'}"
    assert subprocess.run([AFTERCARE, "init"], env=cli_env, capture_output=True).returncode == 0
    result, modules = _imported("ack", "E-1", env=cli_env)
    # Refused (this login is no staff member), after the clinic was opened and asked.
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert {"sqlalchemy", "db"} <= _roots(modules)
    assert not _roots(modules) & {
        "textual",
        "rich",
        "apprise",
        "fhir",
        "fpdf",
        "notifiers",
        "alembic",
    }
    assert not _other_commands(modules, "dispatch")
    assert "tui.app" not in modules


def test_every_command_is_listed_with_the_module_that_registers_it() -> None:
    # A command a module registers but COMMANDS does not name would vanish from
    # `aftercare`; one named with the wrong module would fail when typed.
    package = Path(tui.cli.__file__).parent
    registering = {
        path.stem for path in package.glob("*.py") if "\ndef register(" in path.read_text()
    }
    assert registering == {module for module in COMMANDS.values() if module}
    for module in registering:
        holder = typer.Typer()

        @holder.callback()
        def _group() -> None:
            """aftercare"""

        __import__(f"tui.cli.{module}", fromlist=["register"]).register(holder)
        registered = set(typer.main.get_group(holder).commands)
        assert registered == {name for name, owner in COMMANDS.items() if owner == module}


def test_help_lists_every_command_in_order() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    rows = result.output.split("Commands:", 1)[1].splitlines()
    listed = [row.split()[0] for row in rows if row.startswith("  ") and row[2] != " "]
    assert listed == list(COMMANDS)


def test_a_mistyped_command_is_suggested_even_before_its_module_loads() -> None:
    result = CliRunner().invoke(app, ["exprot"])
    assert result.exit_code == 2
    assert "Did you mean 'export'?" in result.output
