"""The offline shell: a file of book deltas through the core, to JSON-lines files.

It runs the same `Pipeline` as the Kafka workers and the audit replay, so for the same input its
records equal theirs field for field (the input coordinates aside: a file has no Kafka offsets).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.core.pipeline import Pipeline, PipelineOutput
from streams.core.pipeline_config import PipelineConfig
from streams.core.types import BookDelta, SourcePosition
from streams.sources.spec import open_source

__all__ = ["ComputeSummary", "compute_to_files", "dump_record", "run_pipeline"]

_PROGRESS_EVERY = 100_000


@dataclass(frozen=True, slots=True)
class ComputeSummary:
    """What one offline run read and wrote."""

    deltas: int
    imbalance: int
    suggestions: int

    def __str__(self) -> str:
        return (
            f"read {self.deltas} book deltas, wrote {self.imbalance} imbalance records "
            f"and {self.suggestions} suggestions"
        )


def dump_record(record: dict[str, Any]) -> str:
    """Serialise one output record canonically: schema field order, shortest exact floats."""
    return json.dumps(record, separators=(",", ":"), allow_nan=False)


def run_pipeline(
    items: Iterable[tuple[BookDelta, SourcePosition]], pipeline: Pipeline | None = None
) -> Iterator[PipelineOutput]:
    pipeline = pipeline or Pipeline()
    for delta, position in items:
        yield pipeline.process(delta, position)


def compute_to_files(
    source: str,
    output: str | Path,
    suggestions: str | Path | None = None,
    config: PipelineConfig | None = None,
    instruments: str | Path | None = None,
) -> ComputeSummary:
    config = config or PipelineConfig()
    pipeline = Pipeline(config.metrics, config.breaker)
    deltas = imbalance = suggestion_count = 0
    sugg_file = Path(suggestions).open("w", encoding="utf-8") if suggestions else nullcontext()  # noqa: SIM115 (entered on the next line)
    with Path(output).open("w", encoding="utf-8") as out, sugg_file as sugg:
        for result in run_pipeline(_progress(open_source(source, instruments)), pipeline):
            deltas += 1
            if result.imbalance is not None:
                out.write(dump_record(dict(result.imbalance)) + "\n")
                imbalance += 1
            for suggestion in result.suggestions:
                suggestion_count += 1
                if sugg is not None:
                    sugg.write(dump_record(dict(suggestion)) + "\n")
    return ComputeSummary(deltas, imbalance, suggestion_count)


def _progress(
    items: Iterator[tuple[BookDelta, SourcePosition]],
) -> Iterator[tuple[BookDelta, SourcePosition]]:
    for count, item in enumerate(items, start=1):
        if count % _PROGRESS_EVERY == 0:
            print(f"... {count} book deltas", file=sys.stderr, flush=True)
        yield item
