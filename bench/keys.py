"""Key benchmark: how long a coordinator waits for each key's result on the screen.

Runs the real `aftercare run` in a pseudo-terminal (120x40), as the demo
coordinator, on a demo database of N patients (default 100,000) and, as the
same-run baseline, on a nearly empty one (3 demo patients: "move down" and "open
patient" need rows to act on). For each key it writes the key's bytes to the
terminal and times until the text that key's result is known to draw arrives in
the terminal's output (escape sequences stripped, only output after the key
counts):

  move down          down arrow   a patient code (the rows the cursor left and
                                  reached are redrawn)
  open patient       enter        "latest triage:" (the banner, once the record is read)
  back               escape       the queue's counts line "Overdue … Due … Upcoming"
  filter overdue     o, o again   "filter: overdue only" / the counts line without it
  open alerts        !            "Physician alerts  N open" (read, not "Loading…")
  open incident log  i            "Incident log  N …" (the log read)

Escape is sent as the kitty keyboard protocol's `CSI 27 u`, which Textual reads
as escape at once; a terminal without that protocol makes Textual wait
ESCDELAY (100 ms by default) for a lone ESC byte, on top of what is measured here.
Before every key the output is drained until 150 ms pass without a byte, so one
key's late repaints are never taken for the next key's result.

Each round is: down, enter, escape, o, o, !, escape, i, escape (the escapes all
count as "back"); the first round's times are the first opens (imports and
first reads included) and are kept in the percentiles and printed apart.
Targets: p95 <= 100 ms for a key (move down, back, filter), <= 300 ms for a
screen (open patient, alerts, incident log). The last line is JSON.

Usage: .venv/bin/python bench/keys.py [--patients 100000] [--rounds 20] [--smoke]
`--smoke` (3 patients, one round, one database, seconds) only proves the benchmark
still runs.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from bench.startup import AFTERCARE, DEMO_LOGIN, PAINTED, _check, _env  # noqa: E402

ROWS, COLS = 40, 120
QUIET = 0.15
"""Seconds without output that count as "the screen is still" before a key."""
CSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\x1b\][^\x07]*\x07")

PATIENT_ROW = re.compile(rb"D-\d{6}")
PATIENT_SCREEN = re.compile(rb"latest triage:")
OVERDUE_ON = re.compile(rb"filter: overdue only")
# The counts line ends with "top N of M"; without a filter, no "filter:" follows it.
OVERDUE_OFF = re.compile(rb"top \d+ of \d+(?! *filter)\s*\S")
ALERTS = re.compile(rb"Physician alerts +\d+ open")
INCIDENTS = re.compile(rb"Incident log +\d+ ")

DOWN, UP, ENTER, ESCAPE = b"\x1b[B", b"\x1b[A", b"\r", b"\x1b[27u"
KEYS = ("move down", "open patient", "back", "filter overdue", "open alerts", "open incident log")
SCREENS = {"open patient", "open alerts", "open incident log"}
KEY_TARGET_MS, SCREEN_TARGET_MS = 100.0, 300.0


class Terminal:
    """`aftercare run` in a pseudo-terminal, and its output as text."""

    def __init__(self, env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.master = master
        self.process = subprocess.Popen(
            [AFTERCARE, "run", "--as", DEMO_LOGIN],
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.seen = b""

    def _read(self, wait: float) -> bool:
        """Read what the app wrote within `wait` seconds; False when nothing came."""
        if not select.select([self.master], [], [], wait)[0]:
            return False
        try:
            self.seen += os.read(self.master, 1 << 16)
        except OSError:  # the app is gone
            raise SystemExit(f"aftercare ended; output tail: {self.seen[-500:]!r}") from None
        return True

    def wait_for(self, pattern: re.Pattern[bytes], since: int, timeout: float) -> None:
        """Read until `pattern` is in the output written after byte `since`."""
        deadline = time.perf_counter() + timeout
        while not pattern.search(CSI.sub(b"", self.seen[since:])):
            if time.perf_counter() > deadline:
                tail = CSI.sub(b"", self.seen[since:])[-400:]
                raise SystemExit(f"{pattern.pattern!r} not drawn within {timeout} s: {tail!r}")
            self._read(0.01)

    def settle(self) -> None:
        """Drain the output until it is still for QUIET seconds."""
        while self._read(QUIET):
            pass

    def press(self, key: bytes, pattern: re.Pattern[bytes], timeout: float = 30.0) -> float:
        """Milliseconds from writing `key` until `pattern` is drawn."""
        self.settle()
        since = len(self.seen)
        started = time.perf_counter()
        os.write(self.master, key)
        self.wait_for(pattern, since, timeout)
        return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        try:
            os.write(self.master, b"q")
            deadline = time.perf_counter() + 10
            while self.process.poll() is None and time.perf_counter() < deadline:
                try:
                    self._read(0.05)
                except SystemExit:
                    break
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(timeout=5)
            os.close(self.master)


def measure(env: dict[str, str], rounds: int) -> tuple[dict[str, list[float]], float]:
    """Every key's times over `rounds` rounds (first round first) and the queue's first
    paint in ms."""
    times: dict[str, list[float]] = {key: [] for key in KEYS}
    terminal = Terminal(env)
    try:
        started = time.perf_counter()
        terminal.wait_for(PAINTED, 0, 60)
        first_paint = (time.perf_counter() - started) * 1000
        for _ in range(rounds):
            times["move down"].append(terminal.press(DOWN, PATIENT_ROW))
            times["open patient"].append(terminal.press(ENTER, PATIENT_SCREEN))
            times["back"].append(terminal.press(ESCAPE, PAINTED))
            times["filter overdue"].append(terminal.press(b"o", OVERDUE_ON))
            times["filter overdue"].append(terminal.press(b"o", OVERDUE_OFF))
            times["open alerts"].append(terminal.press(b"!", ALERTS))
            times["back"].append(terminal.press(ESCAPE, PAINTED))
            times["open incident log"].append(terminal.press(b"i", INCIDENTS))
            times["back"].append(terminal.press(ESCAPE, PAINTED))
            # Back up, so a short queue never runs out of rows to move down to.
            terminal.press(UP, PATIENT_ROW)
    finally:
        terminal.close()
    return times, first_paint


def p95(values: list[float]) -> float:
    """The 95th percentile (the largest value below 20 samples)."""
    if len(values) < 20:
        return max(values)
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--baseline-patients", type=int, default=3)
    parser.add_argument(
        "--smoke", action="store_true", help="3 patients, one round: does it still run?"
    )
    args = parser.parse_args()
    if args.smoke:
        args.patients, args.rounds = args.baseline_patients, 1

    with tempfile.TemporaryDirectory(prefix="aftercare-bench-") as scratch:
        envs = {}
        # A smoke run measures one tiny database once and compares it with itself.
        sizes = {"baseline": args.baseline_patients}
        if not args.smoke:
            sizes["full"] = args.patients
        for name, patients in sizes.items():
            env = _env(Path(scratch) / name)
            Path(env["HOME"]).mkdir(parents=True)
            _check([AFTERCARE, "init"], env)
            seconds = _check([AFTERCARE, "demo", "--patients", str(patients), "--seed", "1"], env)
            print(f"{name}: demo of {patients} patients in {seconds:.1f} s")
            envs[name] = env

        baseline, base_paint = measure(envs["baseline"], args.rounds)
        full, full_paint = (
            (baseline, base_paint) if args.smoke else measure(envs["full"], args.rounds)
        )

    print(f"queue first paint: {full_paint:.0f} ms ({base_paint:.0f} ms near-empty)")
    print(
        f"{'key':<18}{'p50':>8}{'p95':>8}{'first':>8}   near-empty p50/p95   ratio p95   target p95"
    )
    result: dict[str, float | str] = {"patients": args.patients}
    over = []
    for key in KEYS:
        values, base = full[key], baseline[key]
        target = SCREEN_TARGET_MS if key in SCREENS else KEY_TARGET_MS
        ratio = p95(values) / p95(base)
        print(
            f"{key:<18}{statistics.median(values):>6.0f}ms{p95(values):>6.0f}ms"
            f"{values[0]:>6.0f}ms   {statistics.median(base):>6.0f} / {p95(base):>4.0f} ms"
            f"   {ratio:>9.2f}   {target:>6.0f} ms"
        )
        slug = key.replace(" ", "_")
        result[f"{slug}_p50_ms"] = round(statistics.median(values), 1)
        result[f"{slug}_p95_ms"] = round(p95(values), 1)
        result[f"{slug}_first_ms"] = round(values[0], 1)
        result[f"{slug}_ratio"] = round(ratio, 2)
        if p95(values) > target:
            over.append(key)
    verdict = f"OVER TARGET: {', '.join(over)}" if over else "OK"
    if args.smoke:
        verdict = "not judged (smoke run)"
    print(
        f"targets: p95 <= {KEY_TARGET_MS:.0f} ms a key, <= {SCREEN_TARGET_MS:.0f} ms a screen "
        f"-> {verdict}"
    )
    result["verdict"] = verdict
    print(json.dumps(result))


if __name__ == "__main__":
    main()
