"""Compare recomputed records with the live topics, record for record, by deterministic id."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Difference", "TopicComparison", "compare_records"]


@dataclass(frozen=True, slots=True)
class Difference:
    """One record that is missing, extra, changed, or inconsistent between duplicates."""

    kind: str  # missing | extra | changed | inconsistent-duplicate
    record_id: str
    fields: tuple[tuple[str, Any, Any], ...] = ()  # (field, replayed, live)

    def describe(self) -> str:
        if not self.fields:
            return f"{self.kind}: {self.record_id}"
        changes = "; ".join(f"{name}: replay={a!r} live={b!r}" for name, a, b in self.fields)
        return f"{self.kind}: {self.record_id}: {changes}"


@dataclass(slots=True)
class TopicComparison:
    """The outcome for one output topic."""

    topic: str
    replayed: int = 0
    live: int = 0
    matched: int = 0
    differences: list[Difference] = field(default_factory=list)
    # live records made with another configuration: config_hash -> count, never compared
    other_config: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.other_config


def _same(a: Any, b: Any) -> bool:
    # Bit-for-bit equality, except NaN == NaN (never produced, but never a false alarm either).
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def _changed_fields(
    replayed: dict[str, Any], live: dict[str, Any]
) -> tuple[tuple[str, Any, Any], ...]:
    names = list(replayed) + [name for name in live if name not in replayed]
    return tuple(
        (name, replayed.get(name), live.get(name))
        for name in names
        if not _same(replayed.get(name), live.get(name))
    )


def compare_records(
    topic: str,
    replayed: Iterable[dict[str, Any]],
    live: Iterable[dict[str, Any]],
    id_field: str,
    config_hash: str | None = None,
) -> TopicComparison:
    """Match records by id; at-least-once duplicates in the live topic must be identical.

    With `config_hash`, live records stamped with another hash are counted per hash in
    `other_config` instead of compared: different parameters give different numbers, and a
    difference per record would bury the one fact that matters (the configurations differ).
    """
    comparison = TopicComparison(topic)
    expected: dict[str, dict[str, Any]] = {}
    for record in replayed:
        expected[record[id_field]] = record
        comparison.replayed += 1
    seen: dict[str, dict[str, Any]] = {}
    elsewhere: set[str] = set()  # ids only live records of another configuration have
    for record in live:
        comparison.live += 1
        record_id = record[id_field]
        other = str(record.get("config_hash"))
        if config_hash is not None and other != config_hash:
            comparison.other_config[other] = comparison.other_config.get(other, 0) + 1
            elsewhere.add(record_id)
            continue
        first = seen.setdefault(record_id, record)
        if first is not record and _changed_fields(first, record):
            comparison.differences.append(
                Difference("inconsistent-duplicate", record_id, _changed_fields(first, record))
            )
    for record_id in sorted(expected.keys() | seen.keys()):
        if record_id not in seen and record_id in elsewhere:
            continue  # made live with other parameters: counted in other_config
        if record_id not in seen:
            comparison.differences.append(Difference("missing", record_id))
        elif record_id not in expected:
            comparison.differences.append(Difference("extra", record_id))
        else:
            changes = _changed_fields(expected[record_id], seen[record_id])
            if changes:
                comparison.differences.append(Difference("changed", record_id, changes))
            else:
                comparison.matched += 1
    return comparison
