"""A child that leaves a grandchild behind when it exits, as a Spark driver leaves its JVM for a
moment: ``python -m tests.fraudstream.demo.lingering_child SECONDS`` starts a grandchild that
lives ``SECONDS`` (it ignores SIGTERM), prints its pid, and exits on SIGTERM at once."""

import signal
import subprocess
import sys
import time

linger = sys.argv[1]
grandchild = subprocess.Popen(
    [
        sys.executable,
        "-c",
        f"import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep({linger})",
    ]
)
print(grandchild.pid, flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(0.1)
