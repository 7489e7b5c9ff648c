"""`aftercare triage --json` as a caller meets it: the real console script, stdin to stdout.

Bad input must exit 2 with one line on stderr naming the field, no traceback,
and nothing on stdout, so a refusal can never be read as a disposition.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.domain import Disposition
from core.triage import DECIDED_BY, RULES_VERSION, assess, parse_triage_input

AFTERCARE = str(Path(sys.executable).with_name("aftercare"))

CONTRACT_EXAMPLE = (
    '{"day": 9, "temperature_c": 37.1, "trend": "worsening",\n'
    ' "symptoms": ["erythema", "warmth"], "country": "JP",\n'
    ' "protocol": "exosome_iv+microneedling", "addons": ["glutathione_high_dose"]}\n'
)


def run_triage(stdin: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AFTERCARE, "triage", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_domain_example_round_trips(cli_env: dict[str, str]) -> None:
    result = run_triage(CONTRACT_EXAMPLE, cli_env, "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert len(result.stdout.strip().splitlines()) == 1
    output = json.loads(result.stdout)
    assert output == assess(parse_triage_input(CONTRACT_EXAMPLE)).to_json()
    assert output["disposition"] == "urgent"
    assert output["incident"] is True
    assert output["emergency_number"] == "119"
    assert output["rules_version"] == RULES_VERSION
    assert {"rule", "text"} <= set(output["reasons"][0])
    assert [lab["lab"] for lab in output["labs"]] == ["crp_esr", "liver_panel_week_4"]


@pytest.mark.parametrize(
    ("country", "number", "warned"),
    [('"GB"', "999", False), ('"BR"', "112", True), ("null", "112", True)],
)
def test_emergency_always_carries_a_number(
    cli_env: dict[str, str], country: str, number: str, warned: bool
) -> None:
    stdin = f'{{"day": 2, "symptoms": ["throat_tightness"], "country": {country}}}'
    result = run_triage(stdin, cli_env, "--json")
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["disposition"] == "emergency"
    assert output["emergency_number"] == number
    assert ("emergency_warning" in output) is warned


def test_summary_without_json_names_who_decides(cli_env: dict[str, str]) -> None:
    result = run_triage('{"day": 3, "temperature_c": 38.6, "symptoms": []}', cli_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("EMERGENCY: Tell the patient to call 112")
    assert "Temperature 38.6 °C is above 38.5 °C" in result.stdout
    # Words only: no rule id reaches the coordinator.
    assert "fever_above_38_5" not in result.stdout
    assert DECIDED_BY[Disposition.EMERGENCY] in result.stdout
    assert "Local emergency services decide" in result.stdout


def test_summary_names_a_missing_trend(cli_env: dict[str, str]) -> None:
    result = run_triage('{"day": 5, "symptoms": ["erythema"], "country": "JP"}', cli_env)
    assert result.returncode == 0, result.stderr
    assert "Trend not recorded: read as not worsening; if worsening this is urgent" in result.stdout
    assert "Not recorded and could raise the outcome: trend" in result.stdout
    output = json.loads(
        run_triage('{"day": 5, "symptoms": ["erythema"]}', cli_env, "--json").stdout
    )
    assert output["needs"] == ["trend"]
    assert "treating physician" in output["decided_by"]


@pytest.mark.parametrize(
    ("stdin", "field"),
    [
        ('{"day": 1, "symptoms": ["flush", "rash"]}', "symptoms[1]: unknown symptom 'rash'"),
        ('{"day": 1, "temperature_c": 46.2, "symptoms": []}', "temperature_c: 46.2 is outside"),
        ('{"temperature_c": 37.0, "symptoms": []}', "day: required"),
        ('{"day": 1, "symptoms": [],', "input: not valid JSON"),
        ('{"day": 1, "symptoms": [], "trend": "worse"}', "trend: must be one of"),
        ('{"day": 1, "symptoms": [], "temprature_c": 38}', "temprature_c: unknown field"),
        ("", "input: empty"),
    ],
)
def test_bad_input_exits_2_naming_the_field(
    cli_env: dict[str, str], stdin: str, field: str
) -> None:
    result = run_triage(stdin, cli_env, "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert field in lines[0], lines[0]


def test_help_lists_triage(cli_env: dict[str, str]) -> None:
    result = subprocess.run(
        [AFTERCARE, "--help"], env=cli_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "triage" in result.stdout
