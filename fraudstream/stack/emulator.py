"""Entry point of the emulator process: ``python -m fraudstream.stack.emulator``.

Runs moto's HTTP server with :mod:`fraudstream.stack.moto_patches` applied (unless
``--stock``, which the benchmark uses to measure the unpatched emulator side by side).
"""

from __future__ import annotations

import argparse
import os


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fraudstream's embedded AWS emulator (moto).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--stock", action="store_true", help="run moto without the Kinesis patch")
    args = parser.parse_args(argv)

    # IAM managed policies are needed by Terraform's data-plane apply against the emulator.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    if not args.stock:
        from fraudstream.stack import moto_patches

        moto_patches.apply()
    from moto import server

    server.main(["--host", args.host, "--port", str(args.port)])


if __name__ == "__main__":  # pragma: no cover - exercised as a subprocess
    main()
