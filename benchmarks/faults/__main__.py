"""``make faults``: ``python -m benchmarks.faults [--short] [--scenario NAME ...]``.

Starts a private emulator, trains a model, serves it, runs the chosen scenarios (default all),
prints the table and writes ``benchmarks/results/faults.json`` (``faults-short.json`` with
``--short``). Exits 1 when a scenario failed
(a loss, a duplicate, a missing reason or a fault that did not happen).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import results
from benchmarks.faults.profile import FULL, SHORT
from benchmarks.faults.report import markdown_table, row, text_table, to_json
from benchmarks.faults.scenarios import SCENARIOS, Outcome, Rig, run_scenario
from benchmarks.harness import ModelServer, bench_stack, train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="CI sizes: small rates, seconds")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted(SCENARIOS),
        help="run only this scenario (repeatable; default: all, in order)",
    )
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = parser.parse_args(argv)
    profile = SHORT if args.short else FULL
    names = args.scenario or list(SCENARIOS)
    workdir = Path(tempfile.mkdtemp(prefix="fraudstream-faults-"))
    outcomes: list[Outcome] = []
    began = time.monotonic()
    with bench_stack(workdir) as stack:
        print(f"training the model in {workdir} ...", flush=True)
        base = stack.model_copy(update={"model_dir": train(stack, workdir)})
        server = ModelServer(base).start()
        try:
            rig = Rig(
                base.model_copy(update={"model_endpoint_url": server.url}),
                server,
                workdir,
                profile,
            )
            for name in names:
                print(f"== {name} ({profile.name})", flush=True)
                started = time.monotonic()
                outcome = run_scenario(rig, name)
                outcomes.append(outcome)
                failed = [k for k, v in outcome.checks.items() if not v]
                print(
                    f"== {name}: {'pass' if outcome.ok else 'FAIL ' + ', '.join(failed)} "
                    f"in {time.monotonic() - started:.0f} s",
                    flush=True,
                )
        finally:
            server.stop()
    rows = [row(o) for o in outcomes]
    print(text_table(rows))
    if args.markdown:
        print(markdown_table(rows))
    path = results.write(
        "faults" if profile is FULL else "faults-short",
        {
            "profile": profile.to_dict(),
            "seconds": round(time.monotonic() - began),
            "ok": all(o.ok for o in outcomes),
            "scenarios": [to_json(o) for o in outcomes],
        },
    )
    print(f"wrote {path}")
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
