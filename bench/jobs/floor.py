"""(a) The floor: a plain confluent-kafka consumer that consumes and Avro-decodes, nothing else.

usage: floor.py BOOTSTRAP TOPIC STATS.json LIMIT BUDGET_S [--latency]
With --latency it runs until SIGTERM and records (decode time - receive_time) per message.
"""

from __future__ import annotations

import signal
import sys
import time
import uuid

from common import Meter, decoder
from confluent_kafka import Consumer


def main() -> None:
    bootstrap, topic, stats, limit, budget = sys.argv[1:6]
    latency = "--latency" in sys.argv
    meter = Meter(int(limit), float(budget), stats)
    decode = decoder("book_delta")
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"bench-floor-{uuid.uuid4().hex[:8]}",
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
    })  # fmt: skip
    consumer.subscribe([topic])
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    done = False
    while not done and not stop:
        for message in consumer.consume(num_messages=1000, timeout=0.01 if latency else 0.5):
            if message.error() is not None:
                continue
            record = decode(message.value())
            if latency:
                received = record["receive_time"]
                meter.latencies_us.append((received, time.time_ns() // 1000 - received))
            if meter.tick() and not latency:
                done = True
                break
    meter.write()
    consumer.close()


if __name__ == "__main__":
    main()
