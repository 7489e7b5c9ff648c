"""Files aftercare creates are for the clinic's group only, whatever the umask; secrets
never reach the terminal."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from db.engine import make_engine
from tests.tui.test_cli import run_cli


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_init_makes_the_database_and_its_folder_the_groups_whatever_the_umask(
    tmp_path: Path, cli_env: dict[str, str], umask: int
) -> None:
    folder = tmp_path / "var" / "aftercare"
    path = folder / "aftercare.db"
    cli_env["AFTERCARE_DATABASE_URL"] = f"sqlite:///{path}"
    with_umask = ("sh", "-c", f'umask {umask:03o} && exec "$@"', "sh")
    result = run_cli("init", env=cli_env, prefix=with_umask)
    assert result.returncode == 0, result.stderr
    assert _mode(path) == 0o660
    # Every coordinator's session creates the -wal and -shm files here, so the group
    # writes the folder; setgid keeps those files in the folder's group.
    assert _mode(folder) == 0o2770
    # SQLite gives -wal and -shm the database's mode: open a session and write.
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE change_marker SET counter = counter + 1"))
            assert _mode(folder / "aftercare.db-wal") == 0o660
            assert _mode(folder / "aftercare.db-shm") == 0o660
    finally:
        engine.dispose()


def test_config_show_masks_every_form_of_database_password(cli_env: dict[str, str]) -> None:
    cli_env["AFTERCARE_DATABASE_URL"] = (
        "postgresql+psycopg://clinic@db.example/aftercare?sslmode=require&password=pa55-placeholder"
    )
    result = run_cli("config", "show", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert "pa55-placeholder" not in result.stdout + result.stderr
    assert "password=***" in result.stdout
