"""The web side without Kafka: the page and its files, the event stream, slow browsers."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.dashboard.config import DashboardConfig
from streams.dashboard.server import HUB, STATIC, Hub, build_app
from streams.dashboard.window import DashboardState
from tests.dashboard.records import STRESS_INSTRUMENT, stress_outputs

pytestmark = pytest.mark.unit


def outputs(kind: str) -> list[dict[str, Any]]:
    return [o.record for o in stress_outputs() if o.kind == kind]


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    # a push interval of a minute: the tests push by hand, so nothing depends on timing
    state = DashboardState(DashboardConfig(push_interval_s=60.0))
    async with TestClient(TestServer(build_app(state))) as test_client:
        yield test_client


async def read_event(stream: Any) -> tuple[str, dict[str, Any]]:
    """The next server-sent event (keep-alive comments skipped)."""
    event, data = "", ""
    while True:
        line = (await asyncio.wait_for(stream.readline(), 30)).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            data = line[len("data: ") :]
        elif line == "" and event:
            return event, json.loads(data)


async def test_the_page_and_every_file_it_references_are_served_locally(
    client: TestClient[Any, Any],
) -> None:
    response = await client.get("/")
    page = await response.text()

    assert response.status == 200
    references = [r for r in re.findall(r'(?:src|href)="([^"]+)"', page) if r != "data:,"]
    assert sorted(references) == [
        "/static/charts.js", "/static/dashboard.css", "/static/dashboard.js",
        "/static/vendor/uPlot.iife.min.js", "/static/vendor/uPlot.min.css",
    ]  # fmt: skip
    for reference in references:
        assert (await client.get(reference)).status == 200
    for path in [*STATIC.glob("*.*"), *STATIC.glob("vendor/*.*")]:  # works offline
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".md" or path.name.endswith("LICENSE"):
            continue  # notes for people, never loaded by the page
        text = re.sub(r"^/\*!.*?\*/", "", text, flags=re.DOTALL)  # uPlot's banner names its site
        assert not re.search(r"https?:|=\s*[\"']//|url\(|@import|\bimport\b", text), path.name


async def test_a_browser_gets_a_snapshot_then_only_what_changed(
    client: TestClient[Any, Any],
) -> None:
    hub: Hub = client.app[HUB]
    state = hub.state
    imbalance = outputs("imbalance")
    state.ingest_imbalance(imbalance[:100])
    hub.push_once()  # what the push task did before this browser came

    response = await client.get("/events")
    assert response.headers["Content-Type"] == "text/event-stream"
    event, snapshot = await read_event(response.content)
    state.ingest_imbalance(imbalance[100:101])
    state.ingest_suggestions(outputs("suggestion")[:1])
    assert hub.push_once() == 1
    update_event, update = await read_event(response.content)

    assert event == "snapshot"
    assert list(snapshot["instruments"]) == [STRESS_INSTRUMENT]
    assert snapshot["instruments"][STRESS_INSTRUMENT]["records"] == 100
    assert snapshot["point_fields"][0] == "event_time_ms"
    assert update_event == "update"
    frame = update["instruments"][STRESS_INSTRUMENT]
    assert frame["records"] == 101
    assert frame["latest"]["source_offset"] == imbalance[100]["source_offset"]
    assert len(frame["points"]) < 3  # only the newest bucket(s), not the window again
    assert [s["action"] for s in update["suggestions"]] == ["WATCH"]
    assert frame["state"] == "WATCH"


async def test_nothing_is_pushed_when_nothing_changed(client: TestClient[Any, Any]) -> None:
    hub: Hub = client.app[HUB]
    hub.state.ingest_imbalance(outputs("imbalance")[:10])
    hub.push_once()
    pushed = hub.pushed

    assert hub.push_once() == 0
    assert hub.pushed == pushed


async def test_a_browser_a_whole_queue_behind_is_dropped_not_buffered_without_bound() -> None:
    state = DashboardState(DashboardConfig(client_queue=3))
    hub = Hub(state)
    stuck: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=3)
    hub.clients.add(stuck)
    records = outputs("imbalance")

    for record in records[:4]:  # four updates for a queue of three
        state.ingest_imbalance([record])
        hub.push_once()

    assert stuck not in hub.clients
    assert hub.dropped_clients == 1
    assert stuck.qsize() == 1
    assert stuck.get_nowait() is None  # its handler ends the stream; EventSource reconnects


async def test_health_and_snapshot_report_the_counts(client: TestClient[Any, Any]) -> None:
    state = client.app[HUB].state
    state.ingest_imbalance(outputs("imbalance")[:5])
    state.record_error("t.imbalance[0]@7: value shorter than the 5-byte Confluent header")

    health = await (await client.get("/healthz")).json()
    snapshot = await (await client.get("/api/snapshot")).json()

    assert health["status"] == "ok"
    assert health["imbalance"] == 5
    assert health["errors"] == 1
    assert snapshot["status"]["last_error"].startswith("t.imbalance[0]@7")
