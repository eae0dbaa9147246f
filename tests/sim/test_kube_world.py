"""The world around the simulated clusters: kubeconfig, the control API and ``python -m fedstate_sim``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import yaml
from kube_support import RecordingHost, mongod_statefulset

from fedstate_sim.config import SIMULATOR_BANNER, default_config
from fedstate_sim.kube.resources import PODS, STATEFULSETS
from fedstate_sim.world import World


async def test_kubeconfig_has_one_context_per_cluster(tmp_path: Path) -> None:
    async with World(default_config(2), host=RecordingHost()) as world:
        document = yaml.safe_load(world.write_kubeconfig(tmp_path / "kc").read_text())
        urls = world.api_urls()
    assert [c["name"] for c in document["contexts"]] == ["member-1", "member-2"]
    assert {c["name"]: c["cluster"]["server"] for c in document["clusters"]} == urls
    assert urls["member-2"].startswith("http://127.0.2.1:")
    assert document["users"][0]["user"]["token"]


async def test_control_api_injects_faults() -> None:
    host = RecordingHost()
    async with (
        World(default_config(2), host=host, control_port=0) as world,
        aiohttp.ClientSession(f"http://127.0.0.1:{world.control_port}") as http,
    ):
        async with http.get("/sim/healthz") as health:
            assert (await health.json())["simulator"] == SIMULATOR_BANNER
        async with http.post("/sim/clusters/member-2/fail") as failed:
            assert (await failed.json())["down"] is True
        async with http.get("/sim/clusters") as listed:
            clusters = {c["name"]: c for c in (await listed.json())["clusters"]}
        assert clusters["member-2"]["down"] and not clusters["member-1"]["down"]
        assert clusters["member-1"]["apiServer"] == world.clusters["member-1"].api_url
        assert (clusters["member-1"]["region"], clusters["member-1"]["zone"]) == ("eu-west", "zone-1")
        async with http.post("/sim/clusters/member-2/recover") as recovered:
            assert (await recovered.json())["down"] is False
        async with http.post("/sim/partition", json={"clusters": ["member-1"], "from": ["member-2"]}) as cut:
            assert cut.status == 200
        async with http.post("/sim/heal") as healed:
            assert healed.status == 200
        async with http.post("/sim/clusters/nope/fail") as unknown:
            assert unknown.status == 404 and "fedstate simulator" in (await unknown.json())["error"]
        assert ("partition", frozenset({"member-1"}), frozenset({"member-2"})) in host.calls
        assert ("heal",) in host.calls and ("down", "member-2", True) in host.calls


async def test_control_api_kills_a_pod() -> None:
    async with World(default_config(1), host=RecordingHost(), control_port=0) as world:
        store = world.clusters["member-1"].store
        store.create(STATEFULSETS, mongod_statefulset("rs"), "default")
        for _ in range(100):
            if store.get(PODS, "default", "rs-0"):
                break
            await _tick()
        old_uid = store.require(PODS, "default", "rs-0")["metadata"]["uid"]
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{world.control_port}/sim/clusters/member-1/namespaces/default/pods/rs-0/kill"
            ) as r,
        ):
            assert r.status == 200
        for _ in range(100):
            pod = store.get(PODS, "default", "rs-0")
            if pod and pod["metadata"]["uid"] != old_uid:
                break
            await _tick()
        assert pod and pod["metadata"]["uid"] != old_uid


async def _tick() -> None:
    await asyncio.sleep(0.01)


@pytest.mark.parametrize("member_processes", [1, 2])
def test_command_line_writes_ready_file_and_stops_on_sigterm(tmp_path: Path, member_processes: int) -> None:
    """With member processes, SIGTERM to the simulator stops them too."""
    ready, kubeconfig = tmp_path / "ready.json", tmp_path / "kubeconfig"
    command = [
        sys.executable,
        "-m",
        "fedstate_sim",
        "--clusters",
        "2",
        "--vip-octet",
        "7",
        "--ready-file",
        str(ready),
        "--kubeconfig",
        str(kubeconfig),
        "--pod-startup-seconds",
        "0.5",
        "--member-processes",
        str(member_processes),
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        document = json.loads(ready.read_text())
        assert set(document["clusters"]) == {"member-1", "member-2"}
        assert document["clusters"]["member-1"].startswith("http://127.7.1.1:")
        assert document["controlPort"] > 0 and kubeconfig.exists()
        children = document["memberPids"]
        assert len(children) == (member_processes if member_processes > 1 else 0)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert lines and all(line["simulator"] == SIMULATOR_BANNER for line in lines)
