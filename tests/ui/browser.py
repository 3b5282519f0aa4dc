"""A real headless Chromium driven by selenium, for the dashboard's browser tests.

Debian's ``chromium`` and ``chromium-driver`` packages (the test command
installs them); ``TORCHRUN_CORE_TEST_CHROMIUM`` and
``TORCHRUN_CORE_TEST_CHROMEDRIVER`` point elsewhere. Nothing is downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ci_rules import require_engine

CHROMIUM = os.environ.get("TORCHRUN_CORE_TEST_CHROMIUM") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("TORCHRUN_CORE_TEST_CHROMEDRIVER") or "/usr/bin/chromedriver"


def require_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    require_engine(
        "browser",
        not missing,
        f"missing {', '.join(missing)} (apt-get install chromium chromium-driver)",
    )


@contextmanager
def chromium(width: int = 1280, height: int = 1000) -> Iterator[object]:
    """A headless Chromium; quit on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def screenshot_dir(default: Path) -> Path:
    """``TORCHRUN_CORE_TEST_SCREENSHOTS`` (the CI work dir), else ``default``; made if missing."""
    chosen = Path(os.environ.get("TORCHRUN_CORE_TEST_SCREENSHOTS") or default)
    chosen.mkdir(parents=True, exist_ok=True)
    return chosen
