"""End to end on the real broker: outputs stream into Kafka, headless Chromium watches the page.

The imbalance records and suggestions are what the pipeline computes from the real Kraken
recording and from the flash-crash stress scenario, encoded with the real codec and produced to
this test's topics while `streams dashboard` (a child process) consumes them and the page is open.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from collections.abc import Callable, Sequence
from itertools import zip_longest
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from streams.config import Settings
from streams.dashboard.window import audit_command
from streams.transport import create_topics, topic_specs
from tests.dashboard.records import (
    STRESS_INSTRUMENT,
    Output,
    OutputProducer,
    recording_outputs,
    stress_outputs,
)

pytestmark = pytest.mark.integration

CHARTS = ("chart-mid", "chart-spread", "chart-imbalance", "chart-ofi", "chart-depth")
HALT_RED = "rgba(229, 72, 77, 1)"  # --HALT in dashboard.css, as Selenium reports colours
WAIT_S = 60.0  # an upper bound for a slow CI machine, never a speed claim


def interleave(*streams: Sequence[Output], chunk: int = 100) -> list[Output]:
    """Alternate chunks of several instruments' outputs, keeping each one's order."""
    parts = [[s[i : i + chunk] for i in range(0, len(s), chunk)] for s in streams]
    return [o for group in zip_longest(*parts, fillvalue=()) for part in group for o in part]


def fetch(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (our local server)
        result: dict[str, Any] = json.load(response)
        return result


def wait_until(driver: Any, condition: Callable[[Any], Any], message: str) -> Any:
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.01).until(condition, message)


def page(driver: Any, script: str, *arguments: Any) -> Any:
    return driver.execute_script(f"return {script};", *arguments)


LOG_IDS = "[...document.querySelectorAll('#log > li')].map(li => li.dataset.suggestionId)"
PAINTED = """(() => {
  const canvas = document.getElementById(arguments[0]);
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) painted += data[i] > 0;
  return painted;
})()"""


def log_ids(driver: Any) -> list[str]:
    return page(driver, LOG_IDS)


def test_live_view_shows_the_streams_and_a_stress_suggestion_as_they_arrive(
    kafka_settings: Settings,
    dashboard_factory: Callable[[Settings], str],
    browser: Any,
    tmp_path: Path,
) -> None:
    settings = kafka_settings
    create_topics(settings, topic_specs(settings.topics, partitions=2))
    stress = stress_outputs(settings.topics.book_deltas)
    recording = recording_outputs()
    suggestions = [o for o in stress if o.kind == "suggestion"]
    first = stress.index(suggestions[0])
    halt = next(o for o in suggestions if o.record["state"] == "HALT")
    after_halt = stress.index(halt) + 100
    producer = OutputProducer(settings)
    url = dashboard_factory(settings)
    browser.get(url)
    wait_until(browser, lambda d: page(d, "document.getElementById('connection').dataset.status")
               == "live", "the page never connected")  # fmt: skip

    # 1. a real recording (ten instruments) and the calm part of the scenario stream in together
    producer.stream(interleave(recording, stress[:first]))
    wait_until(browser, lambda d: fetch(url + "healthz")["imbalance"] == producer.imbalance,
               "the dashboard did not consume every record")  # fmt: skip
    instruments = sorted({o.key.decode() for o in (*recording, *stress)})
    wait_until(browser, lambda d: page(d, "[...document.querySelectorAll('#instrument option')]"
               ".map(o => o.value)") == instruments, "the picker lacks instruments")  # fmt: skip
    Select(browser.find_element(By.ID, "instrument")).select_by_value(STRESS_INSTRUMENT)
    server_points = fetch(url + "api/snapshot")["instruments"][STRESS_INSTRUMENT]["points"]
    page_points = f"streamsDashboard.instruments.get('{STRESS_INSTRUMENT}').points"
    wait_until(browser, lambda d: page(d, page_points) == server_points,
               "the page's window differs from the server's")  # fmt: skip
    wait_until(browser, lambda d: page(d, "document.getElementById('chart-mid').dataset.points")
               == str(len(server_points)), "the mid chart did not draw the window")  # fmt: skip
    for chart in CHARTS:  # every chart has points and has painted pixels
        assert int(page(browser, f"document.getElementById('{chart}').dataset.points")) > 0, chart
        assert page(browser, PAINTED, chart) > 1000, chart
    last = stress[first - 1].record
    assert browser.find_element(By.ID, "best-bid").text == _number(last["best_bid"])
    assert log_ids(browser) == []

    # 2. the stress scenario's first suggestion arrives: measure how long until the log shows it
    producer.stream([stress[first]])
    produced_at = time.monotonic()
    selector = f"#log > li[data-suggestion-id='{suggestions[0].record['suggestion_id']}']"
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, selector),
               "the first suggestion never appeared")  # fmt: skip
    first_latency_s = time.monotonic() - produced_at

    # 3. the crash: THROTTLE, then HALT; the badge turns red, the log is newest first
    producer.stream(stress[first + 1 : after_halt])
    halt_id = halt.record["suggestion_id"]
    wait_until(browser, lambda d: log_ids(d) and log_ids(d)[0] == halt_id, "no HALT in the log")
    badge = browser.find_element(By.ID, "breaker")
    assert (badge.text, badge.get_attribute("data-state")) == ("HALT", "HALT")
    assert badge.value_of_css_property("background-color") == HALT_RED
    assert log_ids(browser) == producer.suggestions[::-1]
    entry = browser.find_element(By.CSS_SELECTOR, f"#log > li[data-suggestion-id='{halt_id}']")
    entry.find_element(By.CSS_SELECTOR, "summary").click()
    rules = [cell.text for cell in entry.find_elements(By.CSS_SELECTOR, "table.reasons td.rule")]
    assert rules == [reason["rule"] for reason in halt.record["reasons"]]
    record = halt.record
    assert entry.find_element(By.CSS_SELECTOR, ".source").text == (
        f"{record['source_topic']}[{record['source_partition']}]@{record['source_offset']}"
    )
    assert entry.find_element(By.CSS_SELECTOR, "code.audit").text == audit_command(
        STRESS_INSTRUMENT, record["event_time"]
    )
    screenshot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # 4. paused, the page holds what arrives; resumed, it shows it (RESUME back to NORMAL)
    shown = log_ids(browser)
    browser.find_element(By.ID, "pause").click()
    producer.stream(stress[after_halt:])
    later = len(producer.suggestions) - len(shown)
    wait_until(browser, lambda d: page(d, "streamsDashboard.heldSuggestions.length") == later,
               "the paused page did not receive the later suggestions")  # fmt: skip
    assert later > 0
    assert log_ids(browser) == shown
    assert badge.get_attribute("data-state") == "HALT"
    browser.find_element(By.ID, "pause").click()
    wait_until(browser, lambda d: log_ids(d) == producer.suggestions[::-1], "resume lost entries")
    final_state = suggestions[-1].record["state"]
    wait_until(browser, lambda d: badge.get_attribute("data-state") == final_state, "badge")

    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []  # no script error, no failed request

    measured = {"first_suggestion_on_page_s": round(first_latency_s, 3),
                "imbalance_records": producer.imbalance, "suggestions": len(producer.suggestions),
                "instruments": len(instruments)}  # fmt: skip
    (tmp_path / "measured.json").write_text(json.dumps(measured, indent=2), encoding="utf-8")
    print(f"dashboard e2e: {measured}; screenshot {screenshot}")
    artefacts = os.environ.get("STREAMS_TEST_ARTEFACTS")
    if artefacts:
        Path(artefacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(artefacts) / "dashboard.png")
        shutil.copy(tmp_path / "measured.json", Path(artefacts) / "dashboard-measured.json")


def _number(value: float) -> str:
    """The page's number format (dashboard.js formatNumber) for a price."""
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value:.3e}".replace("e+0", "e+")
    if magnitude >= 1000:
        return f"{value:.2f}"
    return repr(float(f"{value:.6g}")).removesuffix(".0")
