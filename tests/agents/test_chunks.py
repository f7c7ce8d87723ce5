"""The chunks transport against the exact faust-streaming it was written for: the upstream source
of every method it replaces or relies on is unchanged, and a chunk's ack marks all its offsets
so Faust's own commit logic commits exactly up to the chunk's end."""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import inspect
from collections import defaultdict
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport import by_url
from faust.transport.consumer import Consumer
from faust.types import TP
from intervaltree import IntervalTree

from streams.agents.chunks import (
    OVERRIDDEN,
    Chunk,
    ChunkConsumer,
    ChunkMessage,
    Transport,
    chunked_topics,
)

pytestmark = pytest.mark.unit

FAUST_VERSION = "0.15.3"
# sha256 (first 16 hex digits) of the upstream source. A change means: read the new upstream
# method, carry its change into streams/agents/chunks.py, then update the hash here.
UPSTREAM = {
    "faust.transport.consumer:Consumer.getmany": "4b168d84882a70d6",
    "faust.transport.consumer:Consumer._drain_messages": "44a2500309e83c63",
    "faust.transport.consumer:Consumer.ack": "5fcf41cf45153475",
    "faust.transport.drivers.aiokafka:Transport": "966a67907f33524d",
    "faust.transport.consumer:ThreadDelegateConsumer._getmany": "f9d47aa9010b5ff2",
    # not replaced, but the chunk ack relies on how they treat the acked offsets
    "faust.transport.consumer:Consumer._new_offset": "1d2c7ea89a7ad4f1",
    "faust.transport.consumer:Consumer._add_gap": "4df2573ded7c1c2c",
    "faust.types.tuples:Message.ack": "4751b72c4ed84153",
    # holding input back until the rebalance ends relies on where recovery clears the queues,
    # on which partitions a fetch asks for, and on how a seek moves the read offset
    "faust.tables.recovery:Recovery.on_recovery_completed": "6ef567acf072e46d",
    "faust.transport.consumer:Consumer._wait_next_records": "6218e1969a636b3f",
    "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread._seek_wait": "9d221e816d940467",
}


def _source_hash(target: str) -> str:
    module, _, qualname = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]


def test_faust_is_the_pinned_version() -> None:
    assert version("faust-streaming") == FAUST_VERSION


@pytest.mark.parametrize("target", sorted(UPSTREAM))
def test_upstream_source_of_each_overridden_method_is_unchanged(target: str) -> None:
    assert _source_hash(target) == UPSTREAM[target], f"{target} changed upstream"


def test_every_override_is_checked() -> None:
    assert set(OVERRIDDEN) <= set(UPSTREAM)


def test_the_transport_is_registered_under_chunks() -> None:
    assert by_url("chunks://localhost:9092") is Transport
    assert Transport.Consumer is ChunkConsumer


class _FakeConsumer:
    """Just the state `ChunkConsumer.ack` and Faust's `_new_offset` read and write."""

    ack = ChunkConsumer.ack
    _ack_range = ChunkConsumer._ack_range
    _new_offset = Consumer._new_offset

    def __init__(self, committed: int | None) -> None:
        self._committed_offset: dict[Any, int | None] = defaultdict(lambda: committed)
        self._acked: dict[Any, list[int]] = defaultdict(list)
        self._acked_index: dict[Any, set[int]] = defaultdict(set)
        self._gap: dict[Any, Any] = defaultdict(IntervalTree)
        self._unacked_messages: set[Any] = set()
        self._n_acked = 0
        self._waiting_for_ack = None
        self.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True))


def _commit(consumer: Any, tp: TP) -> int | None:
    """Faust's commit step: the new offset, if any, becomes the committed one."""
    offset = consumer._new_offset(tp)
    if offset is not None:
        consumer._committed_offset[tp] = offset
    return offset


def _message(tp: Any, offsets: list[int]) -> ChunkMessage:
    chunk = Chunk(tp.partition, offsets, [None] * len(offsets), [b""] * len(offsets))
    return ChunkMessage(tp, chunk, 1)


