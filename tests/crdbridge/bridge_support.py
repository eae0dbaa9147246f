"""A control-plane cluster (the simulator, CRDs installed), a secured nats-server with the federation's intake, and
the crd-bridge running against both as its own bus user: what the bridge's tests drive."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes.aio import client
from nats.aio.msg import Msg

from fedstate.bus.connection import Bus
from fedstate.bus.identities import Component, Identity
from fedstate.bus.names import intake_subject
from fedstate.cli.memberaccess import rbac_documents, service_account
from fedstate.sealing import KeyRing
from fedstate_crdbridge.__main__ import body
from fedstate_crdbridge.settings import BridgeSettings
from fedstate_federation.intake import serve_intake
from fedstate_federation.vault import Vault
from fedstate_sim.config import SimSettings, default_config
from fedstate_sim.kube.tokens import ADMIN_TOKEN
from fedstate_sim.world import NullMemberHost, World
from tests.conftest import SecuredNats, example, register_clusters
from tests.sealed_intake import federation_public_keys
from tests.sim.kube_support import eventually

# One federation key for every test: the intake of one test reads what the intake of another sealed (a shared bus).
FEDERATION_VAULT = Vault(KeyRing.generate())

CRDS = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "crds.yaml"
BRIDGE_MANIFEST = CRDS.parent / "crd-bridge.yaml"
GROUP, VERSION = "middleware.fedstate.io", "v1alpha1"
CONTEXT = "member-1"  # the one simulated cluster, standing for the control-plane cluster


@dataclass
class Bridged:
    """Everything a test looks at: the cluster's API, the bus as the admin, the intake requests seen."""

    api: client.ApiClient
    admin: Bus
    kubeconfig: Path
    secured: SecuredNats
    world: World
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def federation_public_keys(self) -> Path:
        """What the bridge, or another writer on the bus, seals a request's secrets to."""
        return federation_public_keys(FEDERATION_VAULT, self.kubeconfig.parent)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    async def get(self, plural: str, name: str, namespace: str = "default") -> dict[str, Any] | None:
        try:
            return dict(await self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name))
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    async def until(
        self, plural: str, name: str, check: Any, timeout: float = 20, namespace: str = "default"
    ) -> dict[str, Any]:
        """The custom resource once ``check(it)`` holds."""

        async def look() -> dict[str, Any] | None:
            found = await self.get(plural, name, namespace)
            return found if found is not None and check(found) else None

        return await eventually(look, timeout)

    @asynccontextmanager
    async def bridge(self, namespaces: list[str] | None = None) -> AsyncIterator[None]:
        """The crd-bridge, connected as ``crd-bridge``, until the block ends."""
        bus = await self.secured.connect(Identity(Component.CRD_BRIDGE))
        settings = BridgeSettings(
            kubeconfig=self.kubeconfig,
            kube_context=CONTEXT,
            namespaces=namespaces or [],
            federation_public_key_file=self.federation_public_keys,
        )
        async with AsyncExitStack() as stack:
            stack.push_async_callback(bus.close)
            task = asyncio.ensure_future(body(bus, stack, settings))
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


@asynccontextmanager
async def control_plane(secured: SecuredNats, tmp_path: Path, watch_history: int = 5_000) -> AsyncIterator[Bridged]:
    """``watch_history``: the changes the cluster keeps for watches that resume; older positions are 410 Gone."""
    admin = await secured.connect(Identity(Component.ADMIN), create_layout=True)
    federation = await secured.connect(Identity(Component.FEDERATION))
    await register_clusters(admin)
    intake = await serve_intake(federation, FEDERATION_VAULT)
    requests: list[dict[str, Any]] = []

    async def seen_request(msg: Msg) -> None:
        requests.append(json.loads(msg.data))

    seen = await admin.nc.subscribe(intake_subject(), cb=seen_request)
    config = default_config(1, SimSettings(watchHistory=watch_history))
    async with World(config, host=NullMemberHost()) as world:
        configuration = client.Configuration(host=world.clusters[CONTEXT].api_url)
        configuration.api_key = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        async with client.ApiClient(configuration) as api:
            for crd in yaml.safe_load_all(CRDS.read_text()):
                await client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
            token = await bridge_token(api)
            kubeconfig = world.write_kubeconfig(tmp_path / "kubeconfig")
            as_bridge = yaml.safe_load(kubeconfig.read_text())
            as_bridge["users"] = [{"name": "crd-bridge", "user": {"token": token}}]
            for context in as_bridge["contexts"]:
                context["context"]["user"] = "crd-bridge"
            kubeconfig.write_text(yaml.safe_dump(as_bridge))
            bridged = Bridged(api, admin, kubeconfig, secured, world, requests)
            try:
                yield bridged
            finally:
                await seen.unsubscribe()
                await intake.unsubscribe()
                await federation.close()
                await admin.close()


async def bridge_token(api: client.ApiClient) -> str:
    """Apply the RBAC of deploy/k8s/crd-bridge.yaml and return a token of its ServiceAccount: the bridge under
    test lives with exactly the permissions the manifest grants."""
    documents = rbac_documents(BRIDGE_MANIFEST)
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    create = {
        "Namespace": lambda d: core.create_namespace(d),
        "ServiceAccount": lambda d: core.create_namespaced_service_account(d["metadata"]["namespace"], d),
        "ClusterRole": lambda d: rbac.create_cluster_role(d),
        "ClusterRoleBinding": lambda d: rbac.create_cluster_role_binding(d),
    }
    for document in documents:
        await create[document["kind"]](document)
    namespace, name = service_account(documents)
    request = {"spec": {"audiences": [], "expirationSeconds": 3600}}
    answer = await core.create_namespaced_service_account_token(name, namespace, request)
    return str(answer.status.token)


def sample(kind: str = "multicloudmongodb") -> dict[str, Any]:
    return example({"multicloudmongodb": "MultiCloudMongoDB", "mongodb": "MongoDB"}[kind])
