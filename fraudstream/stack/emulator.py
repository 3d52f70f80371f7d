"""Entry point of the emulator process: ``python -m fraudstream.stack.emulator``.

Runs moto's HTTP server with :mod:`fraudstream.stack.moto_patches` applied (unless
``--stock``, which the benchmark uses to measure the unpatched emulator side by side; AWS's
per-shard Kinesis limits come with the patch unless ``--no-shard-limits``), behind
the fault-injection middleware of :mod:`fraudstream.stack.faults` (inactive unless a fault
plan is set). The patched emulator also keeps its heap's collections short and logs only the
requests that failed (:mod:`fraudstream.stack.emulator_upkeep`; ``--log-requests`` logs all).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from types import FrameType


def _exit(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fraudstream's embedded AWS emulator (moto).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--stock", action="store_true", help="run moto without the Kinesis patch")
    parser.add_argument(
        "--no-shard-limits",
        action="store_true",
        help="accept any Kinesis throughput (AWS's per-shard limits are on by default)",
    )
    parser.add_argument(
        "--log-requests", action="store_true", help="log every request (default: failed ones)"
    )
    args = parser.parse_args(argv)

    # IAM managed policies are needed by Terraform's data-plane apply against the emulator.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    os.environ.setdefault("MOTO_PORT", str(args.port))
    if not args.stock:
        from fraudstream.stack import emulator_upkeep, moto_patches

        moto_patches.apply(shard_limits=not args.no_shard_limits)
        emulator_upkeep.PeriodicFreeze().start()
        if not args.log_requests:
            logging.getLogger("werkzeug").addFilter(emulator_upkeep.FailedRequestsOnly())
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    from fraudstream.stack.faults import ENV_VAR, FaultInjector, FaultPlan

    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)
    moto_app = DomainDispatcherApplication(create_backend_app)
    app = FaultInjector(moto_app, FaultPlan.from_json(os.environ.get(ENV_VAR, "")))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":  # pragma: no cover - exercised as a subprocess
    main()
