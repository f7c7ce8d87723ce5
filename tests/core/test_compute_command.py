"""`streams compute`: a tardis CSV (and a raw venue recording) through the core to JSON lines."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from streams.core.pipeline import Pipeline
from streams.sources.raw import read_raw
from streams.sources.tardis import write_tardis
from tests.core.test_pipeline import BYBIT

pytestmark = pytest.mark.unit


def _compute(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "compute", *args],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_compute_on_a_tardis_file_matches_the_pipeline(tmp_path: Path) -> None:
    deltas = [d for d, _ in read_raw(None, BYBIT)][:3000]
    source = tmp_path / "bybit.csv.gz"
    with gzip.open(source, "wt", encoding="utf-8") as handle:
        write_tardis(deltas, handle)
    output = tmp_path / "out.jsonl"
    result = _compute("--source", f"tardis:{source}", "--output", str(output))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(records) > 2000
    pipeline = Pipeline()
    by_time = {}
    from streams.sources.tardis import read_tardis

    for delta, position in read_tardis(source):
        out = pipeline.process(delta, position)
        if out.imbalance is not None:
            by_time[out.imbalance["record_id"]] = out.imbalance
    assert records == list(by_time.values())
    assert set(records[0]) >= {"queue_imbalance", "ofi", "cost_to_trade", "spread_z", "event_time"}


def test_a_malformed_row_fails_with_its_line_number(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(
        "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
        "bybit,BTCUSDT,1,2,true,bid,100,1\n"
        "bybit,BTCUSDT,1,2,true,ask,oops,1\n"
    )
    result = _compute("--source", f"tardis:{source}", "--output", str(tmp_path / "o.jsonl"))
    assert result.returncode == 2
    assert "bad.csv:3:" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("timestamp", [str(2**63), str(2**63 - 1), "-1", "99999999999999999999"])
def test_timestamps_no_later_stage_can_hold_fail_with_one_line(
    tmp_path: Path, timestamp: str
) -> None:
    source = tmp_path / "far.csv"
    source.write_text(
        "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
        f"bybit,BTCUSDT,{timestamp},2,true,bid,100,1\n"
        f"bybit,BTCUSDT,{timestamp},2,true,ask,101,1\n"
    )
    output = tmp_path / "o.jsonl"
    result = _compute("--source", f"tardis:{source}", "--output", str(output))
    assert result.returncode == 2
    assert "far.csv:2:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not output.exists()


def test_malformed_raw_lines_are_reported_and_the_exit_code_says_so(tmp_path: Path) -> None:
    """Raw venue files are read on past malformed lines (like the live connector), but the run
    says how many it refused and where, and exits 1 instead of 0."""
    from streams.sources.recording import RECV, read_recording_set

    frames = [e.data for e in read_recording_set(BYBIT) if e.kind == RECV][:400]
    lines = [f if isinstance(f, str) else f.decode() for f in frames]
    mangled = {index: line[: len(line) // 2] for index, line in enumerate(lines) if index % 7 == 3}
    source = tmp_path / "bybit.jsonl"
    source.write_text("\n".join(mangled.get(i, line) for i, line in enumerate(lines)) + "\n")
    output = tmp_path / "out.jsonl"
    result = _compute("--source", f"raw:BYBIT:{source}", "--output", str(output))
    assert result.returncode == 1, result.stderr
    assert f"REFUSED {len(mangled)} malformed input frames" in result.stderr
    assert "bybit.jsonl: line 4: not JSON" in result.stderr
    assert output.exists()
    assert "Traceback" not in result.stderr
