"""Command-line cold start: how long `aftercare` takes before it does anything.

Runs the real `aftercare` console script, each command N times, and as the
same-run baseline `python -c pass` (the interpreter alone):
  - `aftercare --help`;
  - `aftercare triage --json` with one set of findings on standard input;
  - `aftercare ack E-999999` on a scratch SQLite database whose only staff
    member is this login, an admin: it reads the configuration, opens the
    database, signs in and asks the alert service, which refuses (admins do
    not acknowledge; the alert does not exist), exit status 1.
Medians of wall time and of CPU time (user + system, which a busy machine
disturbs less), and each command's wall-time ratio to the baseline. The last
line of output is JSON.

Python keeps compiled bytecode next to the sources it imports, so an
installed aftercare compiles each module once and then only reads it back. The
bench starts from that state: the bytecode goes to its scratch folder
(PYTHONPYCACHEPREFIX, so the checkout is not touched, even where
PYTHONDONTWRITEBYTECODE is set) and one untimed round fills it.
`--no-bytecode-cache` times instead a start that compiles aftercare's own
modules every time (PYTHONDONTWRITEBYTECODE on a checkout without
__pycache__ folders: a read-only checkout, some containers).

Usage: .venv/bin/python bench/cli_start.py [--runs 15] [--smoke] [--no-bytecode-cache]
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AFTERCARE = str(Path(sys.executable).with_name("aftercare"))
FINDINGS = (
    b'{"day": 9, "temperature_c": 37.1, "trend": "worsening", '
    b'"symptoms": ["erythema", "warmth"], "country": "JP"}'
)


def _env(folder: Path, *, bytecode_cache: bool) -> dict[str, str]:
    login = pwd.getpwuid(os.geteuid()).pw_name
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AFTERCARE_")
        and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    }
    if bytecode_cache:
        env["PYTHONPYCACHEPREFIX"] = str(folder / "bytecode")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(
        AFTERCARE_DATABASE_URL=f"sqlite:///{folder / 'aftercare.db'}",
        HOME=str(folder),
        XDG_CONFIG_HOME=str(folder / "config"),
        XDG_DATA_HOME=str(folder / "data"),
        # Root may name its login through LOGNAME (tui.identity); everyone else is theirs.
        LOGNAME=login,
        USER=login,
    )
    return env


def _once(cmd: list[str], env: dict[str, str], stdin: bytes, expect: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run; stops the bench if it misbehaves."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(cmd, env=env, input=stdin, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != expect or b"Traceback" in result.stderr:
        raise SystemExit(
            f"{' '.join(cmd)}: exit {result.returncode}, expected {expect}: "
            f"{result.stderr.decode(errors='replace').strip()}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _setup(env: dict[str, str]) -> None:
    for cmd in (
        [AFTERCARE, "init"],
        [AFTERCARE, "staff", "add", env["LOGNAME"], "--name", "Bench Admin", "--role", "admin"],
    ):
        _once(cmd, env, b"", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="Runs per command (median kept).")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="Three runs each, without the bytecode cache (filling it takes longer than "
        "the runs): a quick check that the bench works.",
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="Compile aftercare's modules on every start instead of reading cached bytecode.",
    )
    args = parser.parse_args()
    bytecode_cache = not (args.no_bytecode_cache or args.smoke)
    runs = 3 if args.smoke else args.runs

    cases: dict[str, tuple[list[str], bytes, int]] = {
        "baseline": ([sys.executable, "-c", "pass"], b"", 0),
        "help": ([AFTERCARE, "--help"], b"", 0),
        "triage_json": ([AFTERCARE, "triage", "--json"], FINDINGS, 0),
        "ack": ([AFTERCARE, "ack", "E-999999"], b"", 1),
    }
    with tempfile.TemporaryDirectory(prefix="aftercare-cli-bench-") as scratch:
        env = _env(Path(scratch), bytecode_cache=bytecode_cache)
        _setup(env)
        if bytecode_cache:
            for cmd, stdin, expect in cases.values():  # untimed: fills the cache
                _once(cmd, env, stdin, expect)
        walls: dict[str, list[float]] = {name: [] for name in cases}
        cpus: dict[str, list[float]] = {name: [] for name in cases}
        # Interleaved, so a burst of load elsewhere on the machine hits every command alike.
        for _ in range(runs):
            for name, (cmd, stdin, expect) in cases.items():
                wall, cpu = _once(cmd, env, stdin, expect)
                walls[name].append(wall)
                cpus[name].append(cpu)

    baseline = statistics.median(walls["baseline"])
    results: dict[str, object] = {"runs": runs, "bytecode_cache": bytecode_cache}
    for name in cases:
        wall = statistics.median(walls[name])
        results[f"{name}_wall_s"] = round(wall, 3)
        results[f"{name}_cpu_s"] = round(statistics.median(cpus[name]), 3)
        if name != "baseline":
            results[f"{name}_ratio"] = round(wall / baseline, 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
