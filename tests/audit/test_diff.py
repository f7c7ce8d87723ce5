"""The comparison keeps live records of another configuration apart: counted per config hash,
never listed as a difference per record."""

from __future__ import annotations

import pytest

from streams.audit.audit import AuditOutcome
from streams.audit.diff import compare_records
from streams.audit.replay import ReplayResult

pytestmark = pytest.mark.unit


def _records(ids: range, config_hash: str, value: float = 1.0) -> list[dict[str, object]]:
    return [{"record_id": f"t/0/{i}", "config_hash": config_hash, "x": value} for i in ids]


def test_live_records_of_another_config_are_a_class_of_their_own() -> None:
    replayed = _records(range(10), "new")
    live = _records(range(4), "new") + _records(range(4, 10), "old", value=2.0)
    comparison = compare_records("imbalance", replayed, live, "record_id", "new")
    assert comparison.matched == 4
    assert comparison.differences == []
    assert comparison.other_config == {"old": 6}
    assert not comparison.ok


def test_without_a_config_hash_every_record_is_compared() -> None:
    replayed = _records(range(3), "new")
    live = _records(range(3), "old")
    comparison = compare_records("imbalance", replayed, live, "record_id")
    assert [d.kind for d in comparison.differences] == ["changed"] * 3
    assert comparison.other_config == {}


def test_a_missing_record_is_still_missing_next_to_other_config_records() -> None:
    replayed = _records(range(5), "new")
    live = _records(range(3), "old")
    comparison = compare_records("imbalance", replayed, live, "record_id", "new")
    assert [(d.kind, d.record_id) for d in comparison.differences] == [
        ("missing", "t/0/3"), ("missing", "t/0/4"),
    ]  # fmt: skip


def test_the_audit_refuses_only_when_no_live_record_shares_the_config() -> None:
    replay = ReplayResult(config_hash="new")
    every = compare_records(
        "i", _records(range(3), "new"), _records(range(3), "old"), "record_id", "new"
    )
    empty = compare_records("s", [], [], "suggestion_id", "new")
    message = AuditOutcome(replay, every, empty, None).config_mismatch()
    assert message is not None
    assert "old (3 records)" in message
    assert "new" in message
    some = compare_records(
        "i", _records(range(3), "new"), _records(range(1), "new") + _records(range(1, 3), "old"),
        "record_id", "new",
    )  # fmt: skip
    assert AuditOutcome(replay, some, empty, None).config_mismatch() is None
    clean = compare_records(
        "i", _records(range(3), "new"), _records(range(3), "new"), "record_id", "new"
    )
    assert AuditOutcome(replay, clean, empty, None).config_mismatch() is None
