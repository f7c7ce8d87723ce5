"""(d) The same job as the product's worker, on Quix Streams: decode, `streams.core` pipeline,
encode, produce. Runs in its own virtual environment (Quix pins its own confluent-kafka), with
this repository on PYTHONPATH for the pure core.

usage: quix_job.py BOOTSTRAP IN_TOPIC OUT_TOPIC STATS.json LIMIT BUDGET_S [--latency]
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

from common import Meter, decoder, encoder
from quixstreams import Application, message_context

from streams.core.pipeline import Pipeline
from streams.core.types import BookDelta, SourcePosition


def to_delta(r: dict[str, Any]) -> BookDelta:
    return BookDelta(
        exchange=r["exchange"], symbol=r["symbol"], venue_symbol=r["venue_symbol"],
        event_time=r["event_time"], receive_time=r["receive_time"], is_snapshot=r["is_snapshot"],
        bid_prices=tuple(r["bid_prices"]), bid_sizes=tuple(r["bid_sizes"]),
        ask_prices=tuple(r["ask_prices"]), ask_sizes=tuple(r["ask_sizes"]),
        sequence=r["sequence"], prev_sequence=r["prev_sequence"], checksum=r["checksum"],
    ).validate()  # fmt: skip


def main() -> None:
    bootstrap, in_topic, out_topic, stats, limit, budget = sys.argv[1:7]
    latency = "--latency" in sys.argv
    meter = Meter(int(limit), float(budget), stats)
    decode, encode = decoder("book_delta"), encoder("imbalance")
    pipeline = Pipeline()
    app = Application(
        broker_address=bootstrap, consumer_group=f"bench-quix-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", loglevel="WARNING",
    )  # fmt: skip
    source = app.topic(in_topic, key_deserializer="bytes", value_deserializer="bytes")
    sink = app.topic(out_topic, key_serializer="bytes", value_serializer="bytes")

    def process(value: bytes) -> list[bytes]:
        context = message_context()
        position = SourcePosition(context.topic, context.partition, context.offset)
        output = pipeline.process(to_delta(decode(value)), position)
        if meter.tick() and not latency:
            app.stop()
        return [] if output.imbalance is None else [encode(output.imbalance)]

    sdf = app.dataframe(source)
    sdf = sdf.apply(process, expand=True)
    sdf.to_topic(sink)
    app.run()
    meter.write()


if __name__ == "__main__":
    main()
