"""Every benchmark in bench/ still runs: each one's `--smoke` run (tiny data, seconds,
no targets judged) exits 0 and ends with its JSON line, so none can rot unnoticed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
HELPERS = {"__init__.py", "support.py"}
BENCHMARKS = sorted(p.name for p in BENCH.glob("*.py") if p.name not in HELPERS)


def test_every_benchmark_has_a_smoke_run() -> None:
    missing = [name for name in BENCHMARKS if "--smoke" not in (BENCH / name).read_text()]
    assert not missing, f"give these a --smoke flag: {missing}"


@pytest.mark.parametrize("name", BENCHMARKS)
def test_smoke_run_prints_its_json_line(name: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AFTERCARE_DATABASE_URL"}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"))
    result = subprocess.run(
        [sys.executable, str(BENCH / name), "--smoke"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    last = result.stdout.strip().splitlines()[-1]
    numbers = json.loads(last)
    assert isinstance(numbers, dict) and numbers, last
