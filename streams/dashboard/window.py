"""What the live view remembers: a bounded window per instrument and the suggestion log.

Records go in from the Kafka thread (`ingest_*`), frames come out on the event loop (`drain`,
`snapshot`); one lock guards both. Nothing here reads a clock: points are bucketed by event time,
and the push rate is set by how often the server calls `drain`.
"""

from __future__ import annotations

import math
import shlex
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import Any

from streams.core.types import instrument_id
from streams.dashboard.config import DashboardConfig

__all__ = [
    "POINT_FIELDS",
    "TOP_FIELDS",
    "DashboardState",
    "InstrumentWindow",
    "audit_command",
    "suggestion_view",
]

# A point is [event_time_ms, *POINT_FIELDS]: compact on the wire, one array per time bucket.
POINT_FIELDS = (
    "mid", "spread_bps", "queue_imbalance", "depth_imbalance_5", "depth_imbalance_10",
    "ofi_1s", "ofi_10s", "spread_z", "depth_z",
)  # fmt: skip
# The latest record's top of book and depth bands (the depth chart), sent as an object.
TOP_FIELDS = (
    "event_time", "best_bid", "best_bid_size", "best_ask", "best_ask_size", "mid",
    "weighted_mid", "spread_bps", "bid_levels", "ask_levels", "spread_z", "depth_z",
    "depth_bid_10bps", "depth_ask_10bps", "depth_bid_25bps", "depth_ask_25bps",
    "depth_bid_50bps", "depth_ask_50bps", "depth_bid_100bps", "depth_ask_100bps",
    "source_topic", "source_partition", "source_offset",
)  # fmt: skip
NORMAL = "NORMAL"


