"""Prometheus metrics shared by every role, and JSON log formatting.

One registry per process; each role exposes it on its HTTP endpoint (`/metrics`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "BATCH_SECONDS",
    "BOOK_RESYNCS",
    "CHECKSUM_FAILURES",
    "CONSUMER_LAG",
    "DEAD_LETTERS",
    "DROPPED",
    "EVENTS",
    "INSTRUMENTS",
    "LATENCY_SECONDS",
    "OUTPUTS",
    "SINK_WRITE_SECONDS",
    "SUGGESTIONS",
    "JsonFormatter",
]

EVENTS = Counter("streams_events", "Input records processed", ["role"])
OUTPUTS = Counter("streams_outputs", "Output records produced", ["role", "topic"])
DEAD_LETTERS = Counter("streams_dead_letters", "Records sent to the dead-letter topic", ["role"])
DROPPED = Counter(
    "streams_dropped", "Valid records dropped on purpose (docs/reliability.md)", ["role", "reason"]
)
SUGGESTIONS = Counter("streams_suggestions", "Circuit-breaker suggestions", ["action"])
BOOK_RESYNCS = Counter("streams_book_resyncs", "Book resyncs", ["venue"])
CHECKSUM_FAILURES = Counter("streams_checksum_failures", "Checksum mismatches", ["venue"])
INSTRUMENTS = Gauge("streams_instruments", "Instruments with live state", ["role"])
CONSUMER_LAG = Gauge("streams_consumer_lag", "Records behind the high watermark", ["partition"])
LATENCY_SECONDS = Histogram(
    "streams_latency_seconds",
    "Connector receive_time to output produced",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_SECONDS = Histogram("streams_batch_seconds", "Time to process one input batch", ["role"])
SINK_WRITE_SECONDS = Histogram(
    "streams_sink_write_seconds", "Time of one durable sink write", ["sink"]
)


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)
