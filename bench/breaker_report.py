"""Breaker evaluation: scenario detection delays, false suggestions on real recordings, a plot.

Run: `.venv/bin/python bench/breaker_report.py`. Rewrites the section between the
`breaker_report` markers in docs/breaker.md and draws docs/breaker_flash_crash.png. Everything is
event time and seeded, so the numbers only change when the code or the configuration does.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from sections import replace_section

from streams.core.breaker import BreakerConfig
from streams.core.pipeline import Pipeline
from streams.core.types import SourcePosition
from streams.simulate.evaluate import evaluate_scenario
from streams.simulate.scenarios import SCENARIOS, run_scenario
from streams.sources.raw import read_raw

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = Path(
    os.environ.get("STREAMS_RECORDINGS", ROOT.parent / "shared/data/exchange-recordings")
)
DOCUMENT = ROOT / "docs" / "breaker.md"
PLOT = ROOT / "docs" / "breaker_flash_crash.png"
START, END = "<!-- breaker_report:start -->", "<!-- breaker_report:end -->"
SEEDS = range(5)
BOOK_RECORDINGS = (
    "BINANCE.ws.1.0", "BINANCE_US.ws.1.0", "BINANCE_FUTURES.ws.1.0", "BINANCE_DELIVERY.ws.1.0",
    "BYBIT.jsonl.zst", "COINBASE.jsonl.zst", "COINBASE.ws.28.0", "DERIBIT.ws.1.0",
    "KRAKEN.ws.50.0", "KRAKEN_FUTURES.ws.1.0", "OKX.ws.1.0", "OKCOIN.ws.1.0",
)  # fmt: skip


def scenario_table() -> str:
    lines = [
        "| scenario | expected | as expected (of 5 seeds) | detection delay s (min / median / max)"
        " | suggestions before onset | first action per seed |",
        "|---|---|---:|---|---:|---|",
    ]
    for name, chosen in SCENARIOS.items():
        outcomes = [evaluate_scenario(name, seed) for seed in SEEDS]
        delays = [o.detection_delay_s for o in outcomes if o.detection_delay_s is not None]
        passed = sum(o.passed for o in outcomes)
        early = sum(len(o.before_onset) for o in outcomes)
        firsts = ", ".join(o.suggestions[0]["action"] if o.suggestions else "-" for o in outcomes)
        spread = (
            f"{min(delays):.2f} / {statistics.median(delays):.2f} / {max(delays):.2f}"
            if delays
            else "-"
        )
        expected = (
            f"{' or '.join(chosen.expected)} (within {chosen.react_within_s:g} s)"
            if chosen.expected
            else "nothing"
        )
        lines.append(f"| {name} | {expected} | {passed} | {spread} | {early} | {firsts} |")
    return "\n".join(lines)


def recording_rows(config: BreakerConfig) -> tuple[list[str], float, Counter[str]]:
    rows = []
    total_hours = 0.0
    rules: Counter[str] = Counter()
    for name in BOOK_RECORDINGS:
        path = RECORDINGS / name
        if not path.exists():
            continue
        pipeline = Pipeline(breaker=config)
        spans: dict[str, list[int]] = {}
        suggestions: list[dict[str, Any]] = []
        for delta, position in read_raw(None, path):
            output = pipeline.process(delta, position)
            if output.imbalance is not None:
                span = spans.setdefault(delta.instrument, [delta.event_time, delta.event_time])
                span[0] = min(span[0], delta.event_time)
                span[1] = max(span[1], delta.event_time)
            suggestions.extend(output.suggestions)
        hours = sum(last - first for first, last in spans.values()) / 3.6e9
        total_hours += hours
        alarms = [s for s in suggestions if s["action"] != "RESUME"]
        rules.update(reason["rule"] for s in alarms for reason in s["reasons"])
        rows.append(
            f"| {name} | {len(spans)} | {hours * 3600:,.0f} | {len(alarms)} "
            f"| {', '.join(sorted({s['action'] for s in alarms})) or '-'} |"
        )
    return rows, total_hours, rules


def recordings_section() -> str:
    parts = []
    for label, config in (
        ("default configuration", BreakerConfig()),
        ("baseline warm-up disabled (`baseline_warmup_s=0`)", BreakerConfig(baseline_warmup_s=0)),
    ):
        rows, hours, rules = recording_rows(config)
        alarms = sum(int(row.split("|")[4]) for row in rows)
        rate = alarms / hours if hours else 0.0
        fired = ", ".join(f"{rule} {count}" for rule, count in sorted(rules.items())) or "none"
        parts.append(
            f"**{label}**: {alarms} suggestions (RESUME not counted) in {hours * 3600:,.0f} "
            f"instrument-seconds = **{rate:.1f} per instrument-hour**; rules: "
            f"{fired}.\n\n"
            "| recording | instruments | instrument-seconds | suggestions | actions |\n"
            "|---|---:|---:|---:|---|\n" + "\n".join(rows)
        )
    return "\n\n".join(parts)


def plot(name: str = "flash_crash", seed: int = 0) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pipeline = Pipeline()
    times, mids, lower, upper, depth, spread = [], [], [], [], [], []
    marks = []
    deltas = run_scenario(name, seed)
    start = deltas[0].event_time
    for offset, delta in enumerate(deltas):
        output = pipeline.process(delta, SourcePosition("plot", 0, offset))
        record = output.imbalance
        if record is None:
            continue
        t = (record["event_time"] - start) / 1e6
        reference = pipeline.breaker.snapshot_state(delta.instrument)["prices"]["reference"]
        fraction = pipeline.breaker_config.band_fraction(delta.instrument)
        times.append(t)
        mids.append(record["mid"])
        lower.append(None if reference is None else reference * (1 - fraction))
        upper.append(None if reference is None else reference * (1 + fraction))
        depth.append(record["depth_bid_25bps"] / 1e3)
        spread.append(record["spread_bps"])
        marks += [(t, s["action"]) for s in output.suggestions]
    figure, axes = plt.subplots(3, 1, figsize=(10, 7), sharex=True)
    axes[0].plot(times, mids, label="mid", color="black", linewidth=1)
    axes[0].plot(times, lower, label="band (5-min mean ± 10 %)", color="tab:red", linewidth=0.8)
    axes[0].plot(times, upper, color="tab:red", linewidth=0.8)
    axes[1].plot(times, depth, color="tab:blue", linewidth=0.8)
    axes[2].plot(times, spread, color="tab:green", linewidth=0.8)
    axes[0].set_ylabel("price")
    axes[1].set_ylabel("bid depth 25 bps (k)")
    axes[2].set_ylabel("spread (bps)")
    axes[2].set_xlabel("event time (s)")
    colours = {"WATCH": "gold", "THROTTLE": "orange", "WIDEN_BANDS": "orange", "HALT": "red",
               "RESUME": "green"}  # fmt: skip
    for t, action in marks:
        for axis in axes:
            axis.axvline(t, color=colours[action], linestyle="--", linewidth=0.9)
        axes[0].annotate(action, (t, max(mids)), rotation=90, fontsize=7, va="top")
    axes[0].legend(loc="lower left", fontsize=8)
    axes[0].set_title(f"scenario {name}, seed {seed}: metrics and breaker suggestions")
    figure.tight_layout()
    figure.savefig(PLOT, dpi=90)


def main() -> int:
    body = (
        "### Stress scenarios (simulator, 5 seeds each)\n\n"
        "Delay = event time from the stress onset to the first suggestion with an expected "
        "action.\n\n" + scenario_table() + "\n\n"
        "### False suggestions on the real recordings (calm markets)\n\n" + recordings_section()
    )
    print(body)
    replace_section(DOCUMENT, "breaker_report", f"{START}\n{body}\n{END}")
    plot()
    return 0


if __name__ == "__main__":
    sys.exit(main())
