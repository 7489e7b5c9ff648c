"""Startup benchmark: demo data for 100,000 patients, then the TUI's first queue paint.

Runs the real `aftercare` console script in a scratch folder:
  1. `aftercare demo --patients N` on a fresh SQLite file, wall time of the process;
  2. `aftercare run` in a pseudo-terminal (120x40), time from spawn until the
     queue's rows are on the screen, on that database (as the demo coordinator)
     and, as a same-run baseline, on a database without patients (as the OS
     login, made its first admin).
The last line of output is JSON: {"demo_seconds": ..., "first_paint_seconds": ...}.

Usage: .venv/bin/python bench/startup.py [--patients 100000] [--paints 3] [--smoke]
`--smoke` (a few patients, one paint, seconds) only proves the benchmark still runs.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import pwd
import re
import select
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from pathlib import Path

AFTERCARE = str(Path(sys.executable).with_name("aftercare"))
DEMO_LOGIN = "demo-rn-park"
"""The demo coordinator `./dev run` works as; demo data brings it."""
OS_LOGIN = pwd.getpwuid(os.geteuid()).pw_name
"""Who runs the benchmark: aftercare signs in the account the process runs as."""
# The counts line appears only once the queue has been read and painted.
PAINTED = re.compile(rb"Overdue.{0,80}Due.{0,80}Upcoming")


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env.update(
        AFTERCARE_DATABASE_URL=f"sqlite:///{folder / 'aftercare.db'}",
        HOME=str(folder),
        XDG_CONFIG_HOME=str(folder / "config"),
        TERM="xterm-256color",
        COLUMNS="120",
        LINES="40",
        # Only root's LOGNAME may name a login (tui.identity); keep it the account's own.
        LOGNAME=OS_LOGIN,
        USER=OS_LOGIN,
    )
    return env


def _check(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {result.stderr.strip()}")
    print(result.stdout.strip())
    return elapsed


def first_paint(
    env: dict[str, str],
    pattern: re.Pattern[bytes],
    timeout: float = 30.0,
    on_painted: Callable[[int], None] | None = None,
    settle: float = 0.0,
    login: str | None = DEMO_LOGIN,
) -> float:
    """Seconds from spawning `aftercare run` in a pty until `pattern` is on screen.

    It works as `login` (`--as`, a demo login on demo data), or as the OS login
    when None. `on_painted(pid)` is called `settle` seconds after the paint
    (bench/queue.py reads the process's memory there).
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen(
        # On demo data, work as the demo coordinator, as `./dev run` does.
        [AFTERCARE, "run", *(["--as", login] if login else [])],
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    elapsed: float | None = None
    try:
        while time.perf_counter() - started < timeout:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
                # Strip escape sequences so the text can be matched across cursor moves.
                plain = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", seen)
                if pattern.search(plain):
                    elapsed = time.perf_counter() - started
                    break
        if elapsed is None:
            raise SystemExit(
                f"queue did not paint within {timeout} s; output tail: {seen[-500:]!r}"
            )
        if on_painted is not None:
            deadline = time.perf_counter() + settle
            while time.perf_counter() < deadline:  # keep draining so the app never blocks
                if select.select([master], [], [], 0.05)[0]:
                    os.read(master, 65536)
            on_painted(process.pid)
        os.write(master, b"q")
        # Keep reading while it exits: a full pty buffer would block the app's last writes.
        deadline = time.perf_counter() + 10
        while process.poll() is None and time.perf_counter() < deadline:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        process.wait(timeout=1)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--paints", type=int, default=3, help="first-paint runs; median kept")
    parser.add_argument(
        "--smoke", action="store_true", help="50 patients, one paint: does it still run?"
    )
    args = parser.parse_args()
    if args.smoke:
        args.patients, args.paints = 50, 1

    with tempfile.TemporaryDirectory(prefix="aftercare-bench-") as scratch:
        empty_env = _env(Path(scratch) / "empty")
        full_env = _env(Path(scratch) / "full")
        for env in (empty_env, full_env):
            Path(env["HOME"]).mkdir(parents=True)
            _check([AFTERCARE, "init"], env)
        # No demo staff without demo data: the OS login signs in, as the first admin
        # (which the owner of a new SQLite file may name).
        _check(
            [AFTERCARE, "staff", "add", OS_LOGIN, "--name", "Bench Admin", "--role", "admin"],
            empty_env,
        )

        demo_seconds = _check(
            [AFTERCARE, "demo", "--patients", str(args.patients), "--seed", "1"], full_env
        )
        size_mb = (Path(scratch) / "full" / "aftercare.db").stat().st_size / 1e6
        print(f"demo: {args.patients} patients in {demo_seconds:.1f} s, database {size_mb:.0f} MB")

        baseline = sorted(first_paint(empty_env, PAINTED, login=None) for _ in range(args.paints))
        paints = sorted(first_paint(full_env, PAINTED) for _ in range(args.paints))
        base_median = baseline[len(baseline) // 2]
        median = paints[len(paints) // 2]
        print(f"first paint, empty database (baseline): median {base_median:.2f} s {baseline}")
        print(f"first paint, {args.patients} patients:  median {median:.2f} s {paints}")
        print(f"ratio to baseline: {median / base_median:.2f}")
        verdict = "OK" if demo_seconds < 60 and median < 2 else "OVER TARGET"
        if args.smoke:
            verdict = "not judged (smoke run)"
        print(f"targets: demo < 60 s, first paint < 2 s -> {verdict}")
        print(
            json.dumps(
                {"demo_seconds": round(demo_seconds, 2), "first_paint_seconds": round(median, 3)}
            )
        )


if __name__ == "__main__":
    main()
