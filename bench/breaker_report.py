"""Breaker evaluation: quiet on calm real markets against detection of stress, per configuration.

Run: `.venv/bin/python bench/breaker_report.py` (a few minutes on two cores). For each
configuration below it runs the hour-long real books (`../shared/data/long-books`), the venue
recordings, the simulator's scenarios (5 seeds) and every stress injected into every long book
at three onsets, and writes one table per configuration into docs/breaker.md (between the
`breaker_report` markers), so a change that buys quiet with blindness shows at once. It also draws
docs/breaker_flash_crash.png. Everything is event time and seeded: the numbers change only when the
code, the data or the configuration does.
"""

from __future__ import annotations

import os
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sections import replace_section

from streams.config import shared_recordings
from streams.core.breaker import BreakerConfig
from streams.core.pipeline import Pipeline
from streams.core.types import SourcePosition
from streams.simulate.evaluate import (
    LONG_BOOKS,
    CalmOutcome,
    ScenarioOutcome,
    evaluate_calm,
    evaluate_on_background,
    evaluate_scenario,
)
from streams.simulate.scenarios import SCENARIOS, run_scenario
from streams.sources.raw import read_raw
from streams.sources.tardis import read_tardis

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = shared_recordings()
DOCUMENT = ROOT / "docs" / "breaker.md"
PLOT = ROOT / "docs" / "breaker_flash_crash.png"
SEEDS = range(5)
BOOKS = ("bitstamp", "hyperliquid", "cme")
ONSETS_S = (900.0, 1800.0, 2700.0)
BOOK_RECORDINGS = (
    "BINANCE.ws.1.0", "BINANCE_US.ws.1.0", "BINANCE_FUTURES.ws.1.0", "BINANCE_DELIVERY.ws.1.0",
    "BYBIT.jsonl.zst", "COINBASE.jsonl.zst", "COINBASE.ws.28.0", "DERIBIT.ws.1.0",
    "KRAKEN.ws.50.0", "KRAKEN_FUTURES.ws.1.0", "OKX.ws.1.0", "OKCOIN.ws.1.0",
)  # fmt: skip
#: the defaults, and variants that show what each guard buys (quiet) and costs (delay)
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "default configuration": {},
    "armed after 60 s of history (`baseline_min_history_s=60`)": {"baseline_min_history_s": 60},
    "every depth band judged (`depth_stable_fraction=0.01`)": {"depth_stable_fraction": 0.01},
    "looser: a 10 % tail, depth below its usual low, 1.5x / 3x spreads and costs": {
        "baseline_tail": 0.1,
        "depth_below_low": 1.0,
        "spread_ratio_watch": 1.5,
        "spread_ratio_throttle": 3.0,
        "cost_ratio_watch": 1.5,
        "cost_ratio_throttle": 3.0,
    },
    "stricter: depth below 0.2x its usual low, 8x / 16x spreads and costs": {
        "depth_below_low": 0.2,
        "spread_ratio_watch": 8.0,
        "spread_ratio_throttle": 16.0,
        "cost_ratio_watch": 8.0,
        "cost_ratio_throttle": 16.0,
    },
}


@dataclass
class Evaluation:
    """Everything measured under one configuration."""

    calm: list[CalmOutcome] = field(default_factory=list)
    simulated: dict[str, list[ScenarioOutcome]] = field(default_factory=dict)
    backgrounds: dict[str, list[ScenarioOutcome]] = field(default_factory=dict)


def _calm_book(book: str, overrides: dict[str, Any]) -> CalmOutcome:
    return evaluate_calm(
        book, read_tardis(LONG_BOOKS / f"{book}.csv.gz"), BreakerConfig(**overrides)
    )


def _calm_recordings(overrides: dict[str, Any]) -> CalmOutcome:
    config = BreakerConfig(**overrides)
    parts = [
        evaluate_calm(name, read_raw(None, RECORDINGS / name), config)
        for name in BOOK_RECORDINGS
        if (RECORDINGS / name).exists()
    ]
    states = {state: sum(p.state_seconds[state] for p in parts) for state in parts[0].state_seconds}
    return CalmOutcome(
        source=f"{len(parts)} venue recordings (~30 s each)",
        instruments=sum(p.instruments for p in parts),
        records=sum(p.records for p in parts),
        instrument_hours=sum(p.instrument_hours for p in parts),
        alarms=[s for p in parts for s in p.alarms],
        state_seconds=states,
        state_changes=sum(p.state_changes for p in parts),
    )


def _simulated(name: str, overrides: dict[str, Any]) -> list[ScenarioOutcome]:
    return [evaluate_scenario(name, seed, BreakerConfig(**overrides)) for seed in SEEDS]


