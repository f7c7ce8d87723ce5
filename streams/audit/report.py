"""A self-contained HTML audit report: a summary, per-instrument plots and evidence tables.

Times are UTC wall-clock; prices are rounded to the instrument's tick (the finest decimal seen in
its quotes, since records carry no tick size) and other numbers to a few significant digits.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from streams.audit.diff import TopicComparison
from streams.audit.figures import STATE_COLOURS, instrument_figure
from streams.audit.replay import ReplayResult

__all__ = ["price_decimals", "utc_time", "write_report"]

ACTIONS = ("WATCH", "THROTTLE", "WIDEN_BANDS", "HALT", "RESUME")  # the breaker's, in this order
_PRICES = ("best_bid", "best_ask")
_MIDS = ("mid", "weighted_mid", "reference_price", "band_lower", "band_upper")  # half a tick finer
_UNKNOWN = "(not in the replay)"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#186a3b} .bad{color:#b03a2e} svg{max-width:100%;height:auto}
tr:target{background:#fdebd0} a.mark{font-weight:bold;text-decoration:none}
tfoot td{font-weight:bold}
"""


def utc_time(event_time_us: int) -> str:
    """`2021-04-17 17:28:20.125 UTC`: event time as UTC wall-clock, to the millisecond."""
    moment = _EPOCH + timedelta(microseconds=event_time_us)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def price_decimals(records: Iterable[dict[str, Any]]) -> int:
    """Decimals of the instrument's tick: the most any quoted price needs (prices are exact)."""
    finest = 0
    for value in {r[name] for r in records for name in _PRICES if r.get(name) is not None}:
        exponent = Decimal(repr(float(value))).as_tuple().exponent
        if isinstance(exponent, int):
            finest = max(finest, -exponent)
    return min(finest, 10)


