"""The worker's CPU work in a child process, so Faust's event loop never waits for the GIL.

Faust's per-message machinery (fetch, events, acks, heartbeats, table writes, web pages) costs a
core of its own at full speed; in one process it shares the GIL with decode, core and encode, and
both halves run about twice as slow as alone. The child owns the pipeline state and the output
producer; the parent sends each raw batch and gets back the batch's stats and the checkpoints that
fell due, which it writes to the changelog-backed table. The child is killed with its parent
(PR_SET_PDEATHSIG), so a SIGKILLed worker leaves nothing behind producing for its partitions.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import signal
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from streams.agents.processor import BatchStats, DeltaBatchProcessor, InputRecord
from streams.codec import TopicCodecs
from streams.config import Settings
from streams.core.pipeline import Pipeline
from streams.transport import KafkaOutputSink, read_partition_range

__all__ = ["BatchResult", "ComputeProcess"]

P = ParamSpec("P")
T = TypeVar("T")
_PR_SET_PDEATHSIG = 1
Row = tuple[int, int, bytes | None, bytes | None]  # partition, offset, key, value


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What the parent needs back from one batch."""

    stats: BatchStats
    checkpoints: dict[str, bytes]  # instrument -> packed checkpoint, for partitions now due
    instruments: int  # instruments held, for the gauge


class ComputeProcess:
    """One child process holding a `DeltaBatchProcessor`; calls run there one at a time."""

    def __init__(self, settings: Settings, pipeline: Pipeline, checkpoint_every: int) -> None:
        # spawn, not fork: the parent runs threads (Faust, librdkafka) that fork would copy
        # mid-flight. One worker process, so all calls see the same state, in order.
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(settings, pipeline, checkpoint_every),
        )
        # Start the child now, from this thread: PDEATHSIG follows the thread that created it.
        self._pool.submit(_ping).result()

    def submit_batch(self, topic: str, rows: Sequence[Row]) -> asyncio.Future[BatchResult]:
        """Queue a batch now (calls run in submission order) and return its future result."""
        return asyncio.wrap_future(self._pool.submit(_process, topic, list(rows)))

    async def restore_partition(
        self, topic: str, partition: int, checkpoints: Mapping[str, bytes], first_offset: int
    ) -> tuple[int, int]:
        """Return (records re-applied, instruments restored) of a (re)assigned partition."""
        return await self._call(_restore, topic, partition, dict(checkpoints), first_offset)

    async def release_partition(self, partition: int) -> None:
        await self._call(_release, partition)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    async def _call(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.wrap_future(self._pool.submit(function, *args, **kwargs))


# -- in the child -------------------------------------------------------------------------------
_processor: DeltaBatchProcessor | None = None
_settings: Settings | None = None


def _start(settings: Settings, pipeline: Pipeline, checkpoint_every: int) -> None:
    global _processor, _settings
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: the executor still ends the child when the parent exits cleanly
        pass
    # A signal to the whole group (Ctrl-C, `timeout`, systemd's control-group kill) is the
    # parent's to handle: it finishes or abandons the batch in flight, then we go with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _settings = settings
    _processor = DeltaBatchProcessor(
        pipeline, TopicCodecs.register(settings), settings.topics, KafkaOutputSink(settings),
        checkpoint_every=checkpoint_every,
    )  # fmt: skip


def _started() -> tuple[DeltaBatchProcessor, Settings]:
    if _processor is None or _settings is None:
        raise RuntimeError("the compute process was not initialised")
    return _processor, _settings


def _ping() -> bool:
    return _processor is not None


def _process(topic: str, rows: list[Row]) -> BatchResult:
    processor, _ = _started()
    stats = processor.process_batch([InputRecord(topic, p, o, k, v) for p, o, k, v in rows])
    checkpoints: dict[str, bytes] = {}
    for partition in sorted({row[0] for row in rows}):
        if processor.checkpoint_due(partition):
            checkpoints.update(processor.checkpoint(partition))
    return BatchResult(stats, checkpoints, len(processor.pipeline.instruments()))


def _restore(
    topic: str, partition: int, checkpoints: dict[str, bytes], first_offset: int
) -> tuple[int, int]:
    processor, settings = _started()

    def read_range(p: int, start: int, end: int) -> Iterable[InputRecord]:
        for m in read_partition_range(settings, topic, p, start, end):
            yield InputRecord(topic, p, m.offset() or 0, m.key(), m.value())

    replayed = processor.restore_partition(partition, checkpoints, first_offset, read_range)
    return replayed, len(processor.instruments(partition))


def _release(partition: int) -> None:
    _started()[0].release_partition(partition)