def _finite(value: Any) -> Any:
    """NaN and infinities become null: browsers' JSON.parse rejects them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def audit_command(instrument: str, event_time_us: int) -> str:
    """The command that recomputes this output from book-deltas and compares it with the topic.

    The instrument comes from a record, so it is shell-quoted (people paste this into a shell)
    and joined with `=` (an instrument starting with `-` is still the option's value).
    """
    selector = shlex.quote(f"--instrument={instrument}")
    return f"streams audit --from {event_time_us} --to {event_time_us + 1} {selector}"


def suggestion_view(record: dict[str, Any]) -> dict[str, Any]:
    """A suggestion as the page shows it: its evidence, input coordinates and audit command."""
    instrument = instrument_id(record["exchange"], record["symbol"])
    return {
        "instrument": instrument,
        "suggestion_id": record["suggestion_id"],
        "event_time": record["event_time"],
        "action": record["action"],
        "state": record["state"],
        "previous_state": record["previous_state"],
        "severity": record["severity"],
        "suggested_duration_s": _finite(record.get("suggested_duration_s")),
        "reasons": [
            {
                "rule": reason["rule"],
                "value": _finite(reason["value"]),
                "threshold": _finite(reason["threshold"]),
                "detail": reason.get("detail", ""),
            }
            for reason in record["reasons"]
        ],
        "metrics": {name: _finite(value) for name, value in sorted(record["metrics"].items())},
        "source": {
            "topic": record["source_topic"],
            "partition": record["source_partition"],
            "offset": record["source_offset"],
        },
        "config_hash": record["config_hash"],
        "audit": audit_command(instrument, record["event_time"]),
    }


class InstrumentWindow:
    """The last `capacity` time buckets of one instrument, and what changed since the last frame."""

    __slots__ = (
        "_changed", "_pending_from", "_reset",
        "latest", "points", "records", "state", "suggestions",
    )  # fmt: skip

    def __init__(self, capacity: int) -> None:
        self.points: deque[list[Any]] = deque(maxlen=capacity)
        self.latest: dict[str, Any] | None = None
        self.state = NORMAL
        self.records = 0
        self.suggestions = 0
        self._pending_from: int | None = None  # bucket time of the oldest point not yet sent
        self._reset = False  # the window was cleared: the next frame replaces the page's copy
        self._changed = False

    @property
    def changed(self) -> bool:
        return self._changed

    def add(self, record: dict[str, Any], resolution_ms: int) -> None:
        """Add one imbalance record; the latest record of a time bucket replaces the earlier."""
        bucket = record["event_time"] // 1000 // resolution_ms * resolution_ms
        point = [bucket, *(_finite(record[name]) for name in POINT_FIELDS)]
        points = self.points
        if points and bucket < points[-1][0]:
            points.clear()  # event time went backwards (a topic replayed from older data)
            self._reset = True
            self._pending_from = None
        if points and bucket == points[-1][0]:
            points[-1] = point
        else:
            points.append(point)
        if self._pending_from is None or bucket < self._pending_from:
            self._pending_from = bucket
        self.latest = {name: _finite(record[name]) for name in TOP_FIELDS}
        self.records += 1
        self._changed = True

    def set_state(self, state: str) -> None:
        self.state = state
        self.suggestions += 1
        self._changed = True

    def frame(self) -> dict[str, Any]:
        """What changed since the previous frame (its points only), and forget it."""
        since = self._pending_from
        if self._reset:
            fresh = list(self.points)
        elif since is None:
            fresh = []
        else:
            fresh = []
            for point in reversed(self.points):
                if point[0] < since:
                    break
                fresh.append(point)
            fresh.reverse()
        frame = {**self._summary(), "reset": self._reset, "points": fresh}
        self._pending_from = None
        self._reset = False
        self._changed = False
        return frame

    def view(self) -> dict[str, Any]:
        """Everything the window holds, for a page that has just connected."""
        return {**self._summary(), "reset": True, "points": list(self.points)}

    def _summary(self) -> dict[str, Any]:
        return {
            "latest": self.latest,
            "state": self.state,
            "records": self.records,
            "suggestions": self.suggestions,
        }


class DashboardState:
    """Per-instrument windows (least recently updated evicted first) and the suggestion log."""

    def __init__(self, config: DashboardConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._windows: OrderedDict[str, InstrumentWindow] = OrderedDict()
        self._log: deque[dict[str, Any]] = deque(maxlen=config.suggestion_log)
        self._pending_log: deque[dict[str, Any]] = deque(maxlen=config.suggestion_log)
        self._removed: set[str] = set()
        self.counters = {"imbalance": 0, "suggestions": 0, "errors": 0, "evicted": 0}
        self.last_error: str | None = None
        self.feed = "starting"

    def ingest_imbalance(self, records: Iterable[dict[str, Any]]) -> None:
        resolution = self.config.resolution_ms
        with self._lock:
            for record in records:
                key = instrument_id(record["exchange"], record["symbol"])
                self._window(key).add(record, resolution)
                self.counters["imbalance"] += 1

    def ingest_suggestions(self, records: Iterable[dict[str, Any]]) -> None:
        with self._lock:
            for record in records:
                view = suggestion_view(record)
                self._window(view["instrument"]).set_state(view["state"])
                self._log.append(view)
                self._pending_log.append(view)
                self.counters["suggestions"] += 1

    def record_error(self, text: str) -> None:
        """Count a record the view could not use; the page shows the latest one."""
        with self._lock:
            self.counters["errors"] += 1
            self.last_error = text

    def set_feed(self, text: str) -> None:
        with self._lock:
            self.feed = text

    def drain(self) -> dict[str, Any] | None:
        """One update: every changed instrument once, with its new points; None if nothing did."""
        with self._lock:
            changed = {k: w.frame() for k, w in self._windows.items() if w.changed}
            suggestions = list(self._pending_log)
            self._pending_log.clear()
            removed = sorted(self._removed)
            self._removed.clear()
            if not (changed or suggestions or removed):
                return None
            return {
                "instruments": dict(sorted(changed.items())),
                "removed": removed,
                "suggestions": suggestions,
                "status": self._status(),
            }

    def snapshot(self) -> dict[str, Any]:
        """The whole state, for a page that has just connected (it replaces the page's copy)."""
        with self._lock:
            return {
                "config": self.config.for_browser(),
                "point_fields": ["event_time_ms", *POINT_FIELDS],
                "instruments": {k: self._windows[k].view() for k in sorted(self._windows)},
                "suggestions": list(self._log),
                "status": self._status(),
            }

    def instruments(self) -> list[str]:
        with self._lock:
            return sorted(self._windows)

    def window_size(self, instrument: str) -> int:
        with self._lock:
            window = self._windows.get(instrument)
            return 0 if window is None else len(window.points)

    def _window(self, key: str) -> InstrumentWindow:
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= self.config.max_instruments:
                evicted, _ = self._windows.popitem(last=False)
                self._removed.add(evicted)
                self.counters["evicted"] += 1
            window = self._windows[key] = InstrumentWindow(self.config.window_points)
            self._removed.discard(key)
        else:
            self._windows.move_to_end(key)
        return window

    def _status(self) -> dict[str, Any]:
        return {
            **self.counters,
            "instruments": len(self._windows),
            "last_error": self.last_error,
            "feed": self.feed,
        }
