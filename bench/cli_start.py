"""Wall time of the CLI's everyday commands, from exec to exit, against a running local stack.

    .venv/bin/python bench/cli_start.py --runs 15

Starts a one-cluster stack in a scratch directory, applies one MultiCloudMongoDB, then runs
``fedstate --help``, ``fedstate get mcm`` and ``fedstate describe mcm NAME`` ``--runs`` times each
(once the instance is Health and the stack idle) and prints one JSON document with
the median and fastest wall seconds of each. The target is under 0.2 s (issue 14).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fedstate
from fedstate.cli.client import TOKEN_ENV
from fedstate.cli.localstack import LocalStack

NAME = "bench-cli"
MANIFEST = (
    "apiVersion: middleware.fedstate.io/v1alpha1\nkind: MultiCloudMongoDB\n"
    f"metadata: {{name: {NAME}}}\nspec: {{replicaset: 1}}\n"
)
# The instance is Health and the stack idle before any run: the figure is the CLI's, not a busy machine's.
SETTLE_SECONDS = 10.0
COMMANDS = {"help": ["--help"], "get": ["get", "mcm"], "describe": ["describe", "mcm", NAME]}


def wall_seconds(args: list[str], server: str, token: str, runs: int) -> list[float]:
    fedstate = Path(sys.executable).with_name("fedstate")
    seconds = []
    environment = {**os.environ, TOKEN_ENV: token}
    for _ in range(runs):
        started = time.perf_counter()
        command = [str(fedstate), *args, "--server", server]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=environment)
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()
    # A user's first run caches the bytecode; this machine sets PYTHONDONTWRITEBYTECODE, so cache it here.
    compileall.compile_dir(Path(fedstate.__file__).parent, quiet=1)
    results = {}
    with tempfile.TemporaryDirectory(prefix="fedstate-cli-bench-") as scratch:
        stack = LocalStack(Path(scratch), clusters=1)
        stack.up()
        try:
            stack.apply_text(NAME, MANIFEST)
            stack.wait_for_state(NAME, "Health")
            time.sleep(SETTLE_SECONDS)
            for label, args in COMMANDS.items():
                seconds = wall_seconds(args, stack.gateway.base_url, stack.gateway.token or "", options.runs)
                results[label] = {
                    "medianSeconds": round(statistics.median(seconds), 3),
                    "minSeconds": round(min(seconds), 3),
                }
        finally:
            stack.down()
    print(json.dumps({"runs": options.runs, "commands": results}, indent=2))


if __name__ == "__main__":
    main()
