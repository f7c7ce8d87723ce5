"""Output records for the live-view tests, computed by the real pipeline from real inputs.

`stress_outputs` is the flash-crash stress scenario (it makes WATCH, THROTTLE, HALT and two
RESUME suggestions); `recording_outputs` is the real Kraken recording (ten instruments).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.core.pipeline import Pipeline
from streams.core.types import BookDelta, SourcePosition
from streams.simulate.scenarios import run_scenario
from streams.sources.spec import open_source

RECORDINGS = Path(
    os.environ.get(
        "STREAMS_TEST_RECORDINGS",
        Path(__file__).resolve().parents[3] / "shared" / "data" / "exchange-recordings",
    )
)
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
