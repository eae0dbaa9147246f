"""deploy/k8s's NATS is a cluster of three servers, routed to each other, and the bootstrap Job creates every
bucket and stream on all three (R3, decision 0016): losing any one server loses nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from fedstate.cli.stack import stream_replicas

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def test_the_bootstrap_job_makes_as_many_replicas_as_there_are_servers() -> None:
    nats = documents("nats.yaml")
    servers = named(nats, "StatefulSet", "nats")["spec"]["replicas"]
    config = named(nats, "ConfigMap", "nats-config")["data"]["nats.conf"]
    routes = re.findall(r"nats://nats-\d+\.nats-headless", config)
    job = named(documents("control-plane.yaml"), "Job", "fedstate-bus-bootstrap")
    [container] = job["spec"]["template"]["spec"]["containers"]
    command = container["command"]
    replicas = int(command[command.index("--replicas") + 1])
    assert 3 == servers == len(routes)
    assert stream_replicas(servers) == replicas
