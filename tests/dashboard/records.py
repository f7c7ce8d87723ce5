"""Output records for the live-view tests, computed by the real pipeline from real inputs.

`stress_outputs` is the flash-crash stress scenario (it makes WATCH, THROTTLE, HALT and two
RESUME suggestions); `recording_outputs` is the real Kraken recording (ten instruments).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from streams.codec import TopicCodecs
from streams.config import Settings, shared_recordings
from streams.core.pipeline import Pipeline
from streams.core.types import BookDelta, SourcePosition
from streams.simulate.scenarios import run_scenario
from streams.sources.spec import open_source
from streams.transport import KafkaOutputSink

RECORDINGS = shared_recordings()
KRAKEN = RECORDINGS / "KRAKEN.ws.50.0"
STRESS = "flash_crash"
STRESS_INSTRUMENT = "sim:SIM-USD"


@dataclass(frozen=True, slots=True)
class Output:
    """One pipeline output, in input order: an imbalance record or a suggestion."""

    kind: str  # "imbalance" or "suggestion"
    record: dict[str, Any]

    @property
    def key(self) -> bytes:
        return f"{self.record['exchange']}:{self.record['symbol']}".encode()


def _outputs(items: Iterable[tuple[BookDelta, SourcePosition]]) -> tuple[Output, ...]:
    pipeline = Pipeline()
    outputs: list[Output] = []
    for delta, position in items:
        result = pipeline.process(delta, position)
        if result.imbalance is not None:
            outputs.append(Output("imbalance", result.imbalance))
        outputs.extend(Output("suggestion", s) for s in result.suggestions)
    return tuple(outputs)


@functools.cache
def stress_outputs(topic: str = "book-deltas") -> tuple[Output, ...]:
    deltas = run_scenario(STRESS, 0)
    return _outputs((d, SourcePosition(topic, 0, i)) for i, d in enumerate(deltas))


@functools.cache
def recording_outputs() -> tuple[Output, ...]:
    return _outputs(open_source(f"raw:KRAKEN:{KRAKEN}"))


class OutputProducer:
    """Produce pipeline outputs to the imbalance and suggestion topics with the real codec."""

    def __init__(self, settings: Settings) -> None:
        codecs = TopicCodecs.register(settings)
        topics = settings.topics
        self._targets = {
            "imbalance": (topics.imbalance, codecs.imbalance),
            "suggestion": (topics.suggestions, codecs.suggestion),
        }
        self._sink = KafkaOutputSink(settings)
        self.imbalance = 0
        self.suggestions: list[str] = []

    def stream(self, outputs: Iterable[Output], chunk: int = 200) -> None:
        """Produce in chunks, each flushed before the next: the page sees records arrive live."""
        pending = 0
        for output in outputs:
            topic, codec = self._targets[output.kind]
            self._sink.produce(topic, output.key, codec.encode(output.record))
            if output.kind == "imbalance":
                self.imbalance += 1
            else:
                self.suggestions.append(output.record["suggestion_id"])
            pending += 1
            if pending == chunk:
                self._sink.flush()
                pending = 0
        self._sink.flush()
