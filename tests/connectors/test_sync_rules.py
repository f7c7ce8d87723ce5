"""The pure sequence state machine, one scenario per venue rule."""

from __future__ import annotations

import pytest

from streams.core.sync import (
    Action,
    ConnectionSequence,
    InstrumentSync,
    SequenceNumbers,
    SequenceRule,
)

pytestmark = pytest.mark.unit


def _actions(steps: list) -> list[Action]:
    return [step.action for step in steps]


def test_binance_spot_buffers_until_snapshot_then_bridges() -> None:
    sync: InstrumentSync[str] = InstrumentSync(
        SequenceRule.BINANCE_SPOT, buffer_until_snapshot=True
    )
    assert _actions(sync.on_delta("old", SequenceNumbers(1, 5))) == [Action.BUFFER]
    assert _actions(sync.on_delta("bridge", SequenceNumbers(6, 12))) == [Action.BUFFER]

    steps = sync.on_snapshot("snapshot", 8)

    assert [(s.action, s.item) for s in steps] == [
        (Action.EMIT, "snapshot"),
        (Action.DROP_STALE, "old"),
        (Action.EMIT, "bridge"),
    ]
    assert _actions(sync.on_delta("next", SequenceNumbers(13, 14))) == [Action.EMIT]
    assert _actions(sync.on_delta("gap", SequenceNumbers(16, 17))) == [Action.RESYNC]
    assert sync.counters.gaps == 1
    assert sync.counters.resyncs == 1


def test_binance_spot_snapshot_older_than_every_delta_is_a_gap() -> None:
    sync: InstrumentSync[str] = InstrumentSync(
        SequenceRule.BINANCE_SPOT, buffer_until_snapshot=True
    )
    sync.on_delta("late", SequenceNumbers(20, 25))

    assert _actions(sync.on_snapshot("snapshot", 10)) == [Action.EMIT, Action.RESYNC]
    assert not sync.synced


def test_binance_futures_bridges_on_last_update_id_then_chains_pu() -> None:
    sync: InstrumentSync[str] = InstrumentSync(
        SequenceRule.BINANCE_FUTURES, buffer_until_snapshot=True
    )
    sync.on_snapshot("snapshot", 100)

    assert _actions(sync.on_delta("stale", SequenceNumbers(90, 99, 89))) == [Action.DROP_STALE]
    assert _actions(sync.on_delta("bridge", SequenceNumbers(95, 105, 94))) == [Action.EMIT]
    assert _actions(sync.on_delta("next", SequenceNumbers(106, 110, 105))) == [Action.EMIT]
    assert _actions(sync.on_delta("broken", SequenceNumbers(120, 130, 115))) == [Action.RESYNC]


def test_resync_keeps_the_gap_delta_buffered_for_the_next_rest_snapshot() -> None:
    sync: InstrumentSync[str] = InstrumentSync(
        SequenceRule.BINANCE_SPOT, buffer_until_snapshot=True
    )
    sync.on_snapshot("snapshot", 10)
    sync.on_delta("ok", SequenceNumbers(11, 12))
    sync.on_delta("gap", SequenceNumbers(20, 22))

    steps = sync.on_snapshot("fresh", 21)

    assert [(s.action, s.item) for s in steps] == [(Action.EMIT, "fresh"), (Action.EMIT, "gap")]


@pytest.mark.parametrize(
    ("rule", "good", "stale", "gap"),
    [
        (
            SequenceRule.CONTIGUOUS,
            SequenceNumbers(None, 11),
            SequenceNumbers(None, 10),
            SequenceNumbers(None, 13),
        ),
        (
            SequenceRule.CHAIN,
            SequenceNumbers(None, 17, 10),
            SequenceNumbers(None, 9, 3),
            SequenceNumbers(None, 40, 30),
        ),
    ],
)
def test_websocket_snapshot_rules(
    rule: SequenceRule, good: SequenceNumbers, stale: SequenceNumbers, gap: SequenceNumbers
) -> None:
    sync: InstrumentSync[str] = InstrumentSync(rule)
    assert _actions(sync.on_delta("early", good)) == [Action.DROP_UNSYNCED]
    sync.on_snapshot("snapshot", 10)

    assert _actions(sync.on_delta("good", good)) == [Action.EMIT]
    assert _actions(sync.on_delta("stale", stale)) == [Action.DROP_STALE]
    assert _actions(sync.on_delta("gap", gap)) == [Action.RESYNC]
    assert _actions(sync.on_delta("after", gap)) == [Action.DROP_UNSYNCED]
    assert sync.counters.gaps == 1
    assert sync.counters.unsynced_drops == 2


def test_none_rule_only_resyncs_on_checksum_mismatch() -> None:
    sync: InstrumentSync[str] = InstrumentSync(SequenceRule.NONE)
    sync.on_snapshot("snapshot", None)

    assert _actions(sync.on_delta("any", SequenceNumbers())) == [Action.EMIT]
    assert _actions(sync.on_checksum_mismatch("crc")) == [Action.RESYNC]
    assert sync.counters.checksum_failures == 1
    assert sync.counters.resyncs == 1
    assert sync.request_resync("already unsynced") == []


def test_buffer_keeps_newest_deltas_when_the_snapshot_is_late() -> None:
    sync: InstrumentSync[int] = InstrumentSync(
        SequenceRule.BINANCE_SPOT, buffer_until_snapshot=True, max_buffer=2
    )
    for number in range(1, 4):
        sync.on_delta(number, SequenceNumbers(number, number))

    steps = sync.on_snapshot(0, 1)

    assert [s.item for s in steps if s.action is Action.EMIT] == [0, 2, 3]
    assert sync.counters.buffer_overflows == 1


def test_connection_sequence_reports_skipped_numbers_once() -> None:
    connection = ConnectionSequence()

    assert [connection.observe(n) for n in (0, 1, 2, 4, 5, 3)] == [
        False,
        False,
        False,
        True,
        False,
        False,
    ]
    assert connection.gaps == 1


def test_monotonic_rule_drops_what_the_snapshot_holds_and_never_gaps() -> None:
    sync: InstrumentSync[str] = InstrumentSync(SequenceRule.MONOTONIC, buffer_until_snapshot=True)
    assert _actions(sync.on_delta("before", SequenceNumbers(None, 100))) == [Action.BUFFER]
    assert _actions(sync.on_delta("after", SequenceNumbers(None, 300))) == [Action.BUFFER]

    steps = sync.on_snapshot("snapshot", 200)

    assert [(s.action, s.item) for s in steps] == [
        (Action.EMIT, "snapshot"),
        (Action.DROP_STALE, "before"),
        (Action.EMIT, "after"),
    ]
    assert _actions(sync.on_delta("far", SequenceNumbers(None, 10_000))) == [Action.EMIT]
    assert _actions(sync.on_delta("same", SequenceNumbers(None, 10_000))) == [Action.DROP_STALE]
    assert sync.counters.gaps == 0
