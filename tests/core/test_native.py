"""The compiled core and its pure-Python source give the same records, bit for bit.

setup.py compiles `streams/core/book.py`, the metrics (`metrics*.py`) and the breaker
(`breaker*.py` but its config) with mypyc when a C compiler is there (`NATIVE` is then
true) and the compiled book and metrics take typed-loop paths; the pure modules take
the standard library's C helpers (`bisect`, `sum`). Whichever this suite loaded, the other path
runs here too: in a subprocess on a pure copy of the core, with `NATIVE` set the other way.
"""

from __future__ import annotations

import json
import pickle
import random
import shutil
import struct
import subprocess
import sys
from bisect import bisect_left
from pathlib import Path

import pytest

import streams.core.book as book_module
import streams.core.breaker as breaker_module
import streams.core.breaker_liquidity_rules as breaker_liquidity_rules_module
import streams.core.breaker_price_rules as breaker_price_rules_module
import streams.core.breaker_rule as breaker_rule_module
import streams.core.breaker_rules as breaker_rules_module
import streams.core.breaker_windows as breaker_windows_module
import streams.core.metrics as metrics_module
import streams.core.metrics_cost as metrics_cost_module
import streams.core.metrics_depth as metrics_depth_module
import streams.core.metrics_flow as metrics_flow_module
import streams.core.metrics_state as metrics_state_module
from streams.core.book import NATIVE, _search
from streams.core.config import DEPTH_BANDS_BPS
from streams.core.metrics_depth import band_depths_sliced, band_depths_walk
from streams.core.pipeline import Pipeline
from streams.core.types import SourcePosition
from streams.simulate.scenarios import run_scenario
from streams.sources.raw import read_raw
from tests.core.test_pipeline import BYBIT
from tests.fixtures.pure import pure_copy

pytestmark = pytest.mark.unit

FACTORS = tuple(1.0 + b * 1e-4 for b in DEPTH_BANDS_BPS)
REBUILD = "rebuild it: `pip install -e .` or `python setup.py build_ext --inplace`"


def _bits(values: list[float]) -> list[bytes]:
    return [struct.pack("<d", v) for v in values]


COMPILED_MODULES = (
    book_module, metrics_module, metrics_state_module, metrics_flow_module, metrics_depth_module,
    metrics_cost_module, breaker_module, breaker_rule_module, breaker_liquidity_rules_module,
    breaker_price_rules_module, breaker_rules_module, breaker_windows_module,
)  # fmt: skip


def test_the_loaded_core_is_the_current_compiled_build_or_the_source() -> None:
    for module in COMPILED_MODULES:
        loaded = Path(module.__file__ or "")
        source = loaded.with_name(module.__name__.rpartition(".")[2] + ".py")

        assert getattr(module, "NATIVE", NATIVE) is NATIVE
        assert (loaded.suffix == ".so") is NATIVE, loaded
        if NATIVE:
            assert loaded.stat().st_mtime >= source.stat().st_mtime, f"{source} changed; {REBUILD}"


@pytest.mark.parametrize("seed", range(20))
def test_the_typed_level_search_is_bisect_left(seed: int) -> None:
    rng = random.Random(seed)
    keys = sorted({round(rng.uniform(-10.0, 10.0), rng.choice((0, 1, 2))) for _ in range(60)})
    for key in [*keys, *(rng.uniform(-11.0, 11.0) for _ in range(60)), -0.0]:
        count = rng.randint(0, len(keys))
        assert _search(keys, key, count) == bisect_left(keys, key, 0, count)


@pytest.mark.parametrize("seed", range(40))
def test_the_typed_band_walk_adds_like_the_sliced_sums(seed: int) -> None:
    rng = random.Random(seed)
    mid = rng.uniform(0.01, 90_000.0)
    tick = mid * rng.choice((1e-6, 1e-5, 1e-4, 1e-3))
    keys = [mid + tick * k for k in sorted(rng.sample(range(1, 400), rng.randint(1, 200)))]
    notionals = [k * rng.uniform(1e-4, 50.0) for k in keys]
    count = rng.randint(1, len(keys))

    walked, walked_end = band_depths_walk(keys, notionals, count, mid, FACTORS)
    sliced, sliced_end = band_depths_sliced(keys, notionals, count, mid, FACTORS)

    assert _bits(walked) == _bits(sliced)
    assert walked_end == sliced_end


