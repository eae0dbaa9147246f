"""A service pays for its imports as it starts, not on its first request: the models' quantity parser imports
the whole kubernetes client on first use, a quarter of a second of the first create after the control plane
started."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any


def test_the_service_frame_loads_the_quantity_parser_the_cli_leaves_for_later() -> None:
    probe = "import sys, {module}; print('kubernetes.utils.quantity' in sys.modules)"
    loaded = {
        module: subprocess.run(
            [sys.executable, "-c", probe.format(module=module)], capture_output=True, text=True, check=True
        ).stdout.strip()
        for module in ("fedstate.service", "fedstate.models.base")
    }
    assert {"fedstate.service": "True", "fedstate.models.base": "False"} == loaded


def seen_as_the_body_starts(service: str, prelude: str, at_body_start: str) -> dict[str, Any]:
    """Run a service's start-up (``fedstate.service._run``) in a fresh interpreter after ``prelude``, with its event
    loop replaced by ``at_body_start``: code that prints one JSON line about what the service holds as its body
    would start. Returns that line."""
    probe = f"""
import json
import fedstate.service as service
from fedstate.settings import ServiceSettings
{prelude}

def body_runs(main):
    main.close()
{textwrap.indent(at_body_start, "    ")}
    return True
service.serve = body_runs
service._run({service!r}, ServiceSettings(), [])
"""
    reply = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return dict(json.loads(reply.strip().splitlines()[-1]))


def test_a_service_builds_its_models_before_it_serves() -> None:
    """Models build their validators on first use (so the CLI starts quickly); a service builds every one it
    loaded before its body runs. Left to first use, each model on a create's way was built by the first create."""
    prelude = """
from pydantic import BaseModel
import fedstate_scheduler.service  # a service's own modules and models, loaded as its __main__ loads them

def unbuilt():
    found, pending = [], [BaseModel]
    while pending:
        for model in pending.pop().__subclasses__():
            pending.append(model)
            if model.__module__.startswith("fedstate") and not model.__pydantic_complete__:
                found.append(model.__name__)
    return found

before = unbuilt()
"""
    seen = seen_as_the_body_starts(
        "scheduler", prelude, 'print(json.dumps({"before": len(before), "unbuilt": unbuilt()}))'
    )
    assert seen["before"] > 10, "the probe found no model left to build: it proves nothing"
    assert [] == seen["unbuilt"]


def test_a_member_services_start_up_heap_is_frozen_with_every_kubernetes_api_it_uses_in_it() -> None:
    """What start-up loads lives as long as the process; frozen, the collector's full passes no longer walk it
    (the Kubernetes client's classes: 50-120 ms of CPU per pass). That holds only if the client's API classes,
    which its package loads on first use, are loaded before the freeze: made later, as the agent's, collector's
    and bridge's clients are made when their bodies start, they would be walked by every pass again."""
    prelude = """
import gc, sys
import fedstate_agent.__main__, fedstate_collector.__main__, fedstate_crdbridge.__main__  # as each __main__ loads
from kubernetes.aio import client
from fedstate_agent.customresources import MongoDBResources
from fedstate_agent.kubeobjects import KubeObjects
from fedstate_agent.podshell import PodShell
from fedstate_collector.__main__ import Collector
from fedstate_collector.settings import CollectorSettings
from fedstate_crdbridge.customresources import CustomResources
"""
    at_body_start = """
frozen, before = gc.get_freeze_count(), set(sys.modules)
api = client.ApiClient()  # the services make their clients as their bodies start
KubeObjects(api), MongoDBResources(api), PodShell(api), CustomResources(api)
Collector(None, api, CollectorSettings.model_construct())
print(json.dumps({"frozen": frozen, "loadedLater": sorted(set(sys.modules) - before)}))
"""
    seen = seen_as_the_body_starts("dataplane-agent", prelude, at_body_start)
    assert seen["frozen"] > 100_000, "start-up's objects were left to the collector's full passes"
    assert [] == seen["loadedLater"]
