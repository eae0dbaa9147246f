# The official client types its methods as taking models, while it accepts plain dict bodies at runtime.
# mypy: disable-error-code="arg-type"
"""A member cluster without the ``MongoDB`` CRD costs the agent (almost) nothing: its watch asks again after
a pause that doubles, on the agent's one client. Once the CRD is installed, the agent's watch of that one
definition ends the pause at once: a new ``MongoDB`` reaches the agent in well under a second, not after the
rest of a pause that grows to a minute (the single-cluster end-to-end test waited up to 40 s for it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml
from kubernetes.aio import client
from prometheus_client.parser import text_string_to_metric_families

from fedstate_agent.customresources import GROUP, PLURAL, VERSION, MongoDBResources
from fedstate_sim.config import default_config
from fedstate_sim.kube.tokens import ADMIN_TOKEN
from fedstate_sim.world import NullMemberHost, World

CRDS = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "crds.yaml"


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[str, client.ApiClient]]:
    async with World(default_config(1), host=NullMemberHost()) as world:
        url = world.clusters["member-1"].api_url
        configuration = client.Configuration(host=url)
        configuration.api_key = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        async with client.ApiClient(configuration) as api:
            yield url, api


async def lists_of_mongodbs(url: str) -> int:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{url}/metrics")).text
    return sum(
        int(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "apiserver_request_total" and sample.labels.get("resource") == PLURAL
    )


@pytest.mark.timeout(60)
async def test_an_absent_crd_is_asked_for_rarely_and_followed_once_installed(
    cluster: tuple[str, client.ApiClient],
) -> None:
    url, api = cluster
    seen: list[tuple[str, str]] = []
    following = asyncio.ensure_future(MongoDBResources(api).follow(lambda ns, name: seen.append((ns, name))))
    try:
        await asyncio.sleep(3.5)
        # Tries at 0, 1, 3 s and then 7 s: a fixed 1 s retry would have asked 4 times, a hot loop hundreds.
        assert await lists_of_mongodbs(url) <= 3
        extensions = client.ApiextensionsV1Api(api)
        for crd in yaml.safe_load_all(CRDS.read_text()):
            await extensions.create_custom_resource_definition(crd)
        mongodb = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "MongoDB", "metadata": {"name": "solo"}}
        mongodb["spec"] = {"members": 1}
        await client.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, mongodb)
        for _ in range(15):  # the next try after the pause would be at 7 s
            if ("default", "solo") in seen:
                break
            await asyncio.sleep(0.1)
        assert ("default", "solo") in seen, "the CRD's arrival ends the pause"
    finally:
        following.cancel()
