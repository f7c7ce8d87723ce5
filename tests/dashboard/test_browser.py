"""End to end on the real broker: outputs stream into Kafka, headless Chromium watches the page.

The imbalance records and suggestions are what the pipeline computes from the real Kraken
recording and from the flash-crash stress scenario, encoded with the real codec and produced to
this test's topics while `streams dashboard` (a child process) consumes them and the page is open.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import zip_longest
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from streams.config import Settings
from streams.dashboard.window import audit_command
from streams.transport import create_topics, topic_specs
from tests.dashboard.browser import requested_urls
from tests.dashboard.records import (
    STRESS_INSTRUMENT,
    Output,
    OutputProducer,
    recording_outputs,
    stress_outputs,
)

pytestmark = pytest.mark.integration

TIME_CHARTS = ("chart-mid", "chart-spread", "chart-imbalance", "chart-ofi")
CHARTS = (*TIME_CHARTS, "chart-depth")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BROWSER_UTC_OFFSET_MINUTES = -330  # BROWSER_TIME_ZONE, as Date.getTimezoneOffset says it
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
  const canvas = document.querySelector(`#${arguments[0]} canvas`);
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) painted += data[i] > 0;
  return painted;
})()"""


def log_ids(driver: Any) -> list[str]:
    return page(driver, LOG_IDS)


def utc_text(milliseconds: int) -> str:
    """How the page writes a moment: `2023-11-14 22:28:19.750 UTC`."""
    moment = EPOCH + timedelta(milliseconds=milliseconds)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def assert_utc_time_axis(driver: Any, chart: str, points: list[list[Any]]) -> None:
    """The labels the chart drew on its time axis are the UTC clock times of their ticks."""
    ticks = json.loads(page(driver, f"document.getElementById('{chart}').dataset.xTicks"))
    assert ticks, chart
    for milliseconds, label in ticks:
        assert points[0][0] <= milliseconds <= points[-1][0], (chart, milliseconds)
        clock = (EPOCH + timedelta(milliseconds=milliseconds)).strftime("%H:%M:%S.%f")
        assert len(label) >= len("00:00:00"), (chart, label)
        assert label == clock[: len(label)], (chart, milliseconds, label)


