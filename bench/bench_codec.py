"""The compute child's per-record pieces: Avro by fastavro against the compiled walk, the breaker.

Run: `.venv/bin/python bench/bench_codec.py`. Input: the Binance recording's deltas and the
imbalance records the pipeline makes of them; the breaker is fed the Bybit recording's records
and a simulated flash crash. CPU time per record, best of REPEATS. Prints; writes nothing. The
pure-Python breaker is `STREAMS_PURE_PYTHON=1` on a build without the compiled modules.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient

import streams.core.breaker as breaker_module
from streams.codec import RecordCodec, TopicCodecs, delta_to_record
from streams.config import Topics, shared_recordings
from streams.core.breaker import BreakerEngine
from streams.core.pipeline import Pipeline
from streams.core.types import SourcePosition
from streams.simulate.scenarios import run_scenario
from streams.sources.raw import read_raw

REPEATS = 5


def per_record_us(case: Callable[[], object], count: int) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        start = time.process_time()
        case()
        best = min(best, time.process_time() - start)
    return best / count * 1e6


def codec_rows(name: str, codec: RecordCodec, records: list[dict[str, Any]]) -> None:
    walk = codec._node  # the compiled walk; None makes the codec use fastavro alone
    encoded = [codec.encode(r) for r in records]
    for label, node in (("fastavro", None), ("walk", walk)):
        codec._node = node
        encode = per_record_us(lambda: [codec.encode(r) for r in records], len(records))
        decode = per_record_us(lambda: [codec.decode(b) for b in encoded], len(records))
        print(f"{name:10} {label:8} encode {encode:6.2f} µs  decode {decode:6.2f} µs")
    codec._node = walk


def main() -> None:
    recordings = shared_recordings()
    codecs = TopicCodecs.with_registry(
        SchemaRegistryClient.new_client({"url": "mock://bench-codec"}), Topics()
    )
    items = list(read_raw(None, recordings / "BINANCE.ws.1.0"))
    imbalance = [o.imbalance for o in Pipeline().process_many(items) if o.imbalance]
    codec_rows("book-delta", codecs.book_delta, [delta_to_record(d) for d, _ in items])
    codec_rows("imbalance", codecs.imbalance, imbalance)
    crash = run_scenario("flash_crash", 1)
    feed = list(read_raw(None, recordings / "BYBIT.jsonl.zst"))
    feed += [(d, SourcePosition("sim", 0, i)) for i, d in enumerate(crash)]
    records = [o.imbalance for o in Pipeline().process_many(feed) if o.imbalance]

    def breaker() -> None:
        engine = BreakerEngine()
        for record in records:
            engine.on_imbalance(record)

    built = "pure" if (breaker_module.__file__ or "").endswith(".py") else "compiled"
    print(f"breaker    {built:8} {per_record_us(breaker, len(records)):6.2f} µs per record")


if __name__ == "__main__":
    main()
