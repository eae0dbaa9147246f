"""A service pays for its imports as it starts, not on its first request: the models' quantity parser imports
the whole kubernetes client on first use, a quarter of a second of the first create after the control plane
started."""

from __future__ import annotations

import json
import subprocess
import sys


def test_the_service_frame_loads_the_quantity_parser_the_cli_leaves_for_later() -> None:
    probe = "import sys, {module}; print('kubernetes.utils.quantity' in sys.modules)"
    loaded = {
        module: subprocess.run(
            [sys.executable, "-c", probe.format(module=module)], capture_output=True, text=True, check=True
        ).stdout.strip()
        for module in ("fedstate.service", "fedstate.models.base")
    }
    assert {"fedstate.service": "True", "fedstate.models.base": "False"} == loaded


def test_a_service_builds_its_models_before_it_serves() -> None:
    """Models build their validators on first use (so the CLI starts quickly); a service builds every one it
    loaded before its body runs. Left to first use, each model on a create's way was built by the first create."""
    probe = """
import asyncio, json
from pydantic import BaseModel
import fedstate.service as service
import fedstate_scheduler.service  # a service's own modules and models, loaded as its __main__ loads them
from fedstate.settings import ServiceSettings

def unbuilt():
    found, pending = [], [BaseModel]
    while pending:
        for model in pending.pop().__subclasses__():
            pending.append(model)
            if model.__module__.startswith("fedstate") and not model.__pydantic_complete__:
                found.append(model.__name__)
    return found

before = unbuilt()
def body_runs(main):  # stands in for the event loop: what the service holds as its body would start
    main.close()
    print(json.dumps({"before": len(before), "unbuilt": unbuilt()}))
    return True
service.serve = body_runs
service._run("scheduler", ServiceSettings(), [])
"""
    reply = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    seen = json.loads(reply.strip().splitlines()[-1])
    assert seen["before"] > 10, "the probe found no model left to build: it proves nothing"
    assert [] == seen["unbuilt"]


def test_a_member_services_start_up_heap_is_frozen_with_every_kubernetes_api_it_uses_in_it() -> None:
    """What start-up loads lives as long as the process; frozen, the collector's full passes no longer walk it
    (the Kubernetes client's classes: 50-120 ms of CPU per pass). That holds only if the client's API classes,
    which its package loads on first use, are loaded before the freeze: made later, as the agent's, collector's
    and bridge's clients are made when their bodies start, they would be walked by every pass again."""
    probe = """
import asyncio, gc, json, sys
import fedstate.service as service
import fedstate_agent.__main__, fedstate_collector.__main__, fedstate_crdbridge.__main__  # as each __main__ loads
from kubernetes.aio import client
from fedstate.settings import ServiceSettings
from fedstate_agent.customresources import MongoDBResources
from fedstate_agent.kubeobjects import KubeObjects
from fedstate_agent.podshell import PodShell
from fedstate_collector.__main__ import Collector
from fedstate_collector.settings import CollectorSettings
from fedstate_crdbridge.customresources import CustomResources

def body_runs(main):  # stands in for the event loop: the services make their clients as their bodies start
    main.close()
    frozen, before = gc.get_freeze_count(), set(sys.modules)
    api = client.ApiClient()
    KubeObjects(api), MongoDBResources(api), PodShell(api), CustomResources(api)
    Collector(None, api, CollectorSettings.model_construct())
    print(json.dumps({"frozen": frozen, "loadedLater": sorted(set(sys.modules) - before)}))
    return True
service.serve = body_runs
service._run("dataplane-agent", ServiceSettings(), [])
"""
    reply = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    seen = json.loads(reply.strip().splitlines()[-1])
    assert seen["frozen"] > 100_000, "start-up's objects were left to the collector's full passes"
    assert [] == seen["loadedLater"]