def _number(value: Any) -> str:
    """A few significant digits, thousands separated: what a reader compares by eye."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return html.escape(str(value))
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.1f}"
    if magnitude >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def _metric(name: str, value: Any, decimals: int) -> str:
    if isinstance(value, float) and name in _PRICES:
        return f"{value:,.{decimals}f}"
    if isinstance(value, float) and name in _MIDS:
        return f"{value:,.{decimals + 1}f}"
    return _number(value)


def _evidence_table(suggestions: Sequence[dict[str, Any]], decimals: int, prefix: str) -> str:
    if not suggestions:
        return "<p>No suggestions in this range.</p>"
    rows = []
    for number, s in enumerate(suggestions, start=1):
        reasons = (
            "<br>".join(
                f"{html.escape(str(r['rule']))}: {_number(r['value'])} vs {_number(r['threshold'])}"
                f" <small>{html.escape(str(r.get('detail', '')))}</small>"
                for r in s.get("reasons", [])
            )
            or "no rule fired (resume)"
        )
        metrics = s.get("metrics", {})
        book = ", ".join(
            f"{name} {_metric(name, metrics[name], decimals)}"
            for name in ("best_bid", "best_ask", "mid", "spread_bps")
            if name in metrics
        )
        where = f"{s['source_topic']}[{s['source_partition']}]@{s['source_offset']}"
        colour = STATE_COLOURS.get(str(s["state"]), "#555")
        rows.append(
            f"<tr id='{prefix}suggestion-{number}'>"
            f"<td><a class='mark' href='#{prefix}mark-{number}' style='color:{colour}' "
            f"title='show on the plot'>{number}</a></td>"
            f"<td>{utc_time(s['event_time'])}</td><td>{html.escape(str(s['action']))}</td>"
            f"<td>{html.escape(str(s['previous_state']))} → {html.escape(str(s['state']))}</td>"
            f"<td>{reasons}</td><td>{html.escape(book)}</td><td>{html.escape(where)}</td></tr>"
        )
    header = (
        "<tr><th>#</th><th>time (UTC)</th><th>action</th><th>state</th>"
        "<th>rules (value vs threshold)</th><th>book at the trigger</th><th>input</th></tr>"
    )
    return f"<table>{header}{''.join(rows)}</table>"


def _differences_by_instrument(
    result: ReplayResult, comparisons: Sequence[TopicComparison]
) -> Counter[str]:
    owner = {r["record_id"]: _instrument(r) for r in result.imbalance}
    owner.update({s["suggestion_id"]: _instrument(s) for s in result.suggestions})
    return Counter(owner.get(d.record_id, _UNKNOWN) for c in comparisons for d in c.differences)


def _summary_table(
    instruments: Sequence[str],
    records: dict[str, list[dict[str, Any]]],
    suggestions: dict[str, list[dict[str, Any]]],
    differences: Counter[str],
) -> str:
    seen = {str(s["action"]) for group in suggestions.values() for s in group}
    actions = [a for a in ACTIONS if a in seen] + sorted(seen - set(ACTIONS))
    header = (
        "<tr><th>instrument</th><th>records</th><th>suggestions</th>"
        + "".join(f"<th>{html.escape(a)}</th>" for a in actions)
        + "<th>differences</th></tr>"
    )

    def row(name: str, cells: list[int], link: str | None) -> str:
        label = f"<a href='#{link}'>{html.escape(name)}</a>" if link else html.escape(name)
        *counts, different = cells
        status = "ok" if different == 0 else "bad"
        return (
            f"<tr><td>{label}</td>"
            + "".join(f"<td class='n'>{n:,}</td>" for n in counts)
            + f"<td class='n {status}'>{different:,}</td></tr>"
        )

    def cells(name: str) -> list[int]:
        by_action = Counter(str(s["action"]) for s in suggestions.get(name, []))
        return [
            len(records.get(name, [])), len(suggestions.get(name, [])),
            *(by_action[a] for a in actions), differences[name],
        ]  # fmt: skip

    body = [row(name, cells(name), f"i{i}") for i, name in enumerate(instruments)]
    if differences[_UNKNOWN]:
        body.append(row(_UNKNOWN, [0, 0, *(0 for _ in actions), differences[_UNKNOWN]], None))
    totals = [sum(column) for column in zip(*(cells(n) for n in instruments), strict=True)]
    totals = totals or [0] * (3 + len(actions))
    totals[-1] += differences[_UNKNOWN]
    total = row(f"{len(instruments)} instruments", totals, None)
    return f"<table>{header}{''.join(body)}<tfoot>{total}</tfoot></table>"


def _comparison(comparisons: Sequence[TopicComparison], result: ReplayResult) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(c.topic)}</td><td class='n'>{c.replayed:,}</td>"
        f"<td class='n'>{c.live:,}</td><td class='n'>{c.matched:,}</td>"
        f"<td class='n {'ok' if c.ok else 'bad'}'>{len(c.differences):,}</td></tr>"
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
        f"<p>Replayed {result.records_read:,} input records in {result.seconds:.2f} s "
        f"with config_hash {html.escape(result.config_hash)} "
        f"({result.records_per_second:,.0f} records/s).</p>"
        "<table><tr><th>topic</th><th>replayed</th><th>live</th><th>matched</th>"
        f"<th>differences</th></tr>{rows}</table>"
        + (f"<ul>{listed}</ul>" if listed else "<p class='ok'>No differences.</p>")
    )


def _instrument(record: dict[str, Any]) -> str:
    return f"{record['exchange']}:{record['symbol']}"


def _section(index: int, name: str, rows: list[dict[str, Any]], marks: list[dict[str, Any]]) -> str:
    prefix = f"i{index}-"
    decimals = price_decimals([*rows, *(s.get("metrics", {}) for s in marks)])
    figure = (
        instrument_figure(name, rows, marks, price_decimals=decimals, prefix=prefix)
        if rows
        else "<p>No imbalance records in this range.</p>"
    )
    return (
        f"<section id='i{index}' data-instrument='{html.escape(name, quote=True)}'>"
        f"<h2>{html.escape(name)}</h2>{figure}{_evidence_table(marks, decimals, prefix)}</section>"
    )


def write_report(
    directory: Path,
    result: ReplayResult,
    imbalance: TopicComparison,
    suggestions: TopicComparison,
) -> Path:
    """Write `audit.html` (plots inline, no external resources) and `differences.json`."""
    directory.mkdir(parents=True, exist_ok=True)
    records: dict[str, list[dict[str, Any]]] = {}
    for record in result.imbalance:
        records.setdefault(_instrument(record), []).append(record)
    marks: dict[str, list[dict[str, Any]]] = {}
    for suggestion in result.suggestions:
        marks.setdefault(_instrument(suggestion), []).append(suggestion)
    instruments = sorted(records.keys() | marks.keys())
    comparisons = [imbalance, suggestions]
    differences = _differences_by_instrument(result, comparisons)
    sections = "".join(
        _section(i, name, records.get(name, []), marks.get(name, []))
        for i, name in enumerate(instruments)
    )
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>streams audit</title>"
        f"<style>{_STYLE}</style></head><body><h1>Audit report</h1>"
        f"{_summary_table(instruments, records, marks, differences)}"
        f"{_comparison(comparisons, result)}{sections}</body></html>"
    )
    path = directory / "audit.html"
    path.write_text(page, encoding="utf-8")
    listed = [d.describe() for c in comparisons for d in c.differences]
    (directory / "differences.json").write_text(json.dumps(listed, indent=1))
    return path
