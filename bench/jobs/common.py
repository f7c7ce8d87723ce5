"""What every benchmark job shares: plain Avro (fastavro, no registry client) and its stats file.

Imports only the standard library and fastavro, so the Quix Streams job can use it from its own
virtual environment.
"""

from __future__ import annotations

import json
import resource
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import fastavro

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def schema(name: str) -> Any:
    return fastavro.parse_schema(_plain(json.loads((SCHEMAS / f"{name}.avsc").read_text())))


def decoder(name: str) -> Any:
    parsed = schema(name)

    def decode(value: bytes) -> dict[str, Any]:
        # Confluent wire format: skip the magic byte and the 4-byte schema id
        return fastavro.schemaless_reader(BytesIO(value[5:]), parsed, None)  # type: ignore[return-value]

    return decode


def encoder(name: str) -> Any:
    parsed = schema(name)
    header = b"\x00\x00\x00\x00\x01"

    def encode(record: dict[str, Any]) -> bytes:
        buffer = BytesIO()
        buffer.write(header)
        fastavro.schemaless_writer(buffer, parsed, record)
        return buffer.getvalue()

    return encode


def peak_rss_mb() -> float:
    """VmHWM of this process: unlike ru_maxrss it is not inherited from the parent over exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Meter:
    """Counts messages; times and CPU from the first message on; latencies when asked."""

    def __init__(self, limit: int, budget_s: float, stats_path: str) -> None:
        self.limit, self.budget_s, self.stats_path = limit, budget_s, stats_path
        self.count = 0
        self.first_wall = self.first_cpu = 0.0
        self.latencies_us: list[tuple[int, int]] = []  # (receive_time, latency)

    def tick(self, n: int = 1) -> bool:
        """Count n messages; True when the limit or the time budget is reached."""
        if self.count == 0:
            self.first_wall, self.first_cpu = time.perf_counter(), time.process_time()
        self.count += n
        return self.count >= self.limit or time.perf_counter() - self.first_wall >= self.budget_s

    def write(self, **extra: Any) -> None:
        wall = time.perf_counter() - self.first_wall if self.count else 0.0
        cpu = time.process_time() - self.first_cpu if self.count else 0.0
        stats = {
            "messages": self.count, "wall_s": wall, "cpu_s": cpu,
            "peak_rss_mb": peak_rss_mb(),
            "latencies_us": self.latencies_us, **extra,
        }  # fmt: skip
        Path(self.stats_path).write_text(json.dumps(stats))
