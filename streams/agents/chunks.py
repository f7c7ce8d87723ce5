"""A Faust transport that hands an agent one event per fetched chunk of a partition.

Faust turns every Kafka record into a Message, an Event, a trip through the channel queue, an
awaited callback with three tasks (`wait_first`), monitor hooks and an ack under a lock: about
100 CPU-us per record, ten times what the whole computation costs. For topics the app names in
`chunked_topics(app, ...)`, this consumer turns each partition's part of one fetch into a single
`ChunkMessage` whose value is a `Chunk` (offsets, keys, values). Everything else (changelogs
during recovery, any other agent) stays one message per record.

Faust's guarantees hold per chunk: a chunk is acknowledged in one step once its refcount drops to
zero (the agent holds a reference until its outputs are flushed), which marks all its offsets
acked, and Faust's own commit logic (`_new_offset`: contiguous acked offsets only, gaps from
compacted or skipped offsets) commits them in order. The generation check on rebalance, the
active-partition filter (flow control during recovery) and the suspend-flow wait are kept. One
thing is added: input records are handed over only once a rebalance has ended (`_hold_back`),
because Faust clears the agents' queues at the very end of recovery.

Registered as the `chunks://` transport (entry point `faust.transports`). Overrides five
methods of faust-streaming's consumer, pinned to one version; tests/agents/test_chunks.py hashes
their upstream source so an upgrade is a deliberate act.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, AppT, ConsumerMessage, Message
from faust.types.tuples import ack_lock
from mode import Service
from mode.utils.futures import notify

__all__ = ["Chunk", "ChunkConsumer", "ChunkMessage", "Transport", "chunked_topics"]

# The Faust methods this module replaces, for the upstream-source test.
OVERRIDDEN = {
    "faust.transport.consumer:Consumer.getmany": "ChunkConsumer.getmany",
    "faust.transport.consumer:Consumer._drain_messages": "ChunkConsumer._drain_messages",
    "faust.transport.consumer:Consumer.ack": "ChunkConsumer.ack",
    "faust.transport.consumer:ThreadDelegateConsumer._getmany": "ChunkConsumer._getmany",
    "faust.transport.drivers.aiokafka:Transport": "Transport",
}
_CHUNKED = "streams_chunked_topics"


@dataclass(frozen=True, slots=True)
class Chunk:
    """Consecutive records of one partition, as fetched: parallel lists, in offset order."""

    partition: int
    offsets: list[int]
    keys: list[bytes | None]
    values: list[bytes | None]


class ChunkMessage(ConsumerMessage):
    """One Faust message standing for a chunk; `offset` is its last record's offset."""

    __slots__ = ("first_offset",)

    def __init__(self, tp: TP, chunk: Chunk, generation_id: int | None) -> None:
        super().__init__(
            tp.topic, tp.partition, chunk.offsets[-1], None, None, None, None, chunk,  # type: ignore[arg-type]
            None, 0, 0, tp, generation_id=generation_id,
        )  # fmt: skip
        self.first_offset = chunk.offsets[0]


def chunked_topics(app: AppT, *topics: str) -> None:
    """Have the chunks transport deliver these topics in chunks (call before the app starts)."""
    setattr(app, _CHUNKED, frozenset(getattr(app, _CHUNKED, frozenset())) | set(topics))


def _chunk(tp: TP, records: list[Any], read_offset: int | None) -> Chunk | None:
    """The records Faust would deliver (offset >= its read offset), as one chunk."""
    if read_offset is not None and records[0].offset < read_offset:
        records = [r for r in records if r.offset >= read_offset]
        if not records:
            return None
    return Chunk(
        tp.partition,
        [r.offset for r in records],
        [r.key for r in records],
        [r.value for r in records],
    )


