"""The Faust application: one agent over `book-deltas`, a checkpoint table, health and metrics.

CPU work (decode, core, encode) runs in a worker thread, one batch at a time, so the event loop
keeps heartbeating and no rebalance storm starts under load. Table writes stay on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.agents.processor import DeltaBatchProcessor, InputRecord
from streams.codec import TopicCodecs
from streams.config import Settings
from streams.core.pipeline import Pipeline
from streams.exceptions import StreamsError
from streams.observability import (
    BATCH_SECONDS,
    DEAD_LETTERS,
    EVENTS,
    INSTRUMENTS,
    LATENCY_SECONDS,
    OUTPUTS,
    SUGGESTIONS,
)
from streams.transport import (
    KafkaOutputSink,
    partition_count,
    read_partition_range,
    resume_offset,
)

__all__ = ["WorkerConfig", "build_app"]

log = logging.getLogger(__name__)
ROLE = "worker"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerConfig:
    """How one worker consumes, batches, checkpoints and serves."""

    app_id: str = "streams-worker"
    partitions: int = 4
    batch_size: int = 2_000
    batch_within_s: float = 0.05
    checkpoint_every: int = 5_000
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    processing_guarantee: str = "at_least_once"
    # A dead worker's partitions move after this long without heartbeats (Kafka's default, 45 s,
    # is an outage of that length for its instruments).
    session_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.checkpoint_every < 1 or self.partitions < 1:
            raise ValueError("batch_size, checkpoint_every and partitions must be >= 1")
        if self.processing_guarantee not in ("at_least_once", "exactly_once"):
            raise ValueError(f"unknown processing_guarantee {self.processing_guarantee!r}")


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
    # The checkpoint changelog must have exactly as many partitions as the input topic: Faust
    # recovers the changelog partitions that match the assigned input partitions, so with any
    # other count some checkpoints would land in partitions nobody restores.
    try:
        partitions = partition_count(settings, settings.topics.book_deltas)
    except StreamsError:
        partitions = config.partitions  # the topic does not exist yet: Faust creates it so
    log.info("input %s has %d partitions", settings.topics.book_deltas, partitions)
    app = faust.App(
        config.app_id,
        broker=[f"kafka://{server}" for server in bootstrap.split(",")],
        broker_credentials=_credentials(settings),
        store="memory://",
        topic_partitions=partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        processing_guarantee=config.processing_guarantee,
        web_enabled=True,
        web_host=config.web_host,
        web_port=config.web_port,
        web_in_thread=False,
        table_standby_replicas=0,
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=min(3.0, config.session_timeout_s / 4),
        key_serializer="raw",  # table changelogs carry our own bytes (instrument id, checkpoint)
        value_serializer="raw",
    )
    deltas = app.topic(
        settings.topics.book_deltas, key_serializer="raw", value_serializer="raw",
        partitions=partitions,
    )  # fmt: skip
    # Keys are the instrument ids as bytes; use_partitioner puts each checkpoint in the changelog
    # partition of its source partition (both murmur2 of the same key bytes).
    checkpoints = app.Table(
        "instrument-checkpoints", default=None, key_type=bytes, value_type=bytes,
        partitions=partitions, use_partitioner=True,
    )  # fmt: skip
    codecs = TopicCodecs.register(settings)
    processor = DeltaBatchProcessor(
        pipeline, codecs, settings.topics, KafkaOutputSink(settings),
        checkpoint_every=config.checkpoint_every,
    )  # fmt: skip
    state = _WorkerState(processor, settings, checkpoints, config.app_id)

    @app.agent(deltas)
    async def process_deltas(stream: faust.StreamT[Any]) -> None:
        batches = stream.take_events(  # type: ignore[attr-defined]  # not in StreamT's stub
            config.batch_size, within=config.batch_within_s
        )
        async for events in batches:
            records = [
                InputRecord(
                    e.message.topic, e.message.partition, e.message.offset,
                    e.message.key, e.message.value,
                )
                for e in events
            ]  # fmt: skip
            await state.handle_batch(records)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # Faust passes revoked positionally
    async def on_revoked(app_: faust.App, revoked: set[TP], **_: Any) -> None:
        await state.release({tp.partition for tp in revoked if tp.topic == deltas.get_topic_name()})

    _add_pages(app, state)
    app.conf.streams_state = state  # tests and the CLI reach the running state here
    return app


class _WorkerState:
    """What the agent shares with the rebalance hooks and the web pages."""

    def __init__(
        self, processor: DeltaBatchProcessor, settings: Settings, table: Any, app_id: str
    ) -> None:
        self.processor = processor
        self.settings = settings
        self.app_id = app_id  # Faust's consumer group
        self.table = table
        self.ready: set[int] = set()
        self.lock = asyncio.Lock()
        self.batches = 0
        self.records = 0
        self.logged_at = 0.0

    async def handle_batch(self, records: list[InputRecord]) -> None:
        loop = asyncio.get_running_loop()
        async with self.lock:
            for partition in sorted({r.partition for r in records} - self.ready):
                first = min(r.offset for r in records if r.partition == partition)
                log.info(
                    "partition %s[%d]: first record %d, restoring",
                    records[0].topic,
                    partition,
                    first,
                )
                await loop.run_in_executor(None, self._restore, partition, records[0].topic, first)
                self.ready.add(partition)
            with BATCH_SECONDS.labels(ROLE).time():
                stats = await loop.run_in_executor(None, self.processor.process_batch, records)
            self.batches += 1
            self.records += stats.records
            _record_metrics(stats)
            now = loop.time()
            if now - self.logged_at >= 10.0:  # a heartbeat in the log: progress per partition
                self.logged_at = now
                log.info(
                    "%d records in %d batches; last offsets %s", self.records, self.batches,
                    {r.partition: r.offset for r in records},
                )  # fmt: skip
            for partition in sorted({r.partition for r in records}):
                if self.processor.checkpoint_due(partition):
                    for instrument, data in self.processor.checkpoint(partition).items():
                        self.table[instrument.encode()] = data
            INSTRUMENTS.labels(ROLE).set(len(self.processor.pipeline.instruments()))

    def _restore(self, partition: int, topic: str, first_offset: int) -> None:
        # Resume from the group's committed offset, not from the first record handed to us: a
        # batch buffered before a rebalance can start past it, and what lies between was
        # committed by nobody (re-emitted below) or is already in the checkpointed state.
        committed = resume_offset(self.settings, self.app_id, topic, partition)
        stored = {
            (k.decode() if isinstance(k, bytes) else str(k)): v
            for k, v in list(self.table.items())
            if v is not None
        }

        def read_range(p: int, start: int, end: int) -> Iterable[InputRecord]:
            for m in read_partition_range(self.settings, topic, p, start, end):
                yield InputRecord(topic, p, m.offset() or 0, m.key(), m.value())

        replayed = self.processor.restore_partition(partition, stored, committed, read_range)
        log.info(
            "partition %s[%d] restored: %d instruments from checkpoints, %d records re-applied, "
            "resuming at %d (first record handed: %d)",
            topic, partition, len(self.processor.instruments(partition)), replayed,
            committed, first_offset,
        )  # fmt: skip

    async def release(self, partitions: set[int]) -> None:
        async with self.lock:
            for partition in sorted(partitions):
                self.processor.release_partition(partition)
                self.ready.discard(partition)


def _record_metrics(stats: Any) -> None:
    EVENTS.labels(ROLE).inc(stats.records)
    DEAD_LETTERS.labels(ROLE).inc(stats.dead_letters)
    OUTPUTS.labels(ROLE, "imbalance").inc(stats.imbalance)
    OUTPUTS.labels(ROLE, "suggestions").inc(stats.suggestions)
    for action in stats.suggestion_actions:
        SUGGESTIONS.labels(action).inc()
    for latency_us in stats.latencies_us:
        LATENCY_SECONDS.observe(latency_us / 1e6)


def _add_pages(app: faust.App, state: _WorkerState) -> None:
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
        ready = bool(app.consumer.assignment()) if app.consumer else False
        body = {"ready": ready, "partitions": sorted(state.ready), "batches": state.batches}
        return web.json(body, status=200 if ready else 503)
