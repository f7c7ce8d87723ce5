"""(b) A straightforward Faust agent: one event at a time, dict books, plain-Python metrics.

usage: faust_naive.py BOOTSTRAP IN_TOPIC OUT_TOPIC STATS.json LIMIT BUDGET_S [--latency]
"""

from __future__ import annotations

import os
import sys
import uuid

import faust
from common import Meter, decoder, encoder
from naive import NaiveInstrument, on_delta


def main() -> None:
    bootstrap, in_topic, out_topic, stats, limit, budget = sys.argv[1:7]
    latency = "--latency" in sys.argv
    meter = Meter(int(limit), float(budget), stats)
    decode, encode = decoder("book_delta"), encoder("imbalance")
    books: dict[str, NaiveInstrument] = {}
    app = faust.App(
        f"bench-naive-{uuid.uuid4().hex[:8]}", broker=f"kafka://{bootstrap}", store="memory://",
        web_enabled=False, consumer_auto_offset_reset="earliest", topic_partitions=4,
        key_serializer="raw", value_serializer="raw",
    )  # fmt: skip
    source = app.topic(in_topic, key_serializer="raw", value_serializer="raw")
    sink = app.topic(out_topic, key_serializer="raw", value_serializer="raw")

    @app.agent(source)
    async def job(stream: faust.StreamT) -> None:
        async for key, value in stream.items():
            record = on_delta(books, decode(value))
            if record is not None:
                await sink.send(key=key, value=encode(record))
            if meter.tick() and not latency:
                meter.write()
                os._exit(0)  # the measurement is written; no graceful shutdown to wait for

    sys.argv = [sys.argv[0], "worker", "-l", "warn"]
    app.main()


if __name__ == "__main__":
    main()
