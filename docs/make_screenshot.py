"""Regenerate docs/queue.svg: the queue screen on 300 demo patients at 120x40.

Usage: .venv/bin/python docs/make_screenshot.py
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from core.clock import FixedClock
from core.config import Settings
from db.database import initialise_database, open_database
from db.demo import load_demo
from tui.app import AftercareApp

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


async def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'demo.db'}"
        initialise_database(url)
        database = open_database(url)
        load_demo(database.engine, patients=300, seed=7, now=NOW)
        settings = Settings(database_url=url, clinic_name="Example Regenerative Clinic")
        app = AftercareApp(database, settings, FixedClock(NOW))
        async with app.run_test(size=(120, 40)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            out = Path(__file__).with_name("queue.svg")
            app.save_screenshot(filename=out.name, path=str(out.parent))
        database.close()


if __name__ == "__main__":
    asyncio.run(main())
