"""`aftercare triage`: the triage contract on the command line (docs/clinical-rules.md).

One JSON object of findings on standard input; with `--json`, one JSON
object on standard output. Bad input exits with status 2 and one line on
standard error naming the field, and writes nothing on standard output, so a
caller can never mistake a refusal for a disposition.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from tui.cli.errors import fail

if TYPE_CHECKING:
    from core.triage import TriageOutcome

BAD_INPUT_STATUS = 2
"""Exit status for input the contract refuses."""


def register(app: typer.Typer) -> None:
    """Add the `triage` command to the `aftercare` command line."""
    app.command("triage")(triage)


def triage(
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object (the triage contract) instead of a summary.",
        ),
    ] = False,
) -> None:
    """Triage one JSON object of findings read from standard input.

    Example: echo '{"day": 9, "temperature_c": 37.1, "trend": "worsening",
    "symptoms": ["erythema", "warmth"], "country": "JP"}' | aftercare triage --json
    """
    # Imported here: the rules and their input model are most of this command's start-up.
    from core.triage import TriageInputError, assess, parse_triage_input

    raw = sys.stdin.buffer.read()
    try:
        findings = parse_triage_input(raw)
    except TriageInputError as exc:
        fail(f"bad triage input: {exc}", BAD_INPUT_STATUS)
    except RecursionError:  # the JSON parser gives up on nesting thousands deep
        fail("bad triage input: input: nested too deeply to be findings", BAD_INPUT_STATUS)
    except ValueError:  # a number of more than 4,300 digits, refused by int()
        fail("bad triage input: input: holds a number thousands of digits long", BAD_INPUT_STATUS)
    try:
        outcome = assess(findings)
    except ValueError as exc:  # the installed rule table failed its own checks
        fail(str(exc), 1)
    if as_json:
        # ASCII-escaped so the output is valid on any terminal encoding.
        typer.echo(json.dumps(outcome.to_json()))
        return
    for line in summary_lines(outcome):
        typer.echo(line)


def summary_lines(outcome: TriageOutcome) -> list[str]:
    """A short summary a coordinator reads in a terminal: decision, reasons, labs, number."""
    lines = [f"{outcome.disposition.value.upper()}: {outcome.action}"]
    lines.append(f"Why (rules {outcome.rules_version}):")
    lines += [f"  [{r.disposition.value}] {r.text}" for r in outcome.reasons]
    if outcome.needs:
        missing = " and ".join(outcome.needs)
        lines.append(f"Not recorded and could raise the outcome: {missing} (ask before saving).")
    if outcome.labs:
        lines.append("Labs the home physician may request (suggestions, not orders):")
        lines += [f"  - {lab.text}" for lab in outcome.labs]
    if outcome.incident:
        lines.append("Incident: open one (review or above).")
    contact = outcome.emergency
    lines.append(f"Emergency number where the patient is: {contact.numbers_text}")
    if contact.warning:
        lines.append(f"  WARNING: {contact.warning}")
    lines.append(outcome.decided_by)
    return lines
