"""Fixtures of the live-view tests: a `streams dashboard` process and headless Chromium."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streams.config import Settings

CHROMIUM = Path(os.environ.get("STREAMS_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("STREAMS_TEST_CHROMEDRIVER", "/usr/bin/chromedriver"))
_ADDRESS = re.compile(r"dashboard: (http://\S+/)")


def _environment(settings: Settings) -> dict[str, str]:
    """Point the child process at this test's broker, registry and topics."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.require_bootstrap(),
        "SCHEMA_REGISTRY_URL": settings.schema_registry_url,
        "STREAMS_TOPIC_BOOK_DELTAS": settings.topics.book_deltas,
        "STREAMS_TOPIC_IMBALANCE": settings.topics.imbalance,
        "STREAMS_TOPIC_SUGGESTIONS": settings.topics.suggestions,
        "STREAMS_TOPIC_DEAD_LETTER": settings.topics.dead_letter,
    }


@pytest.fixture
def dashboard_factory(tmp_path: Path) -> Iterator[Callable[[Settings], str]]:
    """Start `streams dashboard --port 0` (the real command) and return the page's URL."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(settings: Settings) -> str:
        stdout, stderr = tmp_path / "dashboard.out", tmp_path / "dashboard.log"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "dashboard", "--port", "0"],
                stdout=out, stderr=err, env=_environment(settings),
            )  # fmt: skip
        processes.append(process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = _ADDRESS.search(stdout.read_text(encoding="utf-8"))
            if found:
                return found.group(1)
            if process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"dashboard did not start:\n{stderr.read_text(encoding='utf-8')}")

    yield start
    for process in processes:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        assert process.returncode == 0, (tmp_path / "dashboard.log").read_text(encoding="utf-8")


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless Chromium from Debian's `chromium` package, driven by Selenium."""
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.fail(
            f"{CHROMIUM} or {CHROMEDRIVER} missing: apt-get install -y chromium chromium-driver "
            "(.ci/run does this)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1600,1000", "--force-device-scale-factor=1"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
