"""A self-contained HTML audit report: per-instrument plots (embedded PNG) and evidence tables."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to memory

import matplotlib.pyplot as plt

from streams.audit.diff import TopicComparison
from streams.audit.replay import ReplayResult

__all__ = ["write_report"]

_PANELS = (
    ("mid", "mid price"),
    ("spread_bps", "spread (bps)"),
    ("depth_imbalance_10", "depth imbalance (10 levels)"),
    ("ofi", "order-flow imbalance"),
)
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3} .ok{color:#186a3b} .bad{color:#b03a2e} img{max-width:100%}
"""


def _figure(
    instrument: str, rows: Sequence[dict[str, Any]], marks: Sequence[dict[str, Any]]
) -> str:
    times = [r["event_time"] / 1e6 for r in rows]
    figure, axes = plt.subplots(len(_PANELS), 1, figsize=(11, 8), sharex=True)
    for axis, (name, label) in zip(axes, _PANELS, strict=True):
        values = [r.get(name) for r in rows]
        axis.plot(times, [v if v is not None else float("nan") for v in values], lw=0.8)
        axis.set_ylabel(label, fontsize=8)
        for mark in marks:
            axis.axvline(mark["event_time"] / 1e6, color="#b03a2e", lw=0.8, ls="--")
    axes[0].set_title(f"{instrument} ({len(rows)} records, {len(marks)} suggestions)")
    axes[-1].set_xlabel("event time (epoch seconds)")
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _evidence_table(suggestions: Sequence[dict[str, Any]]) -> str:
    if not suggestions:
        return "<p>No suggestions in this range.</p>"
    rows = []
    for s in suggestions:
        reasons = "<br>".join(
            html.escape(
                f"{r['rule']}: {r['value']:.6g} vs {r['threshold']:.6g} {r.get('detail', '')}"
            )
            for r in s.get("reasons", [])
        )
        where = f"{s['source_topic']}[{s['source_partition']}]@{s['source_offset']}"
        rows.append(
            f"<tr><td>{s['event_time']}</td><td>{html.escape(str(s['action']))}</td>"
            f"<td>{html.escape(str(s['previous_state']))} → {html.escape(str(s['state']))}</td>"
            f"<td>{reasons}</td><td>{html.escape(where)}</td></tr>"
        )
    header = (
        "<tr><th>event time (µs)</th><th>action</th><th>state</th>"
        "<th>rules (value vs threshold)</th><th>input</th></tr>"
    )
    return f"<table>{header}{''.join(rows)}</table>"


def _summary(comparisons: Sequence[TopicComparison], result: ReplayResult) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(c.topic)}</td><td>{c.replayed}</td><td>{c.live}</td><td>{c.matched}</td>"
        f"<td class='{'ok' if c.ok else 'bad'}'>{len(c.differences)}</td></tr>"
        for c in comparisons
    )
    listed = "".join(
        f"<li>{html.escape(d.describe())}</li>" for c in comparisons for d in c.differences[:200]
    ) + "".join(
        f"<li>{html.escape(c.topic)}: {count} live records of config_hash {html.escape(str(h))} "
        f"not compared (this audit: {html.escape(result.config_hash)})</li>"
        for c in comparisons
        for h, count in sorted(c.other_config.items())
    )
    return (
        f"<p>Replayed {result.records_read} input records in {result.seconds:.2f} s "
        f"with config_hash {html.escape(result.config_hash)} "
        f"({result.records_per_second:,.0f} records/s).</p>"
        "<table><tr><th>topic</th><th>replayed</th><th>live</th><th>matched</th><th>differences</th></tr>"
        f"{rows}</table>"
        + (f"<ul>{listed}</ul>" if listed else "<p class='ok'>No differences.</p>")
    )


def write_report(
    directory: Path,
    result: ReplayResult,
    imbalance: TopicComparison,
    suggestions: TopicComparison,
) -> Path:
    """Write `audit.html` (plots embedded, no external resources) and `differences.json`."""
    directory.mkdir(parents=True, exist_ok=True)
    by_instrument: dict[str, list[dict[str, Any]]] = {}
    for record in result.imbalance:
        by_instrument.setdefault(f"{record['exchange']}:{record['symbol']}", []).append(record)
    sections = []
    for instrument in sorted(by_instrument):
        marks = [s for s in result.suggestions if f"{s['exchange']}:{s['symbol']}" == instrument]
        image = _figure(instrument, by_instrument[instrument], marks)
        sections.append(
            f"<h2>{html.escape(instrument)}</h2>"
            f"<img alt='metrics of {html.escape(instrument)}' src='data:image/png;base64,{image}'>"
            f"{_evidence_table(marks)}"
        )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>streams audit</title>"
        f"<style>{_STYLE}</style></head><body><h1>Audit report</h1>"
        f"{_summary([imbalance, suggestions], result)}{''.join(sections)}</body></html>"
    )
    path = directory / "audit.html"
    path.write_text(page, encoding="utf-8")
    differences = [d.describe() for c in (imbalance, suggestions) for d in c.differences]
    (directory / "differences.json").write_text(json.dumps(differences, indent=1))
    return path
