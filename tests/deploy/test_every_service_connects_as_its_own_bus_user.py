"""deploy/k8s runs every process that talks to NATS as its own bus user over TLS, with only its own seed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fedstate.bus.identities import Component

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
# Each workload's seed Secret names the template's component it runs as.
SEED_SECRETS = {
    "fedstate-scheduler": Component.SCHEDULER,
    "fedstate-federation": Component.FEDERATION,
    "fedstate-gateway": Component.GATEWAY,
    "fedstate-crd-bridge": Component.CRD_BRIDGE,
    "fedstate-bus-bootstrap": Component.ADMIN,
    "fedstate-collector": Component.COLLECTOR,
    "fedstate-agent": Component.AGENT,
}
TLS = ("FEDSTATE_NATS_TLS_CA_FILE", "FEDSTATE_NATS_TLS_CERT_FILE", "FEDSTATE_NATS_TLS_KEY_FILE")


def bus_workloads() -> list[dict[str, Any]]:
    documents = [d for path in MANIFESTS for d in yaml.safe_load_all(path.read_text()) if d]
    workloads = [d for d in documents if d["kind"] in ("Deployment", "Job")]
    return [w for w in workloads if "FEDSTATE_NATS_URL" in env_of(w)]


def env_of(workload: dict[str, Any]) -> dict[str, str]:
    [container] = workload["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def test_every_fedstate_workload_is_checked() -> None:
    assert set(SEED_SECRETS) == {w["metadata"]["name"] for w in bus_workloads()}


@pytest.mark.parametrize("workload", bus_workloads(), ids=lambda w: w["metadata"]["name"])
def test_it_mounts_only_its_own_seed_where_its_settings_look_and_uses_tls(workload: dict[str, Any]) -> None:
    pod = workload["spec"]["template"]["spec"]
    env = env_of(workload)
    [container] = pod["containers"]
    mounted = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    seed_volume = next(name for name, path in mounted.items() if path == env["FEDSTATE_NATS_CREDENTIALS"])
    component = SEED_SECRETS[workload["metadata"]["name"]]
    assert f"fedstate-nats-{component}" == secrets[seed_volume]
    assert all(env[setting].startswith(mounted["nats-tls"]) for setting in TLS)
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsUser"]  # the seed is readable by it
