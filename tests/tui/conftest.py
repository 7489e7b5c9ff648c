"""Fixtures shared by the command-line tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """An environment with no user config and no stray AFTERCARE_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    home = tmp_path / "home"
    home.mkdir()
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
    )
    return env
