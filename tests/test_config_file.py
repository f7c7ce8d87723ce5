"""The configuration file: TOML read once by the shell, the example in deploy/ lists every key with
its default, `streams config show|check`, and `--config` changing what `compute` suggests."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from streams.config import (
    ConfigurationError,
    Settings,
    load_pipeline_config,
    render_pipeline_config,
)
from streams.core.breaker_config import BreakerConfig
from streams.core.config import MetricsConfig
from streams.core.pipeline_config import PipelineConfig
from streams.simulate.scenarios import run_scenario
from streams.sources.tardis import write_tardis

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "streams.toml"
TIERED = """
[breaker]
halt_duration_s = 120

[[tiers]]
name = "majors"
symbol = "BTC-*"

[tiers.breaker]
cost_watch_bps = 20.0
"""


def _streams(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


def _sections(text: str) -> dict[str, set[str]]:
    """Keys per table of a TOML text, commented-out keys (`# key = value`) included."""
    keys: dict[str, set[str]] = {}
    section = ""
    for line in text.splitlines():
        header = re.match(r"^#?\s*\[\[?([\w.]+)\]\]?\s*$", line)
        if header:
            section = header.group(1)
            keys.setdefault(section, set())
            continue
        key = re.match(r"^#?\s*(\w+)\s*=", line)
        if key:
            keys.setdefault(section, set()).add(key.group(1))
    return keys


def test_the_example_file_lists_every_field_and_loads_to_the_defaults() -> None:
    text = EXAMPLE.read_text()
    keys = _sections(text)
    assert keys["metrics"] == {f.name for f in dataclasses.fields(MetricsConfig)}
    breaker_fields = {f.name for f in dataclasses.fields(BreakerConfig)}
    assert keys["breaker"] == breaker_fields - {"tiers"}
    assert "tiers" in keys  # the tiers are shown as [[tiers]] tables
    assert load_pipeline_config(EXAMPLE) == PipelineConfig()
    for name in breaker_fields - {"tiers"}:  # every key is preceded by its comment
        assert re.search(rf"^# .+\n#? ?{name} =", text, re.MULTILINE), name


def test_the_commented_tier_example_is_a_valid_configuration() -> None:
    commented = EXAMPLE.read_text().split("For example:\n", 1)[1]
    document = tomllib.loads("\n".join(line[2:] for line in commented.splitlines()))
    config = PipelineConfig.from_document(document)
    assert [tier.name for tier in config.breaker.tiers] == ["majors", "options"]


def test_a_shown_configuration_loads_back_to_the_same_hash(tmp_path: Path) -> None:
    source = tmp_path / "tiered.toml"
    source.write_text(TIERED)
    config = load_pipeline_config(source)
    shown = tmp_path / "shown.toml"
    shown.write_text(render_pipeline_config(config, "test"))
    assert load_pipeline_config(shown) == config
    assert f"config_hash = {config.config_hash()}" in shown.read_text()


def test_file_mistakes_are_configuration_errors_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_pipeline_config(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[metrics\n")
    with pytest.raises(ConfigurationError, match=r"broken\.toml: not valid TOML"):
        load_pipeline_config(broken)
    typo = tmp_path / "typo.toml"
    typo.write_text("[breaker]\ncalm = 3\n")
    with pytest.raises(ConfigurationError, match=r"typo.toml: breaker.calm: unknown key"):
        load_pipeline_config(typo)


def test_streams_config_comes_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_environment({"STREAMS_CONFIG": str(tmp_path / "x.toml")})
    assert settings.config_path == tmp_path / "x.toml"
    assert Settings.from_environment({}).config_path is None


def test_config_check_and_show_on_the_command_line(tmp_path: Path) -> None:
    source = tmp_path / "tiered.toml"
    source.write_text(TIERED)
    expected = load_pipeline_config(source).config_hash()
    checked = _streams("config", "check", str(source))
    assert checked.returncode == 0, checked.stderr
    assert expected in checked.stdout
    shown = _streams("config", "show", "--config", str(source))
    assert shown.returncode == 0, shown.stderr
    assert f"config_hash = {expected}" in shown.stdout
    assert tomllib.loads(shown.stdout)["breaker"]["halt_duration_s"] == 120.0
    typo = tmp_path / "typo.toml"
    typo.write_text("[breaker]\nhalt_duration = 120\n")
    failed = _streams("config", "check", str(typo))
    assert failed.returncode == 2
    assert failed.stderr.strip().count("\n") == 0
    assert "breaker.halt_duration: unknown key (did you mean halt_duration_s?)" in failed.stderr


def test_a_config_file_changes_the_suggestions_of_compute_and_stamps_its_hash(
    tmp_path: Path,
) -> None:
    source = tmp_path / "crash.csv"
    with source.open("w", encoding="utf-8") as handle:
        write_tardis(run_scenario("flash_crash", seed=1), handle)
    config = tmp_path / "short-halt.toml"
    config.write_text(TIERED)
    runs = {}
    for name, extra in (("default", ()), ("file", ("--config", str(config)))):
        out, sugg = tmp_path / f"{name}.jsonl", tmp_path / f"{name}-s.jsonl"
        result = _streams(
            "compute", "--source", f"tardis:{source}", "--output", str(out),
            "--suggestions", str(sugg), *extra,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        records = [json.loads(line) for line in out.read_text().splitlines()]
        suggestions = [json.loads(line) for line in sugg.read_text().splitlines()]
        runs[name] = ({r["config_hash"] for r in records + suggestions}, suggestions)
    assert runs["default"][0] == {PipelineConfig().config_hash()}
    assert runs["file"][0] == {load_pipeline_config(config).config_hash()}
    halts = {name: [s for s in run[1] if s["action"] == "HALT"] for name, run in runs.items()}
    assert [s["suggested_duration_s"] for s in halts["default"]] == [300.0]
    assert [s["suggested_duration_s"] for s in halts["file"]] == [120.0]

    typo = tmp_path / "typo.toml"
    typo.write_text("[breaker]\nhalt_duration = 120\n")
    failed = _streams(
        "compute", "--source", f"tardis:{source}", "--output", str(tmp_path / "x.jsonl"),
        "--config", str(typo),
    )  # fmt: skip
    assert failed.returncode == 2
    assert "breaker.halt_duration: unknown key" in failed.stderr
