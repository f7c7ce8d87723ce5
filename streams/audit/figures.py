"""The audit report's plots: one inline SVG per instrument, UTC time axis, suggestions marked.

SVG keeps text as text (`svg.fonttype: none`), so the tick labels are in the page's DOM and a
test can read them, and each suggestion's mark is a link to its row in the evidence table.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # no display: render to memory

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import ScalarFormatter, StrMethodFormatter

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = ["STATE_COLOURS", "instrument_figure"]

PANELS = (
    ("mid", "mid price"),
    ("spread_bps", "spread (bps)"),
    ("depth_imbalance_10", "depth imbalance\n(10 levels)"),
    ("ofi", "order-flow\nimbalance"),
)
# The live view's colours for the state a suggestion moves to.
STATE_COLOURS = {
    "NORMAL": "#1e8449", "WATCH": "#b7950b", "THROTTLE": "#ca6f1e", "HALT": "#c0392b",
    "COOLDOWN": "#2471a3",
}  # fmt: skip
# Tick labels by tick spacing (years ... microseconds); the date goes in the axis label.
_TIME_FORMATS = ["%Y", "%Y-%m", "%m-%d", "%H:%M", "%H:%M:%S", "%H:%M:%S.%f"]
_STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",  # text stays text
    "svg.hashsalt": "streams-audit",  # stable ids: the same data gives the same bytes
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _utc_times(rows: Sequence[dict[str, Any]]) -> np.ndarray:
    return np.array([r["event_time"] for r in rows], dtype="datetime64[us]")


def _time_axis(axis: Any, start: np.datetime64) -> None:
    locator = mdates.AutoDateLocator(tz=UTC, minticks=4, maxticks=9)  # type: ignore[no-untyped-call]
    formatter = mdates.ConciseDateFormatter(  # type: ignore[no-untyped-call]
        locator, tz=UTC, formats=_TIME_FORMATS, show_offset=False
    )
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(formatter)
    day = np.datetime_as_string(start, unit="D")
    axis.set_xlabel(f"time (UTC), {day}")


def _label_rows(times: Sequence[int], gap: float) -> list[int]:
    """Stack the numbers of marks closer than `gap` on rows above each other, so none overlap."""
    last: list[float] = []  # per row, the time of its latest label
    rows = []
    for at in times:
        row = next((i for i, t in enumerate(last) if at - t >= gap), len(last))
        if row == len(last):
            last.append(at)
        last[row] = at
        rows.append(row)
    return rows


def _mark(
    axes: Sequence[Any], suggestion: dict[str, Any], number: int, row: int, prefix: str
) -> None:
    """A dashed line on every panel at the suggestion, numbered on top, linking to its row."""
    at = np.datetime64(suggestion["event_time"], "us")
    colour = STATE_COLOURS.get(str(suggestion["state"]), "#555555")
    for axis in axes:
        axis.axvline(at, color=colour, lw=0.9, ls="--")
    label = axes[0].text(
        at, 1.02 + 0.12 * row, str(number), transform=axes[0].get_xaxis_transform(), ha="center",
        va="bottom", fontsize=8, fontweight="bold", color=colour,
    )  # fmt: skip
    label.set_url(f"#{prefix}suggestion-{number}")
    label.set_gid(f"mark-{number}")


def _label_gap(rows: Sequence[dict[str, Any]], marked: Sequence[int]) -> float:
    """About the width of a two-digit number on the time axis: 1.5 % of the plotted span."""
    times = [rows[0]["event_time"], rows[-1]["event_time"], *marked]
    return 0.015 * float(max(max(times) - min(times), 1))


def _unique_ids(svg: str, prefix: str) -> str:
    """Prefix the SVG's own ids (and references to them): the page holds one SVG per instrument."""
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    return re.sub(
        r"#([A-Za-z][\w.-]*)",
        lambda m: f"#{prefix}{m.group(1)}" if m.group(1) in ids else m.group(0),
        svg,
    )


def instrument_figure(
    instrument: str,
    rows: Sequence[dict[str, Any]],
    suggestions: Sequence[dict[str, Any]],
    *,
    price_decimals: int,
    prefix: str,
) -> str:
    """The SVG element (no XML prolog) of one instrument's panels; ids start with `prefix`."""
    times = _utc_times(rows)
    with plt.rc_context(_STYLE):
        figure, axes = plt.subplots(len(PANELS), 1, figsize=(11, 7), sharex=True)
        for axis, (name, label) in zip(axes, PANELS, strict=True):
            values = [r.get(name) for r in rows]
            series = np.array([np.nan if v is None else v for v in values], dtype=float)
            axis.plot(times, series, lw=0.8, color="#2c3e50")
            axis.set_ylabel(label)
            axis.grid(True, color="#e5e5e5", lw=0.6)
            formatter = ScalarFormatter(useOffset=False)
            formatter.set_scientific(False)
            axis.yaxis.set_major_formatter(formatter)
        axes[0].yaxis.set_major_formatter(StrMethodFormatter(f"{{x:,.{price_decimals}f}}"))
        marked = [s["event_time"] for s in suggestions]
        for number, (suggestion, row) in enumerate(
            zip(suggestions, _label_rows(marked, _label_gap(rows, marked)), strict=True), start=1
        ):
            _mark(axes, suggestion, number, row, prefix)
        axes[-1].xaxis.set_gid("time-axis")
        _time_axis(axes[-1], times[0])
        figure.suptitle(
            f"{instrument}: {len(rows):,} records, {len(suggestions):,} suggestions", y=0.995
        )
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
        plt.close(figure)
    svg = buffer.getvalue()
    return _unique_ids(svg[svg.index("<svg") :], prefix)