def _background(name: str, overrides: dict[str, Any]) -> list[ScenarioOutcome]:
    return [
        evaluate_on_background(
            name,
            LONG_BOOKS / f"{book}.csv.gz",
            onset,
            BreakerConfig(**overrides),
            reaction_only=True,
        )
        for book in BOOKS
        for onset in ONSETS_S
    ]


def evaluate(overrides: dict[str, Any], pool: ProcessPoolExecutor) -> Evaluation:
    calm = [pool.submit(_calm_book, book, overrides) for book in BOOKS]
    calm.append(pool.submit(_calm_recordings, overrides))
    stress = [name for name, chosen in SCENARIOS.items() if chosen.expected]
    simulated = {name: pool.submit(_simulated, name, overrides) for name in SCENARIOS}
    backgrounds = {name: pool.submit(_background, name, overrides) for name in stress}
    return Evaluation(
        calm=[future.result() for future in calm],
        simulated={name: future.result() for name, future in simulated.items()},
        backgrounds={name: future.result() for name, future in backgrounds.items()},
    )


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{key} {count}" for key, count in sorted(counter.items())) or "-"


def _calm_row(outcome: CalmOutcome) -> str:
    hours = outcome.instrument_hours
    alarmed = {s: round(v) for s, v in outcome.state_seconds.items() if s != "NORMAL" and v}
    return (
        f"| {outcome.source} | calm | {hours:.2f} instrument-h "
        f"| **{outcome.per_hour(len(outcome.alarms)):.2f}** suggestions / instrument-h "
        f"({len(outcome.alarms)}) | actions: {_counts(outcome.by_action)}; rules: "
        f"{_counts(outcome.by_rule)}; seconds outside NORMAL: {_counts(alarmed)}; "
        f"{outcome.per_hour(outcome.state_changes):.2f} state changes / h |"
    )


def _stress_row(label: str, outcomes: list[ScenarioOutcome]) -> str:
    chosen = SCENARIOS[outcomes[0].name]
    passed = sum(o.passed if chosen.expected else not o.suggestions for o in outcomes)
    early = sum(len(o.before_onset) for o in outcomes)
    if not chosen.expected:
        return (
            f"| {label} | {chosen.name} | {len(outcomes)} runs | **{passed}** silent "
            f"| expected nothing; suggestions: {sum(len(o.suggestions) for o in outcomes)} |"
        )
    delays = [o.detection_delay_s for o in outcomes if o.detection_delay_s is not None]
    spread = (
        f"{min(delays):.1f} / {statistics.median(delays):.1f} / {max(delays):.1f} s"
        if delays
        else "-"
    )
    firsts = sorted({o.reaction["action"] for o in outcomes if o.reaction is not None})
    return (
        f"| {label} | {chosen.name} | {len(outcomes)} runs | **{passed}** caught in time "
        f"| {' or '.join(chosen.expected)} within {chosen.react_within_s:g} s: delay min / "
        f"median / max {spread}; reaction {', '.join(firsts) or '-'}; before onset {early} |"
    )


def table(label: str, overrides: dict[str, Any], result: Evaluation) -> str:
    config = BreakerConfig(**overrides)
    lines = [
        f"#### {label} (breaker config hash `{config.config_hash()}`)",
        "",
        "| data | kind | amount | result | detail |",
        "|---|---|---|---|---|",
    ]
    lines += [_calm_row(outcome) for outcome in result.calm]
    lines += [_stress_row("simulator (5 seeds)", o) for o in result.simulated.values()]
    lines += [
        _stress_row(f"real books ({len(BOOKS)} x {len(ONSETS_S)} onsets)", o)
        for o in result.backgrounds.values()
    ]
    return "\n".join(lines)


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
        band = pipeline.breaker.snapshot_state(delta.instrument)["rules"]["price_band"]
        reference = band["prices"]["reference"]
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
    parts = [
        "Each table: the calm real markets (suggestions other than RESUME per instrument-hour, "
        "what they were, time outside NORMAL, state changes per hour), then the stress "
        "scenarios on the simulator and injected into the real books at "
        f"{', '.join(f'{o / 60:g}' for o in ONSETS_S)} minutes. Delay = event time from the "
        "stress onset to the first suggestion with an expected action."
    ]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for label, overrides in CONFIGURATIONS.items():
            result = evaluate(overrides, pool)
            parts.append(table(label, overrides, result))
            print(parts[-1], flush=True)
    body = "\n\n".join(parts)
    start, end = "<!-- breaker_report:start -->", "<!-- breaker_report:end -->"
    replace_section(DOCUMENT, "breaker_report", f"{start}\n{body}\n{end}")
    plot()
    return 0


if __name__ == "__main__":
    sys.exit(main())
