"""`streams run` end to end on the real broker: replay servers -> connectors -> worker -> Parquet
sink, then the summary and an audit with zero differences."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config import Settings
from streams.run import DEMO_FEEDS, RunConfig, run_all

pytestmark = pytest.mark.integration


def test_run_processes_the_bundled_recordings_end_to_end(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    summary = run_all(kafka_settings, RunConfig(output=tmp_path, partitions=3, idle_s=5.0))
    venues = {name.split(":")[0] for name in summary.instruments}
    assert venues == {feed.venue for feed in DEMO_FEEDS} | {"sim"}
    real = [s for name, s in summary.instruments.items() if not name.startswith("sim:")]
    assert all(
        s.records > 50 and -1.0 <= s.min_queue_imbalance <= s.max_queue_imbalance <= 1.0
        for s in real
    )
    assert "HALT" in summary.instruments["sim:SIM-USD"].suggestions
    assert summary.audit_differences == 0
    assert summary.report is not None
    assert summary.report.exists()
    stored = sum(s.records for s in summary.instruments.values())
    assert stored <= summary.deltas
