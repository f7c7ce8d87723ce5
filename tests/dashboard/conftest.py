"""Fixtures of the live-view tests: a `streams dashboard` process and headless Chromium."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.config import Settings
from tests.dashboard.browser import (
    BROWSER_TIME_ZONE,
    start_browser,
    start_dashboard,
    stop_dashboard,
)


@pytest.fixture
def dashboard_factory(tmp_path: Path) -> Iterator[Callable[[Settings], str]]:
    """Start `streams dashboard --port 0` (the real command) and return the page's URL."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(settings: Settings) -> str:
        process, url = start_dashboard(settings, tmp_path)
        processes.append(process)
        return url

    yield start
    for process in processes:
        assert stop_dashboard(process) == 0, (tmp_path / "dashboard.log").read_text("utf-8")


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian's `chromium` package (missing: the test fails, says why),
    in the time zone BROWSER_TIME_ZONE, logging every request the page makes."""
    try:
        driver = start_browser(1600, 1200, network_log=True)  # the whole page: docs/dashboard.png
    except RuntimeError as error:
        pytest.fail(str(error))
    driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": BROWSER_TIME_ZONE})
    try:
        yield driver
    finally:
        driver.quit()
