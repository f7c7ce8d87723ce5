"""A `streams dashboard` child process and headless Chromium, for the tests and the benchmark."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from streams.config import Settings
from streams.run import child_environment

__all__ = [
    "BROWSER_TIME_ZONE",
    "CHROMEDRIVER",
    "CHROMIUM",
    "requested_urls",
    "start_browser",
    "start_dashboard",
    "stop_dashboard",
]

CHROMIUM = Path(os.environ.get("STREAMS_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("STREAMS_TEST_CHROMEDRIVER", "/usr/bin/chromedriver"))
# Not UTC and not a whole hour off it: a time axis that followed the browser's zone would show it.
BROWSER_TIME_ZONE = "Asia/Kolkata"
_ADDRESS = re.compile(r"dashboard: (http://\S+/)")


def _environment(settings: Settings) -> dict[str, str]:
    """Point the child process at this test's broker, registry and topics."""
    return child_environment(settings)


def start_dashboard(
    settings: Settings, directory: Path, *arguments: str
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `streams dashboard --port 0` (the real command); return it and the page's URL."""
    stdout, stderr = directory / "dashboard.out", directory / "dashboard.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "dashboard", "--port", "0", *arguments],
            stdout=out, stderr=err, env=_environment(settings),
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = _ADDRESS.search(stdout.read_text(encoding="utf-8"))
        if found:
            return process, found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"dashboard did not start:\n{stderr.read_text(encoding='utf-8')}")


def stop_dashboard(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as a service manager would; return the exit status."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        return -9


def start_browser(width: int = 1600, height: int = 1000, *, network_log: bool = False) -> Any:
    """Headless Chromium from Debian's `chromium` package, driven by Selenium.

    `network_log` keeps Chromium's performance log (every request the page makes), which
    `requested_urls` reads; it grows with every event, so only short tests turn it on.
    """
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        raise RuntimeError(
            f"{CHROMIUM} or {CHROMEDRIVER} missing: apt-get install -y chromium chromium-driver "
            "(.ci/run does this)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    arguments = ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 f"--window-size={width},{height}", "--force-device-scale-factor=1"]  # fmt: skip
    for argument in arguments:
        options.add_argument(argument)
    if network_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def requested_urls(driver: Any) -> list[str]:
    """Every URL the page has requested since the last call (from the performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls
