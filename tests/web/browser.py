"""Headless Chromium for the browser tests (the web service on a real port is
`bench.support.serving`, shared with the dispatch bench).

Chromium is Debian's (`/usr/bin/chromium`), driven by Debian's `chromium-driver`
through Selenium; `.ci/run` installs both. A missing browser fails the test with
what to install: it is never skipped.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


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
