"""Circuit-breaker engine on hand-made imbalance records: each rule, the state machine, replay."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
import pytest

from streams.core.breaker import RULES, BreakerConfig, BreakerEngine
from streams.core.exceptions import BreakerConfigError, BreakerInputError

pytestmark = pytest.mark.unit

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
MICROS = 1_000_000
START = 1_700_000_000 * MICROS
QUIET = BreakerConfig(velocity_watch_bps=1e9, velocity_throttle_bps=1e9)  # band tests only
ARMED = 200.0  # seconds: every baseline has its 180 s of history by then


def record(i: int, seconds: float, mid: float = 100.0, **fields: Any) -> dict[str, Any]:
    """One calm imbalance record at `seconds` after START; `fields` override any field."""
    depth = {
        f"depth_{side}_{band}bps": 1e6 for side in ("bid", "ask") for band in (10, 25, 50, 100)
    }
    values: dict[str, Any] = {
        "record_id": f"book-deltas/0/{i}", "exchange": "sim", "symbol": "BTC-USD",
        "event_time": START + round(seconds * MICROS), "receive_time": START,
        "source_topic": "book-deltas", "source_partition": 0, "source_offset": i,
        "config_hash": "cafe", "best_bid": mid - 0.005, "best_bid_size": 1.0,
        "best_ask": mid + 0.005, "best_ask_size": 1.0, "mid": mid, "spread_bps": 1.0,
        "weighted_mid": mid, "queue_imbalance": 0.0, "depth_imbalance_5": 0.0,
        "depth_imbalance_10": 0.0, "ofi": 0.0, "mlofi": None, "ofi_1s": 0.0, "ofi_10s": 0.0,
        **depth,
        "cost_to_trade": [
            {"notional": 10_000.0, "buy_bps": 1.0, "sell_bps": 1.0},
            {"notional": 100_000.0, "buy_bps": 3.0, "sell_bps": 3.0},
        ],
        "spread_z": 0.0, "depth_z": 0.0, "bid_levels": 200, "ask_levels": 200,
    }  # fmt: skip
    values.update(fields)
    return values


Shape = Callable[[float], dict[str, Any]]


def sequence(seconds: float, shape: Shape | None = None, step: float = 0.5) -> list[dict[str, Any]]:
    """Records every `step` seconds for `seconds`; `shape(t)` gives the fields to override at t."""
    out = []
    for i in range(int(seconds / step)):
        t = i * step
        out.append(record(i, t, **(shape(t) if shape else {})))
    return out


def run(records: Iterable[dict[str, Any]], config: BreakerConfig | None = None) -> list[dict]:
    engine = BreakerEngine(config)
    return [s for r in records for s in engine.on_imbalance(r)]


def transitions(suggestions: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(s["previous_state"], s["state"], s["action"]) for s in suggestions]


def at(suggestion: dict[str, Any]) -> float:
    return (suggestion["event_time"] - START) / MICROS


def rules(suggestion: dict[str, Any]) -> list[str]:
    return [reason["rule"] for reason in suggestion["reasons"]]


# ------------------------------------------------------------------------------ calm


def test_calm_market_with_small_noise_suggests_nothing() -> None:
    def noise(t: float) -> dict[str, Any]:
        wiggle = ((int(t * 2) * 7919) % 13 - 6) / 100.0
        return {"mid": 100.0 + wiggle, "depth_imbalance_10": wiggle, "ofi_10s": wiggle,
                "spread_bps": 1.0 + abs(wiggle), "depth_bid_25bps": 1e6 * (1 + wiggle)}  # fmt: skip

    assert run(sequence(900, noise)) == []


# ------------------------------------------------------------------------------ rules


def test_persistent_imbalance_confirmed_by_ofi_watches_after_ten_seconds() -> None:
    shape = lambda t: {"depth_imbalance_10": 0.7, "ofi_10s": 5.0} if t >= ARMED else {}  # noqa: E731

    out = run(sequence(ARMED + 30, shape))

    assert transitions(out) == [("NORMAL", "WATCH", "WATCH")]
    assert at(out[0]) == ARMED + 10
    reason = out[0]["reasons"][0]
    assert (reason["rule"], reason["value"], reason["threshold"]) == (
        "persistent_imbalance", 0.7, 0.6,
    )  # fmt: skip


def test_imbalance_against_the_order_flow_does_not_fire() -> None:
    shape = lambda t: {"depth_imbalance_10": 0.9, "ofi_10s": -5.0} if t >= ARMED else {}  # noqa: E731

    assert run(sequence(ARMED + 100, shape)) == []
    loose = BreakerConfig(imbalance_requires_ofi=False)
    assert transitions(run(sequence(ARMED + 100, shape), loose))[0][1] == "WATCH"


def test_severe_imbalance_held_thirty_seconds_throttles_the_flow() -> None:
    shape = lambda t: {"depth_imbalance_10": -0.9, "ofi_10s": -5.0} if t >= ARMED else {}  # noqa: E731

    out = run(sequence(ARMED + 40, shape))

    assert transitions(out) == [("NORMAL", "WATCH", "WATCH"), ("WATCH", "THROTTLE", "THROTTLE")]
    assert [at(s) for s in out] == [ARMED + 10, ARMED + 30]
    assert out[1]["reasons"][0]["threshold"] == 0.85


def test_imbalance_is_judged_against_the_books_own_usual_extreme() -> None:
    def lopsided(level: float) -> Shape:
        # this book leans 0.7 to the bid for one record every ten seconds, with flow
        def shape(t: float) -> dict[str, Any]:
            if t >= ARMED:
                return {"depth_imbalance_10": level, "ofi_10s": 5.0}
            return {"depth_imbalance_10": 0.7 if t % 10 == 0 else 0.1, "ofi_10s": 5.0}

        return shape

    # odds of 0.7 are 17:3; twice those are 34:3, an imbalance of 0.838
    assert run(sequence(ARMED + 60, lopsided(0.8))) == []
    out = run(sequence(ARMED + 25, lopsided(0.9)))
    assert transitions(out) == [("NORMAL", "WATCH", "WATCH")]
    assert out[0]["reasons"][0]["threshold"] == pytest.approx(31 / 37)


def _usual_spread(bps: float, stressed: Shape) -> Shape:
    return lambda t: {"spread_bps": bps} | stressed(t)


def test_abnormal_spread_is_a_multiple_of_its_usual_widest_and_above_the_floor() -> None:
    wide = _usual_spread(4.0, lambda t: {"spread_bps": 10.0} if ARMED <= t < ARMED + 4 else {})
    tight = lambda t: {"spread_bps": 4.0} if t >= ARMED else {}  # noqa: E731
    blowout = _usual_spread(4.0, lambda t: {"spread_bps": 40.0} if t >= ARMED else {})

    watch = run(sequence(ARMED + 10, wide))
    assert transitions(watch) == [("NORMAL", "WATCH", "WATCH")]
    assert at(watch[0]) == ARMED + 1
    assert watch[0]["reasons"][0]["threshold"] == 8.0  # twice the usual widest, 4 bps
    # 4x a 1 bps spread, but below the 5 bps floor: tick noise in a tight book
    assert run(sequence(ARMED + 10, tight)) == []
    assert transitions(run(sequence(ARMED + 10, blowout))) == [
        ("NORMAL", "THROTTLE", "WIDEN_BANDS")
    ]


def test_an_abnormal_spread_that_lasts_five_seconds_widens_the_bands() -> None:
    lasting = _usual_spread(4.0, lambda t: {"spread_bps": 10.0} if t >= ARMED else {})

    out = run(sequence(ARMED + 10, lasting))

    assert transitions(out) == [("NORMAL", "WATCH", "WATCH"), ("WATCH", "THROTTLE", "WIDEN_BANDS")]
    assert [at(s) for s in out] == [ARMED + 1, ARMED + 5]


def test_depth_depletion_below_its_usual_low_on_the_thinner_side() -> None:
    def withdraw(fraction_left: float) -> Shape:
        return lambda t: {"depth_bid_25bps": 1e6 * fraction_left} if t >= ARMED else {}

    watch = run(sequence(ARMED + 10, withdraw(0.4)))
    throttle = run(sequence(ARMED + 10, withdraw(0.1)))

    assert run(sequence(ARMED + 10, withdraw(0.6))) == []  # above half its usual low
    assert transitions(watch) == [("NORMAL", "WATCH", "WATCH")]
    assert at(watch[0]) == ARMED + 1
    reason = watch[0]["reasons"][0]
    assert (reason["rule"], reason["value"]) == ("depth_depletion", pytest.approx(0.6))
    assert watch[0]["metrics"]["depth_band_bps"] == 25.0
    assert transitions(throttle) == [("NORMAL", "THROTTLE", "WIDEN_BANDS")]


def test_a_band_that_empties_all_day_is_not_judged_the_next_wider_one_is() -> None:
    def thin(t: float) -> dict[str, Any]:
        # single orders come and go within 25 bps of the bid: empty every other ten seconds
        return {"depth_bid_25bps": 0.0 if int(t) % 20 < 10 else 1e6}

    pulled = lambda t: thin(t) | ({"depth_bid_50bps": 2e5} if t >= ARMED else {})  # noqa: E731

    assert run(sequence(ARMED + 60, thin)) == []
    out = run(sequence(ARMED + 10, pulled))
    assert transitions(out) == [("NORMAL", "THROTTLE", "WIDEN_BANDS")]
    assert out[0]["metrics"]["depth_band_bps"] == 50.0


def test_a_withdrawal_that_lasts_does_not_become_the_normal() -> None:
    shape = lambda t: {"depth_ask_25bps": 1e5} if t >= ARMED else {}  # noqa: E731

    out = run(sequence(ARMED + 1800, shape))

    assert transitions(out) == [("NORMAL", "THROTTLE", "WIDEN_BANDS")]


def test_baseline_rules_stay_silent_until_armed() -> None:
    def stress(start: float) -> Shape:
        fields = {"spread_bps": 40.0, "depth_bid_25bps": 1e4}
        return lambda t: fields if start <= t < start + 60 else {}

    assert run(sequence(ARMED + 100, stress(100.0))) == []  # 180 s of history arm the rules
    assert transitions(run(sequence(ARMED + 100, stress(ARMED)))) == [
        ("NORMAL", "THROTTLE", "WIDEN_BANDS"),
        ("THROTTLE", "NORMAL", "RESUME"),
    ]


def _ladder(buy: float | None, small: float = 1.0) -> list[dict[str, Any]]:
    return [
        {"notional": 10_000.0, "buy_bps": small, "sell_bps": 1.0},
        {"notional": 100_000.0, "buy_bps": buy, "sell_bps": 3.0},
    ]


def test_cost_to_trade_blowout_uses_the_largest_notional_the_book_fills() -> None:
    def cost(buy: float | None, small: float = 1.0) -> Shape:
        return lambda t: {"cost_to_trade": _ladder(buy, small)} if t >= ARMED else {}

    assert transitions(run(sequence(ARMED + 10, cost(60.0)))) == [("NORMAL", "WATCH", "WATCH")]
    assert transitions(run(sequence(ARMED + 10, cost(150.0))))[0][1:] == ("THROTTLE", "WIDEN_BANDS")
    assert run(sequence(ARMED + 10, cost(3.0, small=500.0))) == []
    small = BreakerConfig(cost_notional=10_000.0)
    assert transitions(run(sequence(ARMED + 10, cost(3.0, small=500.0)), small))[0][1] == "THROTTLE"
    unfillable = run(sequence(ARMED + 10, cost(None)))
    assert transitions(unfillable) == [("NORMAL", "THROTTLE", "WIDEN_BANDS")]
    assert unfillable[0]["reasons"][0]["value"] == 1e4


def test_structurally_expensive_book_is_not_a_cost_blowout_until_it_doubles() -> None:
    def ladder(buy: float) -> list[dict[str, Any]]:
        return [{"notional": 100_000.0, "buy_bps": buy, "sell_bps": 70.0}]

    def shape(stressed: float) -> Shape:
        return lambda t: {"cost_to_trade": ladder(stressed if t >= ARMED else 80.0)}

    assert run(sequence(ARMED + 100, shape(150.0))) == []
    assert transitions(run(sequence(ARMED + 10, shape(250.0)))) == [("NORMAL", "WATCH", "WATCH")]
    out = run(sequence(ARMED + 10, shape(400.0)))
    assert transitions(out) == [("NORMAL", "THROTTLE", "WIDEN_BANDS")]
    assert at(out[0]) == ARMED + 1


def test_a_feed_that_never_could_fill_the_notional_has_not_lost_it() -> None:
    # a top-of-book feed: 10 000 fills, 100 000 never did
    ladder = [
        {"notional": 10_000.0, "buy_bps": 2.0, "sell_bps": 2.0},
        {"notional": 100_000.0, "buy_bps": None, "sell_bps": None},
    ]

    assert run(sequence(ARMED + 600, lambda t: {"cost_to_trade": ladder})) == []


def _drift(rate_bps_per_s: float, start: float = 100.0) -> Shape:
    return lambda t: {"mid": 100.0 * (1 + rate_bps_per_s / 1e4 * max(0.0, t - start))}


def test_price_band_limit_state_held_fifteen_seconds_suggests_a_five_minute_halt() -> None:
    out = run(sequence(400, _drift(-10.0)), QUIET)

    assert transitions(out)[:2] == [
        ("NORMAL", "THROTTLE", "THROTTLE"),
        ("THROTTLE", "HALT", "HALT"),
    ]
    limit, halt = out[:2]
    assert at(halt) - at(limit) == 15.0
    assert halt["severity"] == 3
    assert halt["suggested_duration_s"] == 300.0
    band = halt["reasons"][0]
    assert band["rule"] == "price_band"
    assert band["value"] <= -10.0
    assert band["threshold"] == 10.0
    assert halt["metrics"]["band_lower"] == pytest.approx(halt["metrics"]["reference_price"] * 0.9)


def test_price_band_cleared_within_fifteen_seconds_does_not_halt() -> None:
    def dip(t: float) -> dict[str, Any]:
        return {"mid": 88.0} if 200 <= t < 210 else {}

    out = run(sequence(260, dip), QUIET)

    assert [s["state"] for s in out] == ["THROTTLE", "NORMAL"]
    assert at(out[0]) == 200.0
    assert at(out[1]) == 240.0  # back inside at 210 s, then 30 s of calm


def test_band_breach_smaller_than_two_spreads_is_quote_noise() -> None:
    wide = lambda t: {"mid": 88.0, "spread_bps": 700.0} if t >= 200 else {}  # noqa: E731

    assert run(sequence(260, wide), replace(QUIET, spread_floor_bps=1e9)) == []


def test_band_tier_comes_from_the_first_matching_instrument_pattern() -> None:
    config = replace(QUIET, instrument_tiers=(("sim:BTC-*", 1), ("*", 3)))
    # 7 % stays inside the default tier-2 band but leaves the tier-1 band
    shape = lambda t: {"mid": 93.0} if t >= 200 else {}  # noqa: E731

    assert run(sequence(210, shape), QUIET) == []
    assert transitions(run(sequence(210, shape), config))[0][1] == "THROTTLE"
    assert config.band_fraction("other:ETH-USD") == 0.2


def test_velocity_fires_on_a_fast_move_and_not_on_the_same_move_spread_out() -> None:
    jump = lambda t: {"mid": 101.5} if t >= 100 else {}  # noqa: E731
    crash = lambda t: {"mid": 97.0} if t >= 100 else {}  # noqa: E731

    watch = run(sequence(110, jump))
    assert transitions(watch) == [("NORMAL", "WATCH", "WATCH")]
    assert watch[0]["reasons"][0]["rule"] == "velocity"
    assert watch[0]["reasons"][0]["value"] == pytest.approx(1e4 * 1.5 / 101.5)
    assert transitions(run(sequence(110, crash))) == [("NORMAL", "THROTTLE", "THROTTLE")]
    assert run(sequence(200, _drift(5.0))) == []  # 25 bps per 5 s
    # the same jump inside a 1000 bps spread is quote noise
    wide = lambda t: {"mid": 101.5 if t >= 100 else 100.0, "spread_bps": 1000.0}  # noqa: E731
    assert run(sequence(110, wide)) == []


# ------------------------------------------------------------------------------ state machine


def test_flapping_condition_gives_one_watch_and_resumes_only_after_calm() -> None:
    def flap(t: float) -> dict[str, Any]:
        on = ARMED + 50 <= t < ARMED + 110 and int(t) % 10 < 4
        return {"spread_bps": 10.0 if on else 4.0}

    out = run(sequence(ARMED + 200, flap))

    assert transitions(out) == [("NORMAL", "WATCH", "WATCH"), ("WATCH", "NORMAL", "RESUME")]
    # the last firing record is at 303.5 s: calm starts at 304 s and lasts 30 s
    assert at(out[1]) == ARMED + 134
    assert out[1]["reasons"] == []
    assert out[1]["severity"] == 0


def test_throttle_steps_down_to_the_highest_level_seen_while_calm() -> None:
    def shape(t: float) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if ARMED <= t < ARMED + 100:
            fields |= {"depth_imbalance_10": 0.7, "ofi_10s": 5.0}
        if ARMED <= t < ARMED + 10:
            fields |= {"spread_bps": 40.0}
        return fields

    out = run(sequence(ARMED + 150, shape))

    assert transitions(out) == [
        ("NORMAL", "THROTTLE", "WIDEN_BANDS"),
        ("THROTTLE", "WATCH", "WATCH"),
        ("WATCH", "NORMAL", "RESUME"),
    ]
    assert [at(s) for s in out] == [ARMED + 1, ARMED + 40, ARMED + 130]
    assert rules(out[1]) == ["persistent_imbalance"]


def test_halt_expires_into_cooldown_then_resumes_to_normal() -> None:
    out = run(sequence(900, _drift(-10.0)), QUIET)
    states = [s["state"] for s in out]

    halt = states.index("HALT")
    cooldown, normal = out[halt + 1], out[halt + 2]
    assert (cooldown["previous_state"], cooldown["state"], cooldown["action"]) == (
        "HALT", "COOLDOWN", "RESUME",
    )  # fmt: skip
    assert at(cooldown) - at(out[halt]) == 300.0
    assert cooldown["suggested_duration_s"] == 60.0
    assert (normal["state"], normal["action"]) == ("NORMAL", "RESUME")
    assert at(normal) - at(cooldown) == 60.0


def test_cooldown_escalates_again_on_a_throttle_level_rule() -> None:
    def shape(t: float) -> dict[str, Any]:
        if 200 <= t < 216:
            return {"mid": 85.0}
        if 520 <= t < 530:
            return {"mid": 85.0, "spread_bps": 40.0}
        return {"mid": 85.0} if t >= 216 else {}

    out = run(sequence(560, shape), QUIET)

    assert [s["state"] for s in out] == ["THROTTLE", "HALT", "COOLDOWN", "THROTTLE"]
    assert at(out[3]) == 521.0
    assert out[3]["action"] == "WIDEN_BANDS"


def test_book_reset_clears_windows_but_keeps_the_state() -> None:
    engine = BreakerEngine(QUIET)
    records = sequence(200, lambda t: {"mid": 88.0} if t >= 190 else {})
    for r in records[:-1]:
        engine.on_imbalance(r)
    assert engine.state_of("sim:BTC-USD") == "THROTTLE"
    engine.on_book_reset("sim:BTC-USD")

    # the band reference is gone: a price far from the old mean cannot be judged yet
    assert engine.on_imbalance(record(999, 200.0, mid=80.0)) == []
    assert engine.state_of("sim:BTC-USD") == "THROTTLE"
    band = engine.snapshot_state("sim:BTC-USD")["rules"]["price_band"]
    assert band["prices"]["reference"] is None


def test_forget_drops_the_instrument() -> None:
    engine = BreakerEngine()
    engine.on_imbalance(record(0, 0.0))
    engine.forget("sim:BTC-USD")
    assert engine.snapshot_state("sim:BTC-USD") == {}


# ------------------------------------------------------------------------------ contract


def _stress(t: float) -> dict[str, Any]:
    fields: dict[str, Any] = {"mid": 100.0 - max(0.0, t - 300) * 0.08}
    if 250 <= t < 330:
        fields |= {"depth_imbalance_10": -0.9, "ofi_10s": -3.0, "depth_bid_25bps": 2e5}
    if 320 <= t < 340:
        fields |= {"spread_bps": 40.0}
    return fields


def test_suggestions_match_the_avro_schema_field_for_field() -> None:
    schema = json.loads((SCHEMAS / "circuit_breaker_suggestion.avsc").read_text())
    parsed = fastavro.parse_schema(schema)
    out = run(sequence(900, _stress))

    assert len(out) >= 4
    order = [field["name"] for field in schema["fields"]]
    for suggestion in out:
        assert list(suggestion) == order
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, parsed, suggestion)
        buffer.seek(0)
        decoded = fastavro.schemaless_reader(buffer, parsed)
        assert decoded["event_time"] == datetime.fromtimestamp(
            at(suggestion) + START // MICROS, UTC
        )
        assert decoded | {"event_time": suggestion["event_time"]} == suggestion
    assert {r for s in out for r in rules(s)} <= set(RULES)
    assert out[0]["suggestion_id"] == f"{out[0]['source_topic']}/0/{out[0]['source_offset']}#0"
    assert all(s["config_hash"] == "cafe" for s in out)


def test_replay_is_bit_for_bit_identical() -> None:
    records = sequence(900, _stress)

    first = json.dumps(run(copy.deepcopy(records)))
    second = json.dumps(run(records))

    assert first == second
    assert len(json.loads(first)) >= 4


@pytest.mark.parametrize("split", [10, 620, 650, 700, 1200, 1700])
def test_snapshot_and_restore_equals_an_uninterrupted_run(split: int) -> None:
    records = sequence(900, _stress)
    expected = run(records)

    before = BreakerEngine()
    out = [s for r in records[:split] for s in before.on_imbalance(r)]
    state = json.loads(json.dumps(before.snapshot_state("sim:BTC-USD"), allow_nan=False))
    after = BreakerEngine()
    after.restore_state("sim:BTC-USD", state)
    out += [s for r in records[split:] for s in after.on_imbalance(r)]

    assert out == expected


def test_restore_under_another_config_keeps_the_state_machine_and_restarts_windows() -> None:
    engine = BreakerEngine(QUIET)
    for r in sequence(215, lambda t: {"mid": 85.0} if t >= 200 else {}):
        engine.on_imbalance(r)
    state = engine.snapshot_state("sim:BTC-USD")

    other = BreakerEngine(BreakerConfig(calm_s=10.0))
    other.restore_state("sim:BTC-USD", state)

    assert other.state_of("sim:BTC-USD") == "THROTTLE"
    assert other.snapshot_state("sim:BTC-USD")["rules"]["price_band"]["prices"]["buckets"] == []


# ------------------------------------------------------------------------------ bad input


def test_record_without_a_field_is_a_clear_error() -> None:
    broken = record(0, 0.0)
    del broken["depth_imbalance_10"]

    with pytest.raises(BreakerInputError, match="depth_imbalance_10"):
        BreakerEngine().on_imbalance(broken)


@pytest.mark.parametrize("mid", [0.0, -1.0, float("nan"), float("inf")])
def test_record_with_a_non_price_mid_is_a_clear_error(mid: float) -> None:
    with pytest.raises(BreakerInputError, match="sim:BTC-USD"):
        BreakerEngine().on_imbalance(record(0, 0.0, mid=mid))


def test_config_rejects_unknown_keys_and_inconsistent_thresholds() -> None:
    with pytest.raises(BreakerConfigError, match="halt_minutes"):
        BreakerConfig.from_mapping({"halt_minutes": 5})
    with pytest.raises(BreakerConfigError, match="spread_ratio_watch"):
        BreakerConfig(spread_ratio_watch=9.0, spread_ratio_throttle=8.0)
    with pytest.raises(BreakerConfigError, match="baseline_tail"):
        BreakerConfig(baseline_tail=0.5)
    with pytest.raises(BreakerConfigError, match="negative"):
        BreakerConfig(calm_s=-1.0)
    with pytest.raises(BreakerConfigError, match="tier"):
        BreakerConfig(instrument_tiers=(("*", 4),))
    with pytest.raises(BreakerConfigError, match="depth_band_bps"):
        BreakerConfig(depth_band_bps=30)


def test_config_round_trips_through_json_with_a_stable_hash() -> None:
    config = BreakerConfig(instrument_tiers=(("*:BTC-*", 1),), cost_notional=10_000.0)

    again = BreakerConfig.from_mapping(json.loads(json.dumps(config.as_dict())))

    assert again == config
    assert again.config_hash() == config.config_hash()
    assert BreakerConfig().config_hash() != config.config_hash()


def test_a_tier_overrides_thresholds_for_the_instruments_it_matches_and_is_named() -> None:
    from streams.core.breaker_config import BreakerTier

    lasting = _usual_spread(4.0, lambda t: {"spread_bps": 10.0} if t >= ARMED else {})
    tight = BreakerTier(
        name="tight", exchange="sim", symbol="BTC-*", overrides=(("spread_ratio_watch", 3.0),)
    )
    config = BreakerConfig(tiers=(tight,))
    other = [dict(r, symbol="ETH-USD") for r in sequence(ARMED + 3, lasting)]

    assert run(sequence(ARMED + 3, lasting), config) == []  # 10 bps < 3x the usual 4 bps
    out = run(other, config)
    assert transitions(out) == [("NORMAL", "WATCH", "WATCH")]
    assert out[0]["reasons"][0]["detail"].endswith("(tier default)")
    engine = BreakerEngine(config)
    engine.on_imbalance(record(0, 0.0))
    assert engine.tier_of("sim:BTC-USD") == "tight"
    assert engine.snapshot_state("sim:BTC-USD")["tier"] == "tight"


@pytest.mark.parametrize(
    "name",
    [spec.name for spec in fields(BreakerConfig) if spec.type in ("float", "int")],
)
def test_every_threshold_is_part_of_the_config_hash(name: str) -> None:
    default = BreakerConfig()
    value = getattr(default, name)
    changed = None
    for candidate in (value * 0.9, value * 1.1, value + 1, 50, 1):
        try:
            changed = replace(default, **{name: type(value)(candidate)})
        except BreakerConfigError:
            continue
        if changed != default:
            break

    assert changed is not None
    assert changed != default
    assert changed.config_hash() != default.config_hash()
