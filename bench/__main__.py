"""`make bench` / `python -m bench`: every benchmark in one run, each rewriting its own section
of docs/benchmarks.md. The comparison with the alternatives runs last (it starts its own broker).
Every `bench_*.py` here is found by name, so bench_recovery.py (a worker SIGKILLed and replaced,
recovery time per checkpoint interval, about 2 minutes) runs with the rest.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LAST = "bench_compare.py"


def main() -> int:
    scripts = [*sorted(p for p in HERE.glob("bench_*.py") if p.name != LAST), HERE / LAST]
    failed = []
    began = time.perf_counter()
    for script in scripts:
        print(f"== {script.name}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(
            f"== {script.name}: exit {code} after {time.perf_counter() - started:.0f} s", flush=True
        )
        if code != 0:
            failed.append(script.name)
    print(f"== all benchmarks: {time.perf_counter() - began:.0f} s; failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
