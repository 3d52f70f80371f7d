"""``make bench``: run every benchmark module in this folder (or those named) in turn.

A benchmark is a module here with a ``main(argv)`` that writes benchmarks/results/<name>.json;
modules without one (the shared ``harness``) are helpers, not benchmarks.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from pathlib import Path

SKIP = {
    "run",
    "results",
    "harness",
    "faults",
    "soak",
    "drift_check",
    "novelty",
    "novelty_retrain",
}
SKIP |= {"__init__", "__main__"}
# faults and soak have their own targets (`make faults`, `make soak`): the soak takes an hour.
# drift_check, novelty and novelty_retrain are model experiments run by hand
# (docs/model.md), not speed.


def discover() -> list[str]:
    here = Path(__file__).resolve().parent
    names = [m.name for m in pkgutil.iter_modules([str(here)]) if m.name not in SKIP]
    return sorted(
        n
        for n in names
        if not n.startswith("_") and "\ndef main(" in (here / f"{n}.py").read_text()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Fraudstream's benchmarks.")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {discover()})")
    args = parser.parse_args(argv)
    names = args.names or discover()
    unknown = set(names) - set(discover())
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    for name in names:
        print(f"== {name}", flush=True)
        began = time.perf_counter()
        module = importlib.import_module(f"benchmarks.{name}")
        module.main([])
        print(f"== {name} done in {time.perf_counter() - began:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
