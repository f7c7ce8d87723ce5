"""The offline shell: a file of book deltas through the core, to JSON-lines files.

It runs the same `Pipeline` as the Kafka workers and the audit replay, so for the same input its
records equal theirs field for field (the input coordinates aside: a file has no Kafka offsets).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from streams.core.pipeline import Pipeline, PipelineOutput
from streams.core.pipeline_config import PipelineConfig
from streams.core.types import BookDelta, SourcePosition
from streams.exceptions import StreamsError
from streams.sources.raw import Rejects
from streams.sources.spec import open_source

__all__ = [
    "ComputeSummary",
    "OutputFileError",
    "atomic_text_file",
    "compute_to_files",
    "dump_record",
    "run_pipeline",
]

_PROGRESS_EVERY = 100_000


class OutputFileError(StreamsError):
    """An output file that cannot be written where asked."""


@dataclass(frozen=True, slots=True)
class ComputeSummary:
    """What one offline run read and wrote."""

    deltas: int
    imbalance: int
    suggestions: int
    rejects: Rejects = field(default_factory=Rejects)  # malformed input frames, skipped

    def __str__(self) -> str:
        text = (
            f"read {self.deltas} book deltas, wrote {self.imbalance} imbalance records "
            f"and {self.suggestions} suggestions"
        )
        if self.rejects.count:
            text += f"; REFUSED {self.rejects.count} malformed input frames, e.g.\n  " + (
                "\n  ".join(self.rejects.examples)
            )
        return text


def dump_record(record: dict[str, Any]) -> str:
    """Serialise one output record canonically: schema field order, shortest exact floats."""
    return json.dumps(record, separators=(",", ":"), allow_nan=False)


def run_pipeline(
    items: Iterable[tuple[BookDelta, SourcePosition]], pipeline: Pipeline | None = None
) -> Iterator[PipelineOutput]:
    pipeline = pipeline or Pipeline()
    for delta, position in items:
        yield pipeline.process(delta, position)


@contextmanager
def atomic_text_file(path: str | Path) -> Iterator[IO[str]]:
    """Write `path` whole or not at all: a failed run leaves no partial file (an old one stays).

    The text goes to a hidden file beside it, renamed over `path` only when the block succeeds.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputFileError(f"cannot write {target}: it is a directory")
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        handle = temporary.open("w", encoding="utf-8")
    except OSError as error:  # name the file asked for, not the hidden one
        raise OutputFileError(f"cannot write {target}: {error.strerror}") from None
    try:
        with handle:
            yield handle
        temporary.replace(target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def compute_to_files(
    source: str,
    output: str | Path,
    suggestions: str | Path | None = None,
    config: PipelineConfig | None = None,
    instruments: str | Path | None = None,
) -> ComputeSummary:
    """Run a source through the pipeline into JSON-lines files, written only if the run succeeds."""
    config = config or PipelineConfig()
    pipeline = Pipeline(config.metrics, config.breaker)
    deltas = imbalance = suggestion_count = 0
    rejects = Rejects()
    with ExitStack() as files:
        out = files.enter_context(atomic_text_file(output))
        sugg = files.enter_context(atomic_text_file(suggestions)) if suggestions else None
        items = open_source(source, instruments, rejects)
        for result in run_pipeline(_progress(items), pipeline):
            deltas += 1
            if result.imbalance is not None:
                out.write(dump_record(dict(result.imbalance)) + "\n")
                imbalance += 1
            for suggestion in result.suggestions:
                suggestion_count += 1
                if sugg is not None:
                    sugg.write(dump_record(dict(suggestion)) + "\n")
    return ComputeSummary(deltas, imbalance, suggestion_count, rejects)


def _progress(
    items: Iterator[tuple[BookDelta, SourcePosition]],
) -> Iterator[tuple[BookDelta, SourcePosition]]:
    for count, item in enumerate(items, start=1):
        if count % _PROGRESS_EVERY == 0:
            print(f"... {count} book deltas", file=sys.stderr, flush=True)
        yield item