def legend(driver: Any, chart: str) -> list[str]:
    """The chart's hover read-out: the time, then each series' value."""
    cells = driver.find_elements(By.CSS_SELECTOR, f"#{chart} .u-legend .u-series .u-value")
    return [cell.text for cell in cells]


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

    # every time axis and every time on the page is UTC, although the browser is not in UTC
    assert page(browser, "new Date().getTimezoneOffset()") == BROWSER_UTC_OFFSET_MINUTES
    for chart in TIME_CHARTS:
        assert_utc_time_axis(browser, chart, server_points)
    assert browser.find_element(By.ID, "event-time").text == utc_text(last["event_time"] // 1000)

    # hovering the mid chart reads out the point under the cursor on every time chart
    fields = fetch(url + "api/snapshot")["point_fields"]
    ActionChains(browser).move_to_element(
        browser.find_element(By.CSS_SELECTOR, "#chart-mid .u-over")
    ).perform()
    cursor = "streamsDashboard.charts.time[0].plot.cursor.idx"
    index = wait_until(browser, lambda d: page(d, cursor), "no point under the cursor")
    point = server_points[index]
    assert legend(browser, "chart-mid") == [utc_text(point[0]), _number(point[fields.index("mid")])]
    for chart in TIME_CHARTS:
        assert legend(browser, chart)[0] == utc_text(point[0]), chart
    ActionChains(browser).move_to_element(browser.find_element(By.ID, "status")).perform()

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
    wait_until(browser, lambda d: all(page(d, f"document.getElementById('{c}').dataset.marks")
               == str(len(producer.suggestions)) for c in TIME_CHARTS),
               "the time charts do not mark every suggestion")  # fmt: skip
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
    requested = requested_urls(browser)  # works offline: nothing from another host
    assert {url, url + "events", url + "static/vendor/uPlot.iife.min.js"} <= set(requested)
    assert [u for u in requested if not u.startswith(url)] == []

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


HOSTILE_EXCHANGE = "X$(touch pwned)"
HOSTILE_SYMBOL = "`touch pwned2`'\"<img src=x onerror=\"document.title='owned'\">; touch pwned3"
FAKE_STREAMS = '#!/bin/sh\nprintf "%s\\0" "$@" > "$ARGUMENTS_FILE"\n'
CLIPBOARD = "navigator.clipboard.readText().then(arguments[0], (e) => arguments[0]('failed: ' + e))"


def test_a_hostile_instrument_name_is_shown_as_text_and_its_audit_command_pastes_safely(
    kafka_settings: Settings,
    dashboard_factory: Callable[[Settings], str],
    browser: Any,
    tmp_path: Path,
) -> None:
    settings = kafka_settings
    create_topics(settings, topic_specs(settings.topics, partitions=2))
    stress = stress_outputs(settings.topics.book_deltas)
    first = next(i for i, o in enumerate(stress) if o.kind == "suggestion")
    renamed = {"exchange": HOSTILE_EXCHANGE, "symbol": HOSTILE_SYMBOL}
    outputs = [Output(o.kind, {**o.record, **renamed}) for o in stress[: first + 1]]
    instrument = f"{HOSTILE_EXCHANGE}:{HOSTILE_SYMBOL}"
    url = dashboard_factory(settings)
    browser.get(url)
    title = browser.title
    OutputProducer(settings).stream(outputs)

    item = wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#log > li"),
                      "the suggestion never appeared")[0]  # fmt: skip
    assert item.find_element(By.CSS_SELECTOR, ".instrument").text == instrument
    assert page(browser, "document.getElementById('instrument').value") == instrument
    assert page(browser, "document.querySelectorAll('img').length") == 0
    assert browser.title == title

    # what "copy" puts on the clipboard is what a user pastes into a shell
    item.find_element(By.CSS_SELECTOR, "summary .action").click()  # the name selects instead
    permissions = ["clipboardReadWrite", "clipboardSanitizedWrite"]
    browser.execute_cdp_cmd(
        "Browser.grantPermissions", {"origin": url.rstrip("/"), "permissions": permissions}
    )
    item.find_element(By.CSS_SELECTOR, "button.copy").click()
    pasted = wait_until(
        browser,
        lambda d: (text := d.execute_async_script(CLIPBOARD)).startswith("streams") and text,
        "copy put nothing on the clipboard",
    )
    assert pasted == item.find_element(By.CSS_SELECTOR, "code.audit").text
    bin_directory, shell_directory = tmp_path / "bin", tmp_path / "shell"
    bin_directory.mkdir()
    shell_directory.mkdir()
    fake = bin_directory / "streams"  # records the arguments it gets, runs nothing
    fake.write_text(FAKE_STREAMS, encoding="utf-8")
    fake.chmod(0o755)
    arguments_file = tmp_path / "arguments"
    environment = {"PATH": f"{bin_directory}:/usr/bin:/bin", "ARGUMENTS_FILE": str(arguments_file)}
    subprocess.run(["bash", "-c", pasted], cwd=shell_directory, env=environment, check=True)

    event_time = outputs[-1].record["event_time"]
    assert arguments_file.read_bytes().split(b"\0")[:-1] == [
        b"audit", b"--from", str(event_time).encode(), b"--to", str(event_time + 1).encode(),
        f"--instrument={instrument}".encode(),
    ]  # fmt: skip
    assert list(shell_directory.iterdir()) == []  # no `touch` ran
    assert [u for u in requested_urls(browser) if not u.startswith(url)] == []


def _number(value: float) -> str:
    """The page's number format (charts.js formatNumber) for a price."""
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value:,.0f}"
    if magnitude >= 1000:
        return f"{value:,.2f}"
    return repr(float(f"{value:.6g}")).removesuffix(".0")
