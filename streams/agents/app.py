"""The Faust application: one agent over `book-deltas`, a checkpoint table, health and metrics.

The agent receives one event per fetched chunk of a partition (`agents/chunks.py`, the
`chunks://` transport), not one per record. CPU work (decode, core, encode, produce) runs in a
child process (`agents/compute.py`), one chunk at a time, so the event loop keeps heartbeating on
its own core and no rebalance storm starts under load. Table writes stay on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import ssl
import time
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.agents.chunks import Chunk, chunked_topics
from streams.agents.compute import BatchResult, ComputeProcess
from streams.agents.exceptions import ComputeProcessError, WorkerConfigError
from streams.config import Settings
from streams.core.pipeline import Pipeline
from streams.exceptions import StreamsError
from streams.observability import (
    BATCH_SECONDS,
    DEAD_LETTERS,
    DROPPED,
    EVENTS,
    INSTRUMENTS,
    LATENCY_SECONDS,
    OUTPUTS,
    SUGGESTIONS,
)
from streams.transport import BrokerWatch, partition_count, resume_offset

__all__ = ["WorkerConfig", "build_app"]

log = logging.getLogger(__name__)
ROLE = "worker"
EXIT_COMPUTE_FAILED = 70  # EX_SOFTWARE: the compute process died or a batch failed


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerConfig:
    """How one worker consumes, batches, checkpoints and serves."""

    app_id: str = "streams-worker"
    partitions: int = 4
    batch_size: int = 2_000  # records per fetch, so at most this many in one chunk
    batch_within_s: float = 0.02  # how long a fetch waits for more records
    checkpoint_every: int = 5_000
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    processing_guarantee: str = "at_least_once"
    # A dead worker's partitions move after this long without heartbeats (Kafka's default, 45 s,
    # is an outage of that length for its instruments).
    session_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("batch_size", "checkpoint_every", "partitions"):
            if not isinstance(value := getattr(self, name), int) or value < 1:
                raise WorkerConfigError(
                    f"WorkerConfig.{name} must be an integer >= 1, got {value!r}"
                )
        for name in ("batch_within_s", "session_timeout_s"):
            if not 0 < (value := getattr(self, name)) < math.inf:
                raise WorkerConfigError(
                    f"WorkerConfig.{name} must be a number of seconds > 0, got {value!r}"
                )
        if not 0 <= self.web_port <= 65535:
            raise WorkerConfigError(
                f"WorkerConfig.web_port must be in 0..65535, got {self.web_port!r}"
            )
        if self.processing_guarantee not in ("at_least_once", "exactly_once"):
            raise WorkerConfigError(f"unknown processing_guarantee {self.processing_guarantee!r}")


def _credentials(settings: Settings) -> Any:
    if settings.security_protocol == "PLAINTEXT":
        return None
    context = ssl.create_default_context(cafile=settings.ssl_ca_location)
    if settings.ssl_certificate_location:
        context.load_cert_chain(settings.ssl_certificate_location, settings.ssl_key_location)
    if settings.security_protocol in ("SSL",):
        return faust.SSLCredentials(context)
    password = settings.sasl_password.reveal() if settings.sasl_password else ""
    mechanism = (settings.sasl_mechanism or "PLAIN").upper()
    if mechanism.startswith("SCRAM"):
        return faust.SASLCredentials(
            username=settings.sasl_username, password=password, mechanism=mechanism,
            ssl_context=context if settings.security_protocol == "SASL_SSL" else None,
        )  # fmt: skip
    return faust.SASLCredentials(
        username=settings.sasl_username, password=password,
        ssl_context=context if settings.security_protocol == "SASL_SSL" else None,
    )  # fmt: skip


def build_app(settings: Settings, config: WorkerConfig, pipeline: Pipeline) -> faust.App:
    """Wire the agent, the checkpoint table and the web pages around one core pipeline."""
    bootstrap = settings.require_bootstrap()
    partitions = _input_partitions(settings, config)
    app = _faust_app(settings, config, bootstrap, partitions)
    deltas = app.topic(
        settings.topics.book_deltas, key_serializer="raw", value_serializer="raw",
        partitions=partitions,
    )  # fmt: skip
    chunked_topics(app, settings.topics.book_deltas)
    # Keys are the instrument ids as bytes; use_partitioner puts each checkpoint in the changelog
    # partition of its source partition (both murmur2 of the same key bytes).
    checkpoints = app.Table(
        "instrument-checkpoints", default=None, key_type=bytes, value_type=bytes,
        partitions=partitions, use_partitioner=True,
    )  # fmt: skip
    state: _WorkerState

    def compute_failed(error: ComputeProcessError) -> None:  # from the compute reader thread
        app.loop.call_soon_threadsafe(lambda: asyncio.ensure_future(state.stop(error, 0)))

    compute = ComputeProcess(settings, pipeline, config.checkpoint_every, compute_failed)
    state = _WorkerState(app, compute, settings, checkpoints, config.app_id)
    state.broker = BrokerWatch(settings)
    _add_agent(app, deltas, config, state)
    _add_pages(app, state)
    app.conf.streams_state = state  # tests and the CLI reach the running state here
    return app


def _input_partitions(settings: Settings, config: WorkerConfig) -> int:
    """The partition count of the input topic, which the checkpoint changelog must share.

    Faust recovers the changelog partitions that match the assigned input partitions, so with any
    other count some checkpoints would land in partitions nobody restores.
    """
    try:
        partitions = partition_count(settings, settings.topics.book_deltas)
    except StreamsError:
        partitions = config.partitions  # the topic does not exist yet: Faust creates it so
    log.info("input %s has %d partitions", settings.topics.book_deltas, partitions)
    return partitions


def _faust_app(
    settings: Settings, config: WorkerConfig, bootstrap: str, partitions: int
) -> faust.App:
    """The Faust application: in-memory tables, raw bytes, and only the web pages we document."""
    return faust.App(
        config.app_id,
        broker=[f"chunks://{server}" for server in bootstrap.split(",")],
        broker_credentials=_credentials(settings),
        store="memory://",
        topic_partitions=partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        processing_guarantee=config.processing_guarantee,
        web_enabled=True,
        web_host=config.web_host,  # the address Faust advertises to other workers
        web_bind=config.web_host,  # the address it listens on (Faust's default: every interface)
        web_port=config.web_port,
        # Only the pages the product documents (`_add_pages`); Faust's /router/ and /table/ pages
        # would show table contents and partition maps to anyone who reaches the port.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        web_in_thread=False,
        table_standby_replicas=0,
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=min(3.0, config.session_timeout_s / 4),
        broker_max_poll_records=config.batch_size,
        consumer_max_fetch_size=4 * 1024 * 1024,  # per partition: a full chunk in one fetch
        stream_buffer_maxsize=64,  # events: chunks of the input, records of the changelogs
        key_serializer="raw",  # table changelogs carry our own bytes (instrument id, checkpoint)
        value_serializer="raw",
    )


def _add_agent(
    app: faust.App, deltas: faust.TopicT, config: WorkerConfig, state: _WorkerState
) -> None:
    """The agent that hands each batch of deltas to the compute child, and the rebalance hook."""

    @app.agent(deltas)
    async def process_deltas(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            # the stream acks the chunk when the next one is taken; the extra reference holds
            # its offsets' commit until the child has flushed its outputs (`_complete`)
            event.message.incref()
            await state.submit(event.message.topic, event.value, event.message)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # Faust passes revoked positionally
    async def on_revoked(app_: faust.App, revoked: set[TP], **_: Any) -> None:
        await state.release({tp.partition for tp in revoked if tp.topic == deltas.get_topic_name()})


class _WorkerState:
    """What the agent shares with the rebalance hooks and the web pages."""

    IN_FLIGHT = 2  # one batch computing, one queued behind it: the child never waits for Faust

    def __init__(
        self, app: faust.App, compute: ComputeProcess, settings: Settings, table: Any, app_id: str
    ) -> None:
        self.app = app
        self.compute = compute
        self.in_flight = asyncio.Semaphore(self.IN_FLIGHT)
        self.completion: asyncio.Future[None] | None = None
        self.failure: BaseException | None = None
        self.settings = settings
        self.app_id = app_id  # Faust's consumer group
        self.table = table
        self.ready: set[int] = set()
        self.lock = asyncio.Lock()
        self.batches = 0
        self.records = 0
        self.logged_at = 0.0
        self.broker: BrokerWatch | None = None

    async def submit(self, topic: str, chunk: Chunk, message: Any) -> None:
        """Queue a chunk in the child and return, so Faust fetches the next one meanwhile.

        At most `IN_FLIGHT` chunks wait in the child; each one's offsets are acknowledged to
        Faust (and so committed) only after the child flushed its outputs.
        """
        if self.failure is not None:
            raise self.failure
        async with self.lock:
            try:
                if chunk.partition not in self.ready:
                    first = chunk.offsets[0]
                    log.info(
                        "partition %s[%d]: first record %d, restoring", topic, chunk.partition,
                        first,
                    )  # fmt: skip
                    await self._restore(topic, chunk.partition, first)
                    self.ready.add(chunk.partition)
                await self.in_flight.acquire()
                result = self.compute.submit_chunk(topic, chunk)
            except Exception as error:
                # Not only the child's death: a restore that failed (a Kafka query timing out
                # under load, an unreadable checkpoint) would crash the agent, Faust's
                # supervisor would restart it, and the worker would stay up and ready with its
                # chunk unacknowledged and never process another record. Exit instead.
                await self.stop(error, len(chunk.offsets))
                raise
            self.completion = asyncio.ensure_future(
                self._complete(result, chunk, message, self.completion)
            )

    async def _complete(
        self,
        result: asyncio.Future[BatchResult],
        chunk: Chunk,
        message: Any,
        previous: asyncio.Future[None] | None,
    ) -> None:
        started = time.perf_counter()
        try:
            if previous is not None:
                await previous  # table writes and acks in batch order
            done = await result
        except BaseException as error:
            await self.stop(error, len(chunk.offsets))
            raise
        finally:
            self.in_flight.release()
        BATCH_SECONDS.labels(ROLE).observe(time.perf_counter() - started)
        self.batches += 1
        self.records += done.stats.records
        _record_metrics(done)
        for instrument, data in done.checkpoints.items():
            self.table[instrument.encode()] = data
        message.ack(self.app.consumer)
        now = time.monotonic()
        if now - self.logged_at >= 10.0:  # a heartbeat in the log: progress per partition
            self.logged_at = now
            log.info(
                "%d records in %d chunks; last offset %d of partition %d", self.records,
                self.batches, chunk.offsets[-1], chunk.partition,
            )  # fmt: skip

    async def stop(self, error: BaseException, records: int) -> None:
        """The pipeline state or its outputs are lost: exit now, and let the supervisor restart us.

        Not Faust's graceful stop: it waits for every message in flight to be acknowledged, and
        acknowledging the failed batch would commit offsets whose outputs may not exist. Exiting
        leaves them uncommitted, so the next owner redoes them (at-least-once).
        """
        if self.failure is None:
            self.failure = error
            log.critical("%s (batch of %d records); the worker exits", error, records)
            logging.shutdown()
            os._exit(EXIT_COMPUTE_FAILED)

    async def _restore(self, topic: str, partition: int, first_offset: int) -> None:
        # Resume from the group's committed offset, not from the first record handed to us: a
        # batch buffered before a rebalance can start past it, and what lies between was
        # committed by nobody (re-emitted below) or is already in the checkpointed state.
        loop = asyncio.get_running_loop()
        committed = await loop.run_in_executor(
            None, resume_offset, self.settings, self.app_id, topic, partition
        )
        stored = {
            (k.decode() if isinstance(k, bytes) else str(k)): v
            for k, v in list(self.table.items())
            if v is not None
        }
        replayed, instruments = await self.compute.restore_partition(
            topic, partition, stored, committed
        )
        log.info(
            "partition %s[%d] restored: %d instruments from checkpoints, %d records re-applied, "
            "resuming at %d (first record handed: %d)",
            topic, partition, instruments, replayed, committed, first_offset,
        )  # fmt: skip

    async def release(self, partitions: set[int]) -> None:
        # Faust sends this signal only after `consumer.wait_empty()`: every batch in flight has
        # completed (outputs flushed, checkpoints written, offsets acked) before we forget state.
        async with self.lock:
            for partition in sorted(partitions):
                await self.compute.release_partition(partition)
                self.ready.discard(partition)


def _record_metrics(result: BatchResult) -> None:
    stats = result.stats
    INSTRUMENTS.labels(ROLE).set(result.instruments)
    EVENTS.labels(ROLE).inc(stats.records)
    DEAD_LETTERS.labels(ROLE).inc(stats.dead_letters)
    for reason, count in stats.dropped.items():
        DROPPED.labels(ROLE, reason).inc(count)
    OUTPUTS.labels(ROLE, "imbalance").inc(stats.imbalance)
    OUTPUTS.labels(ROLE, "suggestions").inc(stats.suggestions)
    for action in stats.suggestion_actions:
        SUGGESTIONS.labels(action).inc()
    for latency_us in stats.latencies_us:
        LATENCY_SECONDS.observe(latency_us / 1e6)


def _add_pages(app: faust.App, state: _WorkerState) -> None:
    # With its other pages off, Faust still mounts a status index at "/": not ours to serve.
    blueprints = app.web.blueprints._enabled  # no public way to drop it
    blueprints[:] = [(prefix, bp) for prefix, bp in blueprints if "production_index" not in str(bp)]

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type; the text format is UTF-8 anyway
        content_type = CONTENT_TYPE_LATEST.split("; charset")[0]
        return web.bytes(generate_latest(), content_type=content_type)

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        # ready: partitions assigned and the broker answering (the consumer's own retries hide
        # a lost broker; the assignment outlives it)
        assigned = bool(app.consumer.assignment()) if app.consumer else False
        broker = state.broker is not None and state.broker.reachable
        ready = assigned and broker
        body = {"ready": ready, "partitions": sorted(state.ready), "batches": state.batches,
                "broker_reachable": broker}  # fmt: skip
        return web.json(body, status=200 if ready else 503)
