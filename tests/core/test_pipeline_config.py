"""The configuration document: built generically from the config dataclasses, checked with key
paths, hashed over everything (tiers included), and tiers chosen per instrument."""

from __future__ import annotations

import dataclasses
import json

import pytest

from streams.core.breaker_config import DEFAULT_TIER, BreakerConfig, BreakerTier
from streams.core.config import MetricsConfig
from streams.core.exceptions import BreakerConfigError, ConfigFileError
from streams.core.pipeline import Pipeline
from streams.core.pipeline_config import PipelineConfig

pytestmark = pytest.mark.unit

TIERS = [
    {
        "name": "majors",
        "exchange": "BINANCE*",
        "symbol": "BTC-*",
        "breaker": {"cost_watch_bps": 20},
    },
    {"name": "options", "kind": "option", "breaker": {"noise_spreads": 4.0, "default_tier": 3}},
    {"name": "okx", "exchange": "OKX", "breaker": {"band_percent_by_tier": [1, 2, 3]}},
]


def test_the_document_of_the_defaults_loads_back_to_the_same_configuration() -> None:
    config = PipelineConfig()
    document = json.loads(json.dumps(config.document()))  # plain JSON/TOML values only
    assert PipelineConfig.from_document(document) == config
    assert PipelineConfig.from_document({}) == config


def test_every_field_of_both_config_classes_is_a_key_of_the_document() -> None:
    # Fields added later (new thresholds) are covered without touching the loader.
    document = PipelineConfig(breaker=BreakerConfig(cost_notional=50_000.0)).document()
    assert set(document["metrics"]) == {f.name for f in dataclasses.fields(MetricsConfig)}
    assert set(document["breaker"]) | {"tiers"} == {
        f.name for f in dataclasses.fields(BreakerConfig)
    }
    loaded = PipelineConfig.from_document(json.loads(json.dumps(document)))
    assert loaded.breaker.cost_notional == 50_000.0


def test_a_changed_threshold_changes_the_hash_and_integers_are_accepted_for_floats() -> None:
    base = PipelineConfig()
    changed = PipelineConfig.from_document({"breaker": {"imbalance_threshold": 0.5}})
    assert changed.breaker.imbalance_threshold == 0.5
    assert changed.config_hash() != base.config_hash()
    same = PipelineConfig.from_document({"metrics": {"ewma_half_life_s": 60}})  # int for float
    assert same.config_hash() == base.config_hash()
    assert Pipeline(changed.metrics, changed.breaker).config_hash == changed.config_hash()


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"breaker": {"imbalance_treshold": 0.5}}, "breaker.imbalance_treshold: unknown key"),
        ({"metrix": {}}, "metrix: unknown key"),
        ({"metrics": {"max_levels": 10.5}}, "metrics.max_levels: expected an integer"),
        ({"metrics": {"cost_notionals": [1, "x"]}}, "metrics.cost_notionals[1]: expected a number"),
        (
            {"breaker": {"imbalance_requires_ofi": 1}},
            "breaker.imbalance_requires_ofi: expected true",
        ),
        ({"breaker": {"band_percent_by_tier": [1, 2]}}, "breaker.band_percent_by_tier: expected 3"),
        ({"breaker": {"instrument_tiers": [["*:BTC-*", "one"]]}}, "breaker.instrument_tiers[0][1]"),
        ({"breaker": {"imbalance_threshold": 0.9}}, "breaker: "),
        ({"breaker": {"tiers": []}}, "breaker.tiers: write tiers as [[tiers]]"),
        ({"tiers": [{"symbol": "BTC-*"}]}, "tiers[0].name: missing"),
        ({"tiers": [{"name": "a", "kind": "perp"}]}, "tiers[0].kind: 'perp'"),
        ({"tiers": [{"name": "a", "breaker": {"calm": 1}}]}, "tiers[0].breaker.calm: unknown key"),
        (
            {"tiers": [{"name": "a", "breaker": {"calm_s": "x"}}]},
            "tiers[0].breaker.calm_s: expected",
        ),
        ({"tiers": [{"name": "a", "breaker": {"imbalance_severe": 0.5}}]}, "tiers[0]: "),
        ({"tiers": [{"name": "a"}, {"name": "a"}]}, "tiers: tier names must be unique"),
    ],
)
def test_a_mistake_is_reported_with_its_key_path(document: dict, path: str) -> None:
    with pytest.raises(ConfigFileError) as raised:
        PipelineConfig.from_document(document)
    assert str(raised.value).startswith(path)
    assert "\n" not in str(raised.value)


def test_tiers_override_any_threshold_for_the_instruments_they_match() -> None:
    config = PipelineConfig.from_document({"breaker": {"cost_watch_bps": 40}, "tiers": TIERS})
    breaker = config.breaker
    name, majors = breaker.for_instrument("BINANCE_FUTURES:BTC-USDT-PERP", "linear")
    assert (name, majors.cost_watch_bps, majors.noise_spreads) == ("majors", 20.0, 2.0)
    assert majors.tiers == ()
    name, options = breaker.for_instrument("DERIBIT:BTC-USD-20220527-30000-C", "option")
    assert (name, options.noise_spreads, options.default_tier, options.cost_watch_bps) == (
        "options", 4.0, 3, 40.0,
    )  # fmt: skip
    name, okx = breaker.for_instrument("OKX:ETH-USDT")
    assert (name, okx.band_percent_by_tier) == ("okx", (1.0, 2.0, 3.0))
    assert breaker.for_instrument("KRAKEN:ETH-USD", "spot") == (DEFAULT_TIER, breaker)
    # the first matching tier applies: an OKX option is an option
    assert breaker.for_instrument("OKX:BTC-USD-220527-30000-C", "option")[0] == "options"
    assert breaker.for_instrument("BINANCE:BTC-USDT", "spot") is breaker.for_instrument(
        "BINANCE:BTC-USDT", "spot"
    )  # cached


def test_tiers_are_part_of_the_hash_and_survive_json_and_the_document() -> None:
    config = PipelineConfig.from_document({"tiers": TIERS})
    assert config.config_hash() != PipelineConfig().config_hash()
    reordered = PipelineConfig.from_document({"tiers": [TIERS[1], TIERS[0], TIERS[2]]})
    assert reordered.config_hash() != config.config_hash()  # first match wins: order matters
    other = [dict(TIERS[0], breaker={"cost_watch_bps": 21}), *TIERS[1:]]
    assert PipelineConfig.from_document({"tiers": other}).config_hash() != config.config_hash()
    again = PipelineConfig.from_document(json.loads(json.dumps(config.document())))
    assert again == config
    assert again.config_hash() == config.config_hash()
    mapped = BreakerConfig.from_mapping(json.loads(json.dumps(config.breaker.as_dict())))
    assert mapped == config.breaker


def test_a_tier_built_in_code_is_checked_like_one_from_a_file() -> None:
    with pytest.raises(BreakerConfigError, match="unknown thresholds"):
        BreakerConfig(tiers=(BreakerTier(name="a", overrides=(("nope", 1.0),)),))
    with pytest.raises(BreakerConfigError, match="depth_drop_throttle"):
        BreakerConfig(tiers=(BreakerTier(name="a", overrides=(("depth_drop_throttle", 1.5),)),))
    tier = BreakerTier.from_mapping({"name": "a", "symbol": "ETH-*", "overrides": {"calm_s": 5.0}})
    assert BreakerConfig(tiers=(tier,)).for_instrument("X:ETH-USD")[1].calm_s == 5.0