class ChunkConsumer(faust_aiokafka.Consumer):
    """The aiokafka consumer, delivering the app's chunked topics one chunk per partition."""

    def _chunked(self) -> frozenset[str]:
        return cast(frozenset[str], getattr(self.app, _CHUNKED, frozenset()))

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:  # noqa: ASYNC109 - Faust's signature
        """Faust's `getmany`, yielding chunked topics' records per partition as one message."""
        records, active_partitions = await self._wait_next_records(timeout)
        generation_id = self.app.consumer_generation_id
        if records is None or self.should_stop:
            return
        if not self.flow_active:
            await self._seek_back()
            return
        held = await self._hold_back(records)
        chunked = self._chunked()
        for tp, tp_records in records.items():
            if tp in held or not tp_records:
                continue
            if self._interrupted(tp, generation_id):
                break  # a rebalance started: Faust drops the rest of the fetch the same way
            if not self._fetching(tp, active_partitions):
                continue
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            for message in self._messages(tp, tp_records, generation_id, tp.topic in chunked):
                yield tp, message

    def _messages(
        self, tp: TP, records: list[Any], generation_id: int, chunked: bool
    ) -> Iterator[Message]:
        """One partition's part of a fetch: one chunk, or Faust's message per record."""
        if chunked:
            chunk = _chunk(tp, records, self._read_offset[tp])
            if chunk is not None:
                yield ChunkMessage(tp, chunk, generation_id)
            return
        for record in records:
            if self.app.consumer_generation_id != generation_id:
                return
            yield self._to_message(tp, record)

    def _interrupted(self, tp: TP, generation_id: int) -> bool:
        """A rebalance started since the fetch; its new assignment resets every position."""
        return (
            not self.flow_active
            or self.app.consumer_generation_id != generation_id
            or (self.app.rebalancing and not self._is_changelog_tp(tp))
        )

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:  # noqa: ASYNC109 - Faust's signature
        """Fetch only changelog partitions until the rebalance has ended (see `_hold_back`)."""
        if active_partitions is not None and self.app.rebalancing:
            active_partitions = {tp for tp in active_partitions if self._is_changelog_tp(tp)}
            if not active_partitions:  # an empty set would fetch every assigned partition
                await asyncio.sleep(min(timeout, 0.05))
                return {}
        return await super()._getmany(active_partitions, timeout)

    async def _hold_back(self, records: Mapping[TP, list[Any]]) -> set[TP]:
        """Input partitions fetched while Faust is still rebalancing: not delivered, sought back.

        Until the rebalance ends (`app.rebalancing`), what reaches an agent's queue can still be
        dropped unacked: the end of recovery resumes the input partitions, awaits the seek to the
        committed offsets, and only then resumes flow control, which clears the queues. The
        consumer's position is then past those records, and where nothing was committed yet that
        seek does not move it back, so they would never come again. Seeking each such partition
        back to its first fetched record hands them over on the first fetch after the rebalance.
        """
        if not self.app.rebalancing:
            return set()
        first = {
            tp: tp_records[0].offset
            for tp, tp_records in records.items()
            if tp_records and not self._is_changelog_tp(tp)
        }
        if first:
            try:
                await self.seek_wait(first)
            except Exception as ex:  # unassigned meanwhile: the new assignment resets its position
                self.log.warning(f"exception seeking back records fetched while rebalancing {ex}")
        return set(first)

    async def _seek_back(self) -> None:
        try:
            await self.perform_seek()
        except Exception as ex:
            self.log.warning(f"exception performing seek when flow not active {ex}")

    def _fetching(self, tp: TP, active_partitions: set[TP] | None) -> bool:
        return (
            active_partitions is None or tp in active_partitions or tp in self._buffered_partitions
        )

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - Faust's loop
        """Faust's fetch loop, one callback per chunk (Faust's four tasks now cost per chunk).

        Offsets below the read offset were already delivered (dropped, as Faust does); a jump
        past it is a gap Faust's commit logic skips (compacted or deleted records).
        """
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                await self.sleep(0)
                if self.should_stop:
                    continue
                since_yield = 0
                async for tp, message in self.getmany(timeout=1.0):
                    since_yield += 1
                    if since_yield > 100:
                        await asyncio.sleep(0)
                        since_yield = 0
                    await self._deliver(tp, message)
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _deliver(self, tp: TP, message: Message) -> None:
        """One message (a chunk or a record) of Faust's loop: gaps, periodic commit, callback."""
        r_offset = self._read_offset[tp]
        if r_offset is not None and message.offset < r_offset:
            self.log.dev("DROPPED MESSAGE ROFF %r", message.offset)
            return
        first = getattr(message, "first_offset", message.offset)
        if r_offset and first - r_offset > 1 and self.app.topics.acks_enabled_for(message.topic):
            await self._add_gap(tp, r_offset + 1, first - 1)
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()
        # as Faust does: a delivery still waiting (a full agent queue) when the flow is suspended
        # is given up, so nothing fetched before a rebalance reaches the agent after it
        await self.wait_first(self.callback(message), self.suspend_flow.wait())
        self._read_offset[tp] = message.offset

    def ack(self, message: Message) -> bool:
        """Faust's `ack`; a chunk marks every offset it stands for acknowledged at once."""
        first = getattr(message, "first_offset", None)
        if first is None:
            return super().ack(message)
        with ack_lock:
            if message.acked:
                return False
            message.acked = True
            if not self.app.topics.acks_enabled_for(message.topic):
                return False
            try:
                return self._ack_range(message, first, message.offset + 1)
            finally:
                notify(self._waiting_for_ack)

    def _ack_range(self, message: Message, start: int, end: int) -> bool:
        tp = message.tp
        committed = self._committed_offset[tp]
        if committed is not None:
            start = max(start, committed)
        index = self._acked_index[tp]
        offsets: Iterable[int] = range(start, end)
        if not index.isdisjoint(offsets):
            offsets = [o for o in offsets if o not in index]
        offsets = list(offsets)
        self._unacked_messages.discard(message)
        if not offsets:
            return False
        index.update(offsets)
        self._acked[tp].extend(offsets)
        self._n_acked += len(offsets)
        return True


class Transport(faust_aiokafka.Transport):
    """`chunks://host:port`: the aiokafka transport with the chunk consumer."""

    Consumer = ChunkConsumer
