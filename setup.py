"""Build hook: compile the core's hot modules with mypyc when it can, pure Python otherwise.

Everything else about the package is in pyproject.toml. The compiled modules give the same
results bit for bit (they run the same source); they are only faster (docs/benchmarks.md).
Set STREAMS_PURE_PYTHON=1 to skip them; without a C compiler they are skipped with a warning.
"""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# The per-event hot path: Avro bytes, book updates, the imbalance record and the breaker.
COMPILED = [
    "streams/avro.py",
    "streams/core/book.py",
    "streams/core/metrics.py",
    "streams/core/metrics_state.py",
    "streams/core/metrics_flow.py",
    "streams/core/metrics_depth.py",
    "streams/core/metrics_cost.py",
    "streams/core/breaker.py",
    "streams/core/breaker_rule.py",
    "streams/core/breaker_liquidity_rules.py",
    "streams/core/breaker_price_rules.py",
    "streams/core/breaker_rules.py",
    "streams/core/breaker_windows.py",
]


def _extensions() -> list[Extension]:
    if os.environ.get("STREAMS_PURE_PYTHON"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:  # mypy is a build requirement, but a --no-build-isolation build may lack it
        return []
    try:
        # separate: one self-contained library per module, no top-level shared module to install
        extensions: list[Extension] = mypycify(COMPILED, opt_level="3", separate=True)
    except (Exception, SystemExit) as error:  # mypyc exits on a type error its mypy finds
        print(f"setup.py: not compiling the core ({error!r}): pure Python", file=sys.stderr)
        return []
    for extension in extensions:
        extension.optional = True  # a failed compile falls back to the .py module
    return extensions


class _BuildAlways(build_ext):
    """Recompile every time: after a comment-only edit mypyc writes the same C, the compiled module
    would keep its old time and look older than its source (tests/core/test_native.py)."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.force = True


setup(ext_modules=_extensions(), cmdclass={"build_ext": _BuildAlways})
