"""Escalation policies from the config file (and the environment) over the defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import ConfigError, load_config
from core.domain import Disposition
from core.escalation import DEFAULT_POLICIES, build_policies

POLICY_TOML = """
[escalation_policies.urgent]
repeat = 2
steps = [
  { targets = ["oncall", "treating"], wait_minutes = 10 },
  { targets = ["senior"], wait_minutes = 20 },
]
"""


def test_configured_policy_replaces_only_its_disposition(tmp_path: Path) -> None:
    loaded = load_config(environ={}, path=_write(tmp_path, POLICY_TOML))
    policies = build_policies(loaded.settings.escalation_policies)
    urgent = policies[Disposition.URGENT]
    assert [(s.targets, s.wait_minutes) for s in urgent.steps] == [
        (("oncall", "treating"), 10),
        (("senior",), 20),
    ]
    assert urgent.repeat == 2 and urgent.pages
    assert policies[Disposition.EMERGENCY] == DEFAULT_POLICIES[Disposition.EMERGENCY]
    assert loaded.sources["escalation_policies"].startswith("file:")


def test_policies_from_the_environment_as_json(tmp_path: Path) -> None:
    value = json.dumps({"emergency": {"steps": [{"targets": ["oncall"], "wait_minutes": 2}]}})
    loaded = load_config(
        environ={"AFTERCARE_ESCALATION_POLICIES": value}, path=_write(tmp_path, "")
    )
    emergency = build_policies(loaded.settings.escalation_policies)[Disposition.EMERGENCY]
    assert [(s.targets, s.wait_minutes) for s in emergency.steps] == [(("oncall",), 2)]
    assert emergency.repeat == 1


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "[escalation_policies.critical]\n"
            'steps = [{ targets = ["oncall"], wait_minutes = 5 }]\n',
            "unknown disposition critical",
        ),
        ("[escalation_policies.urgent]\nsteps = []\n", "escalation_policies"),
        (
            "[escalation_policies.urgent]\n"
            'steps = [{ targets = ["On Call!"], wait_minutes = 5 }]\n',
            "escalation_policies",
        ),
        (
            '[escalation_policies.urgent]\nsteps = [{ targets = ["oncall"], wait_minutes = -1 }]\n',
            "escalation_policies",
        ),
    ],
)
def test_bad_policies_are_named(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_config(environ={}, path=_write(tmp_path, text))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path