@pytest.mark.parametrize("committed", [None, 0, 100])
def test_acked_chunks_commit_up_to_the_last_contiguous_chunk(committed: int | None) -> None:
    tp = TP("in", 0)
    consumer: Any = _FakeConsumer(committed)
    start = committed or 0
    first, second, third = (
        _message(tp, list(range(start, start + 5))),
        _message(tp, list(range(start + 5, start + 9))),
        _message(tp, list(range(start + 9, start + 12))),
    )
    assert consumer.ack(first)
    assert not consumer.ack(first)  # one ack per chunk
    assert consumer.ack(third)  # out of order: the commit stops at the hole
    assert _commit(consumer, tp) == start + 5
    assert _commit(consumer, tp) is None  # the second chunk is not acked yet
    assert consumer.ack(second)
    assert _commit(consumer, tp) == start + 12
    assert consumer._n_acked == 12


class _FakeFetcher:
    """Just what `ChunkConsumer.getmany` reads: one fetch's records, the app's rebalance state."""

    getmany = ChunkConsumer.getmany
    _hold_back = ChunkConsumer._hold_back
    _interrupted = ChunkConsumer._interrupted
    _fetching = ChunkConsumer._fetching
    _chunked = ChunkConsumer._chunked
    _messages = ChunkConsumer._messages

    def __init__(self, records: dict[TP, list[Any]], *, rebalancing: bool) -> None:
        self.app = SimpleNamespace(
            consumer_generation_id=1,
            rebalancing=rebalancing,
            monitor=SimpleNamespace(track_tp_end_offset=lambda tp, highwater: None),
        )
        chunked_topics(self.app, "in")  # type: ignore[arg-type]
        self.flow_active = True
        self.should_stop = False
        self._read_offset: dict[TP, int | None] = defaultdict(lambda: None)
        self._buffered_partitions: set[TP] = set()
        self._records = records
        self.sought: dict[TP, int] = {}

    async def _wait_next_records(self, timeout: float) -> tuple[dict[TP, list[Any]], set[TP]]:  # noqa: ASYNC109
        return self._records, set(self._records)

    def _is_changelog_tp(self, tp: TP) -> bool:
        return tp.topic == "changelog"

    def highwater(self, tp: TP) -> int:
        return 0

    def _to_message(self, tp: TP, record: Any) -> tuple[str, int]:
        return tp.topic, record.offset

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        self.sought.update(partitions)


def _fetch(*, rebalancing: bool) -> tuple[list[Any], dict[TP, int]]:
    def records(offsets: range) -> list[Any]:
        return [SimpleNamespace(offset=o, key=b"k", value=b"v") for o in offsets]

    fetched = {TP("in", 0): records(range(5, 8)), TP("changelog", 0): records(range(2))}
    fetcher = _FakeFetcher(fetched, rebalancing=rebalancing)

    async def drain() -> list[Any]:
        return [message async for _, message in fetcher.getmany(timeout=1.0)]

    return asyncio.run(drain()), fetcher.sought


def test_input_fetched_while_rebalancing_is_sought_back_not_handed_over() -> None:
    # the end of recovery clears the agents' queues: input handed over before it would be lost
    messages, sought = _fetch(rebalancing=True)
    assert messages == [("changelog", 0), ("changelog", 1)]  # recovery still reads changelogs
    assert sought == {TP("in", 0): 5}


def test_input_is_handed_over_as_one_chunk_once_the_rebalance_has_ended() -> None:
    messages, sought = _fetch(rebalancing=False)
    assert [m.value.offsets for m in messages if isinstance(m, ChunkMessage)] == [[5, 6, 7]]
    assert [m for m in messages if not isinstance(m, ChunkMessage)] == [
        ("changelog", 0), ("changelog", 1),
    ]  # fmt: skip
    assert sought == {}
