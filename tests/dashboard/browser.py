"""A `streams dashboard` child process and headless Chromium, for the tests and the benchmark."""

from __future__ import annotations

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

__all__ = ["CHROMEDRIVER", "CHROMIUM", "start_browser", "start_dashboard", "stop_dashboard"]

CHROMIUM = Path(os.environ.get("STREAMS_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("STREAMS_TEST_CHROMEDRIVER", "/usr/bin/chromedriver"))
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


def start_browser(width: int = 1600, height: int = 1000) -> Any:
    """Headless Chromium from Debian's `chromium` package, driven by Selenium."""
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
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
