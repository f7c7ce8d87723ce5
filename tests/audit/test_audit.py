"""Audit on the real broker: a worker's live outputs replay with zero differences, a corrupted
live record is found (and only it), an audit with another configuration than the live run says so
instead of listing differences, and the HTML report renders in headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image

from streams.codec import TopicCodecs
from streams.config import Settings, load_pipeline_config
from streams.core.pipeline import Pipeline
from streams.core.pipeline_config import PipelineConfig
from streams.core.types import BookDelta, SourcePosition
from streams.simulate.scenarios import run_scenario
from streams.sources.spec import open_source
from streams.transport import DeltaPublisher, KafkaOutputSink, create_topics, topic_specs
from tests.fixtures.workers import RECORDINGS, OutputCollector, WorkerFactory, settings_environment

pytestmark = pytest.mark.integration


def _inputs() -> list[BookDelta]:
    recording = [d for d, _ in open_source(f"raw:BYBIT:{RECORDINGS / 'BYBIT.jsonl.zst'}")]
    return recording + run_scenario("flash_crash", seed=3)


# The live run's configuration: not the defaults, so an audit must be given it to compare.
LIVE_CONFIG = """
[metrics]
z_min_samples = 40

[breaker]
halt_duration_s = 240.0
"""


def _expected_counts(deltas: list[BookDelta], config: PipelineConfig) -> tuple[int, int]:
    pipeline = Pipeline(config.metrics, config.breaker)
    imbalance = suggestions = 0
    for i, delta in enumerate(deltas):
        output = pipeline.process(delta, SourcePosition("offline", 0, i))
        imbalance += output.imbalance is not None
        suggestions += len(output.suggestions)
    return imbalance, suggestions


def _audit(settings: Settings, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "streams.cli", "audit",
        "--from", "0", "--to", "4102444800", *extra,
    ]  # fmt: skip
    return subprocess.run(
        command, env=settings_environment(settings), capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def audited(
    kafka_settings_module: Settings, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    settings = kafka_settings_module
    create_topics(settings, topic_specs(settings.topics, partitions=3))
    config_file = tmp_path_factory.mktemp("config") / "live.toml"
    config_file.write_text(LIVE_CONFIG)
    config = load_pipeline_config(config_file)
    deltas = _inputs()
    imbalance_count, suggestion_count = _expected_counts(deltas, config)
    assert suggestion_count > 0, "the flash crash scenario must produce suggestions"
    publisher = DeltaPublisher(settings, TopicCodecs.register(settings))
    publisher.publish_many(deltas)
    publisher.flush()

    codecs = TopicCodecs.register(settings)
    imbalance = OutputCollector(settings, settings.topics.imbalance, codecs.imbalance, "record_id")
    suggestions = OutputCollector(
        settings, settings.topics.suggestions, codecs.suggestion, "suggestion_id"
    )
    factory = WorkerFactory(settings, tmp_path_factory.mktemp("workers"))
    worker = factory("--config", str(config_file))
    try:
        imbalance.wait_for(imbalance_count, 300, alive=lambda: worker.process.poll() is None)
        suggestions.wait_for(suggestion_count, 60, alive=lambda: worker.process.poll() is None)
        assert worker.terminate() == 0
    finally:
        factory.stop_all()
    return {
        "settings": settings,
        "imbalance": imbalance.records,
        "suggestions": suggestions.records,
        "counts": (imbalance_count, suggestion_count),
        "config": str(config_file),
        "config_hash": config.config_hash(),
    }


def test_audit_of_a_clean_run_finds_zero_differences(
    audited: dict[str, Any], tmp_path: Path
) -> None:
    result = _audit(
        audited["settings"], "--report", str(tmp_path / "report"), "--config", audited["config"]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    imbalance_count, suggestion_count = audited["counts"]
    topics = audited["settings"].topics
    assert (
        f"{topics.imbalance}: replayed {imbalance_count}, live {imbalance_count}, "
        f"matched {imbalance_count}, differences 0"
    ) in result.stdout
    assert f"matched {suggestion_count}, differences 0" in result.stdout
    report = tmp_path / "report" / "audit.html"
    assert report.exists()
    html = report.read_text()
    assert html.count("data:image/png;base64,") >= 2
    assert "HALT" in html  # the flash crash suggestion and its evidence are tabulated


def test_the_worker_stamps_the_hash_of_its_config_file(audited: dict[str, Any]) -> None:
    records = [*audited["imbalance"].values(), *audited["suggestions"].values()]
    assert {record["config_hash"] for record in records} == {audited["config_hash"]}
    assert audited["config_hash"] != PipelineConfig().config_hash()


def test_an_audit_with_another_config_says_so_instead_of_listing_differences(
    audited: dict[str, Any], tmp_path: Path
) -> None:
    result = _audit(audited["settings"], "--report", str(tmp_path / "report"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message
    assert f"config_hash {audited['config_hash']}" in message
    assert PipelineConfig().config_hash() in message
    assert "--config" in message


def test_a_corrupted_live_record_is_the_one_difference_found(audited: dict[str, Any]) -> None:
    settings: Settings = audited["settings"]
    victim = dict(sorted(audited["imbalance"].items())[len(audited["imbalance"]) // 2][1])
    victim["spread_bps"] = victim["spread_bps"] * 2.0
    codecs = TopicCodecs.register(settings)
    sink = KafkaOutputSink(settings)
    key = f"{victim['exchange']}:{victim['symbol']}".encode()
    sink.produce(settings.topics.imbalance, key, codecs.imbalance.encode(victim))
    sink.flush()

    result = _audit(settings, "--config", audited["config"])
    assert result.returncode == 1, result.stdout + result.stderr
    reported = [line.strip() for line in result.stdout.splitlines() if line.startswith("  ")]
    assert len(reported) == 1, result.stdout
    assert victim["record_id"] in reported[0]
    assert "spread_bps" in reported[0]


def test_the_report_renders_plots_in_headless_chromium(
    audited: dict[str, Any], tmp_path: Path
) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "Debian's chromium package is required (.ci/run installs it)"
    audit = _audit(audited["settings"], "--report", str(tmp_path), "--config", audited["config"])
    assert audit.returncode in (0, 1)
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={screenshot}",
            "--window-size=1280,2400",
            (tmp_path / "audit.html").as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pixels = np.asarray(image.imread(screenshot))[..., :3]
    # An empty page is one colour; plots draw lines in several colours over most of the page.
    assert pixels.std() > 0.05
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
