"""The worker's CPU work in a child process, so Faust's event loop never waits for the GIL.

Faust's per-message machinery (fetch, events, acks, heartbeats, table writes, web pages) costs a
core of its own at full speed; in one process it shares the GIL with decode, core and encode, and
both halves run about twice as slow as alone. The child owns the pipeline state and the output
producer; the parent sends each raw batch and gets back the batch's stats and the checkpoints that
fell due, which it writes to the changelog-backed table.

Calls go over one pipe whose child end only the child holds, so the child's death is an EOF on
the parent's end even in the middle of a message (ProcessPoolExecutor keeps both ends in the
parent and can hang there for ever). The child is killed with its parent (PR_SET_PDEATHSIG), so a
SIGKILLed worker leaves nothing behind producing for its partitions.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import multiprocessing
import os
import queue
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from streams.agents.chunks import Chunk
from streams.agents.exceptions import ComputeProcessError
from streams.agents.processor import BatchStats, DeltaBatchProcessor, InputRecord
from streams.codec import TopicCodecs
from streams.config import Settings
from streams.core.pipeline import Pipeline
from streams.transport import KafkaOutputSink, read_partition_range

__all__ = ["BatchResult", "ComputeProcess"]

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What the parent needs back from one batch."""

    stats: BatchStats
    checkpoints: dict[str, bytes]  # instrument -> packed checkpoint, for partitions now due
    instruments: int  # instruments held, for the gauge