def _inputs() -> list[tuple[object, SourcePosition]]:
    items: list[tuple[object, SourcePosition]] = list(read_raw(None, BYBIT))
    crash = run_scenario("flash_crash", 1)
    items += [(d, SourcePosition("sim", 0, i)) for i, d in enumerate(crash)]
    return items


def _records(items: list[tuple[object, SourcePosition]]) -> list[str]:
    pipeline = Pipeline()
    lines = []
    for delta, position in items:
        output = pipeline.process(delta, position)  # type: ignore[arg-type]
        lines.append(json.dumps([output.imbalance, output.suggestions]))
    lines += [pipeline.snapshot_state(i).decode() for i in pipeline.instruments()]
    return lines


# The same loop as `_records`, run on the pure copy with NATIVE set the other way.
_OTHER_PATH = """
import json, pickle, sys
import streams.core.book as book, streams.core.metrics_depth as depth
assert book.__file__.endswith("book.py") and depth.__file__.endswith("metrics_depth.py")
book.NATIVE = depth.NATIVE = {native}
from streams.core.pipeline import Pipeline
items = pickle.loads(open(sys.argv[1], "rb").read())
pipeline, lines = Pipeline(), []
for delta, position in items:
    output = pipeline.process(delta, position)
    lines.append(json.dumps([output.imbalance, output.suggestions]))
lines += [pipeline.snapshot_state(i).decode() for i in pipeline.instruments()]
json.dump(lines, open(sys.argv[2], "w"))
"""


def test_the_other_path_gives_the_same_records_suggestions_and_checkpoints(
    tmp_path: Path,
) -> None:
    """Recorded Bybit books (200 levels, 2,148 events) and a simulated flash crash."""
    package = Path(book_module.__file__ or "").parents[1]
    core = tmp_path / "streams" / "core"
    core.mkdir(parents=True)
    shutil.copy(package / "__init__.py", tmp_path / "streams")
    for source in (package / "core").glob("*.py"):
        shutil.copy(source, core)
    items = _inputs()
    (tmp_path / "items.pickle").write_bytes(pickle.dumps(items))
    script = _OTHER_PATH.format(native=not NATIVE)

    subprocess.run(
        [sys.executable, "-c", script, tmp_path / "items.pickle", tmp_path / "other.json"],
        cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)}, check=True, timeout=300,
    )  # fmt: skip
    other = json.loads((tmp_path / "other.json").read_text())
    here = _records(items)

    assert len(here) > 4_000
    assert other == here


def test_a_pickled_pipeline_goes_on_as_the_original() -> None:
    """The worker pickles its pipeline to its compute process: compiled objects go as state."""
    items = _inputs()
    half = len(items) // 2
    original = Pipeline()
    for delta, position in items[:half]:
        original.process(delta, position)  # type: ignore[arg-type]
    copy = pickle.loads(pickle.dumps(original))  # noqa: S301 (our own bytes)

    assert copy.counters == original.counters
    for delta, position in items[half:]:
        assert copy.process(delta, position) == original.process(delta, position)  # type: ignore[arg-type]
    assert [copy.snapshot_state(i) for i in copy.instruments()] == [
        original.snapshot_state(i) for i in original.instruments()
    ]


def test_a_fresh_window_checkpoints_the_same_json_pure_or_compiled() -> None:
    """A sum over no buckets is the int 0 in Python, 0.0 in a compiled float: both write 0.0."""
    pure = pure_copy(breaker_windows_module)
    states = []
    for module in (pure, breaker_windows_module):
        window = module.MeanPriceWindow(300)
        window.add(1_000_000, 100.0, 60)
        states.append(json.dumps(window.to_state()))

    assert states[0] == states[1]
    assert '"total": 0.0' in states[0]
