"""Stress scenarios through the real pipeline: each gets its expected reaction, calm gets none."""

from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import json
from functools import cache
from pathlib import Path

import pytest

from streams.codec import TopicCodecs
from streams.config import Settings
from streams.core.pipeline import Pipeline
from streams.core.types import SourcePosition
from streams.simulate.command import TARDIS_HEADER, main_simulate
from streams.simulate.evaluate import ScenarioOutcome, evaluate_scenario
from streams.simulate.exceptions import UnknownScenarioError
from streams.simulate.scenarios import SCENARIOS, run_scenario
from streams.transport import create_topics, read_topic, topic_specs

STRESS = sorted(name for name, s in SCENARIOS.items() if s.expected)
QUIET = sorted(name for name, s in SCENARIOS.items() if not s.expected)


@cache
def outcome(name: str, seed: int) -> ScenarioOutcome:
    return evaluate_scenario(name, seed)


@pytest.mark.unit
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", QUIET)
def test_quiet_markets_produce_no_suggestion(name: str, seed: int) -> None:
    result = outcome(name, seed)

    assert result.records == result.deltas > 1000
    assert result.suggestions == []


@pytest.mark.unit
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", STRESS)
def test_stress_scenario_gets_its_expected_reaction_in_time(name: str, seed: int) -> None:
    result = outcome(name, seed)

    assert result.before_onset == []
    reaction = result.reaction
    assert reaction is not None, [(result.at(s), s["action"]) for s in result.suggestions]
    assert reaction["action"] in SCENARIOS[name].expected
    assert result.detection_delay_s is not None
    assert 0.0 <= result.detection_delay_s <= SCENARIOS[name].react_within_s
    assert reaction["reasons"], "an escalation carries its evidence"
    assert result.passed


@pytest.mark.unit
def test_flash_crash_halts_on_the_price_band_and_later_resumes_through_cooldown() -> None:
    result = outcome("flash_crash", 0)
    actions = [(s["state"], s["action"]) for s in result.suggestions]

    halt = result.reaction
    assert halt is not None
    band = next(r for r in halt["reasons"] if r["rule"] == "price_band")
    assert band["value"] <= -band["threshold"] == -10.0
    assert halt["suggested_duration_s"] == 300.0
    assert halt["severity"] == 3
    assert ("THROTTLE", "THROTTLE") in actions[: actions.index(("HALT", "HALT"))]
    assert actions[actions.index(("HALT", "HALT")) + 1] == ("COOLDOWN", "RESUME")
    assert halt["metrics"]["mid"] < halt["metrics"]["band_lower"]


@pytest.mark.unit
def test_liquidity_withdrawal_widens_bands_on_depth_evidence() -> None:
    reaction = outcome("liquidity_withdrawal", 0).reaction

    assert reaction is not None
    assert reaction["action"] == "WIDEN_BANDS"
    assert "depth_depletion" in [r["rule"] for r in reaction["reasons"]]
    assert reaction["metrics"]["depth_ask_25bps"] < 0.3 * reaction["metrics"]["depth_bid_25bps"]


@pytest.mark.unit
def test_scenarios_are_deterministic_per_seed_and_valid_for_the_book() -> None:
    first = run_scenario("layering", 7)

    assert first == run_scenario("layering", 7)
    assert first != run_scenario("layering", 8)
    assert first[0].is_snapshot
    assert not any(d.is_snapshot for d in first[1:])
    for previous, delta in itertools.pairwise(first):
        assert delta.validate().prev_sequence == previous.sequence
    pipeline = Pipeline()
    for offset, delta in enumerate(first):
        pipeline.process(delta, SourcePosition("sim", 0, offset))
    assert (pipeline.counters.gaps, pipeline.counters.crossed) == (0, 0)
    assert pipeline.counters.records == len(first)


@pytest.mark.unit
def test_evaluation_replays_bit_for_bit() -> None:
    again = evaluate_scenario("spread_blowout", 0)

    assert json.dumps(again.suggestions) == json.dumps(outcome("spread_blowout", 0).suggestions)


@pytest.mark.unit
def test_unknown_scenario_names_the_known_ones() -> None:
    with pytest.raises(UnknownScenarioError, match="flash_crash"):
        run_scenario("meteor_strike", 0)


def _args(**values: object) -> argparse.Namespace:
    defaults: dict[str, object] = {"seed": 3, "output": None, "publish": False, "topic": None}
    return argparse.Namespace(**(defaults | values))


@pytest.mark.unit
def test_simulate_writes_json_lines_and_tardis_csv(tmp_path: Path) -> None:
    deltas = run_scenario("spread_blowout", 3)
    jsonl, tardis = tmp_path / "d.jsonl", tmp_path / "d.csv.gz"

    assert main_simulate(_args(scenario="spread_blowout", output=jsonl)) == 0
    assert main_simulate(_args(scenario="spread_blowout", output=tardis)) == 0

    lines = jsonl.read_text().splitlines()
    assert len(lines) == len(deltas)
    assert json.loads(lines[1])["bid_prices"] == list(deltas[1].bid_prices)

    with gzip.open(tardis, "rt", newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == TARDIS_HEADER
    assert len(rows) - 1 == sum(d.level_changes for d in deltas)
    assert rows[1][4] == "true"
    assert rows[-1][4] == "false"


@pytest.mark.integration
def test_published_flash_crash_read_back_from_kafka_halts(kafka_settings: Settings) -> None:
    create_topics(kafka_settings, topic_specs(kafka_settings.topics, partitions=1))

    main_simulate(_args(scenario="flash_crash", seed=0, publish=True), kafka_settings)

    codecs = TopicCodecs.register(kafka_settings)
    topic = kafka_settings.topics.book_deltas
    pipeline = Pipeline()
    suggestions = []
    count = 0
    for message in read_topic(kafka_settings, topic):
        delta = codecs.decode_keyed_delta(message.key(), message.value())
        position = SourcePosition(topic, message.partition(), message.offset())
        suggestions += pipeline.process(delta, position).suggestions
        count += 1
    assert count == len(run_scenario("flash_crash", 0))
    halts = [s for s in suggestions if s["action"] == "HALT"]
    assert halts
    assert halts[0]["source_topic"] == topic
    assert halts[0]["suggestion_id"] == f"{topic}/0/{halts[0]['source_offset']}#0"
