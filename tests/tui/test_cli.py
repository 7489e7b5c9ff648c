"""The command line as a user meets it: real `aftercare` processes, real databases.

Bad input must give one clear line, a non-zero exit status, no traceback, and
write nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy import inspect

from db import migrate
from db.engine import make_engine

AFTERCARE = str(Path(sys.executable).with_name("aftercare"))


def run_cli(
    *args: str, env: Mapping[str, str], prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, AFTERCARE, *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


class Finished(Protocol):
    """A finished command, run as a process or in process: its exit status and errors."""

    @property
    def returncode(self) -> int: ...

    @property
    def stderr(self) -> str: ...


def assert_one_clear_line(result: Finished, *needles: str) -> None:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_help_explains_every_command(cli_env: dict[str, str]) -> None:
    result = run_cli("--help", env=cli_env)
    assert result.returncode == 0
    for command in ("run", "init", "demo", "config", "schedules", "triage"):
        assert command in result.stdout


def test_init_creates_a_private_database_and_is_idempotent(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    path = tmp_path / "clinic" / "aftercare.db"
    cli_env["AFTERCARE_DATABASE_URL"] = f"sqlite:///{path}"
    first = run_cli("init", env=cli_env)
    assert first.returncode == 0, first.stderr
    assert "empty -> " in first.stdout
    assert oct(path.stat().st_mode & 0o777) == oct(0o660)
    second = run_cli("init", env=cli_env)
    assert second.returncode == 0
    assert "nothing to do" in second.stdout


def test_malformed_url(cli_env: dict[str, str]) -> None:
    cli_env["AFTERCARE_DATABASE_URL"] = "postgres ql://nobody"
    assert_one_clear_line(run_cli("run", env=cli_env), "not a valid database URL")


def test_unreachable_server(cli_env: dict[str, str]) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused.
    cli_env["AFTERCARE_DATABASE_URL"] = "postgresql://clinic:s3cret-placeholder@127.0.0.1:9/x"
    result = run_cli("run", env=cli_env)
    assert_one_clear_line(result, "cannot reach database", "127.0.0.1:9")
    assert "s3cret-placeholder" not in result.stderr


def test_missing_sqlite_file_is_not_created(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = tmp_path / "typo.db"
    cli_env["AFTERCARE_DATABASE_URL"] = f"sqlite:///{path}"
    assert_one_clear_line(run_cli("run", env=cli_env), "no database at", "aftercare init")
    assert not path.exists()


def _read_only(folder: Path) -> tuple[str, ...]:
    """A command prefix under which `folder` is read-only, even for root.

    Root ignores permission bits, so as root the folder is remounted read-only
    in a private mount namespace that exists only for the child process.
    """
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return ()
    if shutil.which("unshare") is None:
        pytest.fail("running as root needs `unshare` (util-linux) for the read-only test")
    script = (
        f'mount --bind "{folder}" "{folder}" && mount -o remount,ro,bind "{folder}" && exec "$@"'
    )
    return ("unshare", "--mount", "sh", "-c", script, "sh")


def test_init_in_read_only_folder(tmp_path: Path, cli_env: dict[str, str]) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    cli_env["AFTERCARE_DATABASE_URL"] = f"sqlite:///{folder / 'aftercare.db'}"
    result = run_cli("init", env=cli_env, prefix=_read_only(folder))
    assert_one_clear_line(result, f"folder {folder} is not writable")
    assert list(folder.iterdir()) == []


def test_existing_database_in_read_only_folder(tmp_path: Path, cli_env: dict[str, str]) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "aftercare.db"
    cli_env["AFTERCARE_DATABASE_URL"] = f"sqlite:///{path}"
    assert run_cli("init", env=cli_env).returncode == 0
    before = sorted(p.name for p in folder.iterdir())
    size = path.stat().st_size
    result = run_cli("run", env=cli_env, prefix=_read_only(folder))
    assert_one_clear_line(result, "not writable")
    assert sorted(p.name for p in folder.iterdir()) == before
    assert path.stat().st_size == size


def test_database_at_old_revision(db_url: str, cli_env: dict[str, str]) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0001")
        cli_env["AFTERCARE_DATABASE_URL"] = db_url
        for command in ("run", "demo"):
            result = run_cli(command, env=cli_env)
            assert_one_clear_line(result, "at revision 0001", "run `aftercare init`")
        assert migrate.current_revision(engine) == "0001"
        assert "patient" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_config_show_masks_secrets_and_names_sources(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('clinic_name = "Gangnam Regenerative Clinic"\nqueue_page_size = 200\n')
    cli_env["AFTERCARE_CONFIG"] = str(config)
    cli_env["AFTERCARE_DATABASE_URL"] = "postgresql+psycopg://clinic:hunter2-placeholder@db/x"
    result = run_cli("config", "show", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert "hunter2-placeholder" not in result.stdout
    assert "clinic:***@db/x" in result.stdout
    assert f"[file:{config}]" in result.stdout
    assert "[env:AFTERCARE_DATABASE_URL]" in result.stdout
    assert "Gangnam Regenerative Clinic" in result.stdout


def test_unknown_config_key_is_named(tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text("queue_pagesize = 200\n")
    cli_env["AFTERCARE_CONFIG"] = str(config)
    assert_one_clear_line(run_cli("config", "show", env=cli_env), "queue_pagesize")


def test_admin_schedule_templates_are_listed(tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = tmp_path / "etc" / "config.toml"
    (config.parent / "schedules").mkdir(parents=True)
    config.write_text('clinic_name = "Example Clinic"\n')
    (config.parent / "schedules" / "iv-check.toml").write_text(
        'name = "iv-check"\n[[touchpoints]]\nday = 2\nwindow_after = 1\nask = "IV site?"\n'
    )
    cli_env["AFTERCARE_CONFIG"] = str(config)
    result = run_cli("schedules", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert "iv-check: d2 (-0/+1)" in result.stdout
    assert "standard: d1 (-0/+1), d3" in result.stdout


def test_broken_admin_template_is_named(tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = tmp_path / "etc" / "config.toml"
    (config.parent / "schedules").mkdir(parents=True)
    config.write_text("")
    bad = config.parent / "schedules" / "bad.toml"
    bad.write_text('name = "bad"\n[[touchpoints]]\nask = "no day"\n')
    cli_env["AFTERCARE_CONFIG"] = str(config)
    assert_one_clear_line(run_cli("schedules", env=cli_env), str(bad))


# Runs the console script's `main` in a fresh interpreter and names, on the last
# line of stderr, which heavy libraries the command loaded.
_LOADED_PROBE = (
    "import sys\n"
    "from tui.cli import main\n"
    "try:\n"
    "    main()\n"
    "except SystemExit:\n"
    "    pass\n"
    "heavy = {'sqlalchemy', 'alembic', 'textual', 'apprise', 'fhir', 'fpdf', 'pydantic'}\n"
    "loaded = sorted(heavy & {name.split('.')[0] for name in sys.modules})\n"
    "print('loaded:' + ','.join(loaded), file=sys.stderr)\n"
)


def _loaded_by(*args: str, env: Mapping[str, str], stdin: str = "") -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", _LOADED_PROBE, *args],
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("loaded:"), result.stderr
    return {name for name in last.removeprefix("loaded:").split(",") if name}


def test_help_loads_no_database_screen_delivery_or_export_library(
    cli_env: dict[str, str],
) -> None:
    assert _loaded_by("--help", env=cli_env) == set()


def test_triage_loads_only_the_rules_and_their_input_model(cli_env: dict[str, str]) -> None:
    findings = '{"day": 9, "temperature_c": 37.1, "symptoms": ["erythema"], "country": "JP"}'
    assert _loaded_by("triage", "--json", env=cli_env, stdin=findings) == {"pydantic"}


def test_ack_loads_the_database_but_no_screens_delivery_or_exports(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    cli_env["AFTERCARE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'aftercare.db'}"
    assert run_cli("init", env=cli_env).returncode == 0
    loaded = _loaded_by("ack", "E-1", env=cli_env)
    assert "sqlalchemy" in loaded
    assert not loaded & {"textual", "apprise", "fhir", "fpdf"}
