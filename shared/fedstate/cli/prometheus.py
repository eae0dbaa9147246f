"""``fedstate up --with-prometheus``: a Prometheus scraping the local stack, with the shipped alert rules.

It scrapes every service through ``.fedstate/prometheus-targets.json`` (file-based discovery, so a service
restarted on a new port is found again) and evaluates ``deploy/prometheus/fedstate-alerts.yml``, both every few
seconds: ``fedstate sim fail member-1`` then shows ``FedStateClusterUnreachable`` pending, then firing, at
``/alerts``. The binary is the one on PATH (Debian's ``prometheus`` package); its data lives in
``.fedstate/prometheus/`` and goes with the stack.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

from .errors import CliError
from .memberaccess import source_file
from .processes import Launch
from .state import StackPaths, Tier

RULES = Path("deploy/prometheus/fedstate-alerts.yml")
INTERVAL = "5s"  # a local stack changes in seconds; production scrapes every 15 to 60 s


def config(paths: StackPaths, rules: Path) -> dict[str, object]:
    """The Prometheus configuration for the stack in ``paths`` (JSON is YAML, so it is written as JSON)."""
    return {
        "global": {"scrape_interval": INTERVAL, "evaluation_interval": INTERVAL},
        "rule_files": [str(rules.resolve())],
        "scrape_configs": [
            {
                "job_name": "fedstate",
                "file_sd_configs": [{"files": [str(paths.prometheus_targets.resolve())], "refresh_interval": INTERVAL}],
            }
        ],
    }


def prometheus_launch(paths: StackPaths, port: int, host: str) -> Launch:
    """The Prometheus process, its configuration written to ``.fedstate/prometheus/prometheus.yml``."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise CliError("--with-prometheus needs the prometheus binary on PATH (on Debian: apt-get install prometheus)")
    directory = paths.root / "prometheus"
    shutil.rmtree(directory, ignore_errors=True)  # a new stack starts with no old series
    directory.mkdir(parents=True)
    config_file = directory / "prometheus.yml"
    config_file.write_text(json.dumps(config(paths, source_file(RULES)), indent=2))
    args = [
        binary,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address={host}:{port}",
    ]
    return Launch("prometheus", args, tier=Tier.SCRAPER)


def is_ready(base_url: str) -> bool:
    """Prometheus at ``base_url`` has loaded its configuration and rules and serves queries."""
    try:
        with urllib.request.urlopen(f"{base_url}/-/ready", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False
