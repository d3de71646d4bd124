"""A seeded local registry to try the generator on.

    python -m devtools.demo [--workdir DIR] [--then CMD...]

Starts the stack (proxied artifacts), logs three wine models as versions 1-3 of
`wine-classifier`, points `champion` at 2 and `challenger` at 3, and prints what
a client needs. Then it runs CMD with that environment (or waits for Ctrl-C)
and stops the stack.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from devtools.stack import Stack, log_wine_model, seed_model

REGISTERED_MODEL = "wine-classifier"
ALIASES = {"champion": 2, "challenger": 3}


def seed(stack: Stack) -> None:
    """Three genuinely different models (and runs), one version each."""
    client = stack.client()
    for n_estimators in (5, 10, 20):
        seed_model(client, REGISTERED_MODEL, log_wine_model(stack, n_estimators=n_estimators), versions=1)
    for alias, version in ALIASES.items():
        client.set_registered_model_alias(REGISTERED_MODEL, alias, str(version))


def child_env(stack: Stack) -> dict[str, str]:
    """The caller's environment, minus any MLflow settings that would point elsewhere."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return inherited | stack.client_env


def main(argv: Sequence[str] | None = None, then: Callable[[Stack], int] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, help="where the database and server logs go (default: a temp dir)")
    parser.add_argument("--then", nargs=argparse.REMAINDER, help="command to run against the stack")
    args = parser.parse_args(argv)
    # Servers run in their own sessions; turn `kill` into an exit so the stack still stops.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with Stack(args.workdir, mode="proxied") as stack:
        seed(stack)
        print(f"export MLFLOW_TRACKING_URI={stack.tracking_uri}")
        print(f"# artifacts destination (behind mlflow-artifacts:/): {stack.artifacts_destination}")
        print(f"# S3 endpoint: {stack.s3_endpoint}; logs: {stack.workdir}", flush=True)
        if then is not None:
            return then(stack)
        if args.then:
            return subprocess.call(args.then, env=child_env(stack))
        print("# stack is up; Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