class ComputeProcess:
    """One child process holding a `DeltaBatchProcessor`; calls run there in submission order.

    A sender thread writes requests (so a large batch never blocks the event loop while the child
    is busy with the previous one) and a reader thread resolves the futures in order. If the
    child dies, every pending and later call fails with `ComputeProcessError` and `on_failure`
    is called at once, even when no call is pending (an idle worker must not look healthy).
    """

    def __init__(
        self,
        settings: Settings,
        pipeline: Pipeline,
        checkpoint_every: int,
        on_failure: Callable[[ComputeProcessError], None] | None = None,
    ) -> None:
        # spawn, not fork: the parent runs threads (Faust, librdkafka) that fork would copy
        # mid-flight. Started from this thread: PDEATHSIG follows the thread that created it.
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        self._process = context.Process(
            target=_serve, args=(theirs, settings, pipeline, checkpoint_every),
            name="streams-compute",
        )  # fmt: skip
        self._process.start()
        theirs.close()  # from now on only the child holds its end: its death is our EOF
        self._connection = ours
        status, value = _receive(ours, self._process)
        if status != "ready":
            raise ComputeProcessError(f"the compute process failed to start: {value!r}")
        self.pid: int = value
        self._pending: deque[Future[Any]] = deque()
        self._outbox: queue.SimpleQueue[tuple[str, tuple[Any, ...]]] = queue.SimpleQueue()
        self._lock = threading.Lock()  # pending futures in the order of the requests
        self._send_lock = threading.Lock()  # one writer on the pipe at a time
        self._failure: ComputeProcessError | None = None
        self._on_failure = on_failure  # called from a thread, as soon as the child is gone
        threading.Thread(target=self._send_loop, name="compute-send", daemon=True).start()
        threading.Thread(target=self._receive_loop, name="compute-receive", daemon=True).start()
        atexit.register(self.close)

    def submit_chunk(self, topic: str, chunk: Chunk) -> asyncio.Future[BatchResult]:
        """Queue a chunk now (calls run in submission order) and return its future result.

        The chunk crosses the pipe as its three lists (one pickle of a few bytes objects per
        record), not as one Python object per record.
        """
        payload = (chunk.partition, chunk.offsets, chunk.keys, chunk.values)
        return asyncio.wrap_future(self._submit("process", topic, payload))

    async def restore_partition(
        self, topic: str, partition: int, checkpoints: Mapping[str, bytes], first_offset: int
    ) -> tuple[int, int]:
        """Return (records re-applied, instruments restored) of a (re)assigned partition."""
        future = self._submit("restore", topic, partition, dict(checkpoints), first_offset)
        result: tuple[int, int] = await asyncio.wrap_future(future)
        return result

    async def release_partition(self, partition: int) -> None:
        await asyncio.wrap_future(self._submit("release", partition))

    def close(self) -> None:
        """Tell the child to exit after the call it is running (at exit: before Python joins it)."""
        with self._lock:
            self._failure = self._failure or ComputeProcessError("the compute process was closed")
        with self._send_lock, contextlib.suppress(OSError, ValueError):  # already gone
            self._connection.send(None)

    def _submit(self, name: str, *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._failure is not None:
                raise self._failure
            self._pending.append(future)
            self._outbox.put((name, args))
        return future

    def _send_loop(self) -> None:
        while True:
            request = self._outbox.get()
            try:
                with self._send_lock:
                    self._connection.send(request)
            except (OSError, ValueError) as error:  # the child is gone
                self._fail(error)
                return

    def _receive_loop(self) -> None:
        while True:
            try:
                status, value = self._connection.recv()
            except (EOFError, OSError) as error:
                self._fail(error)
                return
            with self._lock:
                future = self._pending.popleft()
            if status == "ok":
                future.set_result(value)
            else:
                future.set_exception(value)

    def _fail(self, error: BaseException) -> None:
        self._process.join(timeout=1)
        failure = ComputeProcessError(
            f"the compute process (pid {self._process.pid}) is gone "
            f"(exit code {self._process.exitcode}): {type(error).__name__}: {error}"
        )
        with self._lock:
            first = self._failure is None  # not after close(): that exit was asked for
            self._failure = self._failure or failure
            pending, self._pending = list(self._pending), deque()
        for future in pending:
            if not future.done():
                future.set_exception(failure)
        if first and self._on_failure is not None:
            self._on_failure(failure)


def _receive(connection: Connection, process: multiprocessing.process.BaseProcess) -> Any:
    try:
        return connection.recv()
    except (EOFError, OSError) as error:
        process.join(timeout=5)
        raise ComputeProcessError(
            f"the compute process exited with {process.exitcode} before it was ready"
        ) from error


# -- in the child -------------------------------------------------------------------------------
def _serve(
    connection: Connection, settings: Settings, pipeline: Pipeline, checkpoint_every: int
) -> None:
    """Answer calls in order until the parent says stop or goes away (EOF, PDEATHSIG)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: the child still ends on EOF when the parent exits
        pass
    # A signal to the whole group (Ctrl-C, `timeout`, systemd's control-group kill) is the
    # parent's to handle: it finishes or abandons the batch in flight, then we go with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        processor = DeltaBatchProcessor(
            pipeline, TopicCodecs.register(settings), settings.topics, KafkaOutputSink(settings),
            checkpoint_every=checkpoint_every,
        )  # fmt: skip
    except Exception as error:
        connection.send(("error", repr(error)))
        return
    calls: dict[str, Callable[..., Any]] = {
        "process": lambda topic, payload: _process(processor, topic, *payload),
        "restore": lambda *args: _restore(processor, settings, *args),
        "release": processor.release_partition,
    }
    connection.send(("ready", os.getpid()))
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        if request is None:
            return
        name, args = request
        try:
            reply: tuple[str, Any] = ("ok", calls[name](*args))
        except Exception as error:
            reply = ("error", error)
        try:
            try:
                connection.send(reply)
            except (TypeError, AttributeError, ValueError) as error:  # an unpicklable exception
                connection.send(("error", ComputeProcessError(f"{type(error).__name__}: {error}")))
        except OSError:  # the parent is gone
            return


def _process(
    processor: DeltaBatchProcessor,
    topic: str,
    partition: int,
    offsets: list[int],
    keys: list[bytes | None],
    values: list[bytes | None],
) -> BatchResult:
    records = [
        InputRecord(topic, partition, o, k, v)
        for o, k, v in zip(offsets, keys, values, strict=True)
    ]
    stats = processor.process_batch(records)
    checkpoints: dict[str, bytes] = {}
    if processor.checkpoint_due(partition):
        checkpoints = processor.checkpoint(partition)
    return BatchResult(stats, checkpoints, len(processor.pipeline.instruments()))


def _restore(
    processor: DeltaBatchProcessor,
    settings: Settings,
    topic: str,
    partition: int,
    checkpoints: dict[str, bytes],
    first_offset: int,
) -> tuple[int, int]:
    def read_range(p: int, start: int, end: int) -> Iterable[InputRecord]:
        for m in read_partition_range(settings, topic, p, start, end):
            yield InputRecord(topic, p, m.offset() or 0, m.key(), m.value())

    replayed = processor.restore_partition(partition, checkpoints, first_offset, read_range)
    return replayed, len(processor.instruments(partition))
