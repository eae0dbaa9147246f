"""``fedstate up --detach`` returns once every cluster is Ready; ``down`` stops every process it started.

These start the real stack (nats-server, simulator, collectors, agents, scheduler, federation,
gateway) as subprocesses, on a free API port and a private VIP octet.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from fedstate.cli.client import TOKEN_ENV
from fedstate.cli.http import request
from fedstate.cli.main import app
from fedstate.cli.records import StackState, load_state
from fedstate.cli.state import StackPaths
from fedstate.natsserver import free_port

pytestmark = pytest.mark.timeout(240)
UP = ["--clusters", "2", "--pod-startup-seconds", "0", "--ready-timeout", "90"]  # VIPs: the first free octet


def test_up_detached_then_down(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FEDSTATE_SERVER", raising=False)
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.setenv("FEDSTATE_HOME", str(tmp_path / "home"))
    runner, port = CliRunner(), free_port()
    up = runner.invoke(app, ["up", "--detach", "--api-port", str(port), *UP])
    try:
        assert 0 == up.exit_code, up.output
        assert f"{tmp_path / '.fedstate'}\n" == (tmp_path / "home" / "current").read_text(), "up records the context"
        state = load_state(StackPaths.here())
        assert state is not None and f"http://127.0.0.1:{port}" == state.api_url
        assert (
            len(state.processes) == len(state.running()) == 2 + 2 * 2 + 4
        )  # nats, sim, 2x(collector, agent), 3 services and the crd-bridge
        assert (tmp_path / ".fedstate" / "kubeconfig").is_file()
        # The local user's admin token, readable by that user only; the API refuses a request without it.
        assert stat.S_IMODE((tmp_path / ".fedstate" / "token").stat().st_mode) == 0o600
        assert request(state.api_url, "GET", "/clusters").status_code == 401
        (tmp_path / "elsewhere").mkdir()
        monkeypatch.chdir(tmp_path / "elsewhere")  # the current context finds the stack from any directory
        clusters = json.loads(runner.invoke(app, ["get", "clusters", "-o", "json"]).stdout)["items"]
        assert [("member-1", "Ready"), ("member-2", "Ready")] == [(c["name"], c["health"]) for c in clusters]
        check_metrics(up.stdout, state, clusters, StackPaths(tmp_path / ".fedstate"))
    finally:
        down = runner.invoke(app, ["down"])
    assert 0 == down.exit_code, down.output
    assert down.stdout.startswith("stopped 10 processes")
    assert "killed" not in down.stdout  # every process left on SIGTERM, none needed SIGKILL
    assert state is not None and not any(p.alive() for p in state.processes)
    assert not (tmp_path / ".fedstate" / "state.json").exists()
    assert not (tmp_path / ".fedstate" / "prometheus-targets.json").exists()
    assert not (tmp_path / "home" / "current").exists(), "down clears the context"


def check_metrics(printed: str, state: StackState, clusters: list[dict[str, Any]], paths: StackPaths) -> None:
    """Every service's /metrics is printed, listed for Prometheus, and answers a plain scrape with 200."""
    services = {p.name: p.metrics_url for p in state.processes if p.name not in ("nats-server", "simulator")}
    assert None not in services.values(), services
    for name, url in services.items():
        assert re.search(rf"^{re.escape(name)} +{re.escape(str(url))}$", printed, re.MULTILINE), printed
    targets = json.loads(paths.prometheus_targets.read_text())
    listed = {group["labels"]["service"]: f"http://{group['targets'][0]}/metrics" for group in targets}
    assert services == listed
    scraped = {name: httpx.get(str(url), follow_redirects=False) for name, url in services.items()}
    assert {name: 200 for name in services} == {name: r.status_code for name, r in scraped.items()}
    free = {c["name"]: c["capacity"]["freeCpuMillis"] / 1000 for c in clusters}
    gauge = re.compile(r'^fedstate_cluster_free_cpu_cores\{cluster="([^"]+)"\} (\S+)$', re.MULTILINE)
    for cluster in free:
        reported = dict(gauge.findall(scraped[f"collector-{cluster}"].text))
        assert free[cluster] == float(reported[cluster])


def test_up_in_the_foreground_stops_everything_on_sigterm(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "fedstate.cli", "up", "--api-port", str(free_port()), *UP]
    env = {k: v for k, v in os.environ.items() if k != "FEDSTATE_SERVER"}
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    paths = StackPaths(tmp_path / ".fedstate")
    deadline = time.monotonic() + 120
    while (state := load_state(paths)) is None or state.started_at is None:
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read() if process.stdout else ""
        time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert 0 == process.returncode, output
    assert "stopped 10 processes" in output
    assert not any(p.alive() for p in state.processes)
