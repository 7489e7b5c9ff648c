"""Real parts for the browser tests: the web service on a real port, and headless Chromium.

Chromium is Debian's (`/usr/bin/chromium`), driven by Debian's `chromium-driver`
through Selenium; `.ci/run` installs both. A missing browser fails the test with
what to install: it is never skipped.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiohttp import web
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@contextmanager
def serving(app: web.Application, host: str, port: int) -> Iterator[str]:
    """Run `app` on host:port in a thread with its own event loop; yields its address."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, host, port).start())
        except BaseException as exc:  # handed to the test below
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10), "the web service did not start"
    if failure:
        raise failure[0]
    try:
        yield f"http://{host}:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """Headless Chromium, a fresh profile each time."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: install the Debian packages chromium and "
            "chromium-driver (apt-get install chromium chromium-driver; .ci/run does it as root)"
        )
    with tempfile.TemporaryDirectory(prefix="aftercare-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in (
            "--headless=new",
            "--no-sandbox",  # CI runs the root pass as root, where the sandbox cannot start
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=412,915",  # a phone
            f"--user-data-dir={Path(profile) / 'profile'}",
        ):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        try:
            driver.set_page_load_timeout(20)
            yield driver
        finally:
            driver.quit()
