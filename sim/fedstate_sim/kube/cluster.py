"""One simulated member cluster: store + admission + controllers + its HTTP listener on the VIP."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from fedstate_sim.config import SIMULATOR_BANNER, ClusterConfig, SimSettings
from fedstate_sim.kube.bootstrap import bootstrap
from fedstate_sim.kube.claims import ClaimAdmission
from fedstate_sim.kube.configdata import ConfigMapAdmission, SecretAdmission
from fedstate_sim.kube.context import ClusterContext
from fedstate_sim.kube.controllers.base import Controller
from fedstate_sim.kube.controllers.crdcleanup import CrdCleanup
from fedstate_sim.kube.controllers.garbage import GarbageCollector
from fedstate_sim.kube.controllers.kubelet import Kubelet
from fedstate_sim.kube.controllers.members import MemberController
from fedstate_sim.kube.controllers.namespaces import NamespaceSeeds
from fedstate_sim.kube.controllers.pvcprotection import PvcProtection
from fedstate_sim.kube.controllers.quotas import QuotaController
from fedstate_sim.kube.controllers.scheduler import Scheduler
from fedstate_sim.kube.controllers.statefulset import StatefulSetController
from fedstate_sim.kube.controllers.volumes import VolumeBinder
from fedstate_sim.kube.crds import CrdAdmission
from fedstate_sim.kube.defaults import ImmutableData, NamespaceDefaults, StatefulSetDefaults
from fedstate_sim.kube.events import EventRecorder
from fedstate_sim.kube.http_api import KubeApi
from fedstate_sim.kube.limitranges import LimitRangeObject, LimitRangerBounds, LimitRangerDefaults
from fedstate_sim.kube.meta import Clock
from fedstate_sim.kube.podexec import PodExec
from fedstate_sim.kube.pods import PodAdmission
from fedstate_sim.kube.quotas import CLAIM_EVALUATOR, POD_EVALUATOR, QuotaAdmission, QuotaStatus
from fedstate_sim.kube.rbac import CLUSTERROLEBINDINGS, RBAC_TYPES, ROLEBINDINGS, BindingAdmission
from fedstate_sim.kube.resources import (
    CONFIGMAPS,
    CRDS,
    LIMITRANGES,
    NAMESPACES,
    PODS,
    PVCS,
    RESOURCEQUOTAS,
    SECRETS,
    SERVICES,
    STATEFULSETS,
    Registry,
)
from fedstate_sim.kube.server import Listener
from fedstate_sim.kube.services import ServiceAdmission
from fedstate_sim.kube.store import ObjectStore
from fedstate_sim.kube.tokens import Guard, bootstrap_policy
from fedstate_sim.mongo.api import MemberHost

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _simulator_header(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:
        response.headers["X-Fedstate-Simulator"] = SIMULATOR_BANNER
    return response


class SimCluster:
    def __init__(
        self, config: ClusterConfig, settings: SimSettings, host: MemberHost, clock: Clock | None = None
    ) -> None:
        assert config.vip is not None
        self.config = config
        self.store = ObjectStore(Registry.with_builtins(), settings.watch_history, clock)
        for rtype in RBAC_TYPES:
            self.store.registry.add(rtype)
        self.ctx = ClusterContext(config, settings, self.store, EventRecorder(self.store, config.vip), host)
        self._install_admission()
        self.members = MemberController(self.ctx)
        self.controllers: list[Controller] = [
            GarbageCollector(self.ctx),
            CrdCleanup(self.ctx),
            NamespaceSeeds(self.ctx),
            StatefulSetController(self.ctx),
            VolumeBinder(self.ctx),
            PvcProtection(self.ctx),
            QuotaController(self.ctx),
            Scheduler(self.ctx),
            Kubelet(self.ctx, self.members.runs_for),
            self.members,
        ]
        self.exec = PodExec(self.store, host, self.members.member_of)
        self.guard = Guard(self.store)
        self.api = KubeApi(self.store, lambda: f"{self.vip}:{self.listener.port}", self.exec.handle, self.guard)
        self.listener = Listener(config.vip, self._make_app)
        bootstrap(self.store, config)
        bootstrap_policy(self.store)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def vip(self) -> str:
        assert self.config.vip is not None
        return self.config.vip

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def api_url(self) -> str:
        return f"http://{self.vip}:{self.listener.port}"

    @property
    def down(self) -> bool:
        return self.ctx.down

    def _install_admission(self) -> None:
        store, clock = self.store, self.store.clock
        store.add_admission(NAMESPACES.resource, NamespaceDefaults())
        # LimitRanger's defaults before the Pod's own hook: kube's mutating admission runs before validation.
        store.add_admission(PODS.resource, LimitRangerDefaults(store))
        store.add_admission(PODS.resource, PodAdmission())
        store.add_admission(STATEFULSETS.resource, StatefulSetDefaults())
        store.add_admission(PVCS.resource, ClaimAdmission(store))
        store.add_admission(SERVICES.resource, ServiceAdmission(self.vip, seed=self.name))
        store.add_admission(CRDS.resource, CrdAdmission(store, clock))
        store.add_admission(CONFIGMAPS.resource, ConfigMapAdmission())
        store.add_admission(CONFIGMAPS.resource, ImmutableData())
        store.add_admission(SECRETS.resource, SecretAdmission())
        store.add_admission(SECRETS.resource, ImmutableData())
        for bindings in (ROLEBINDINGS, CLUSTERROLEBINDINGS):
            store.add_admission(bindings.resource, BindingAdmission())
        store.add_admission(RESOURCEQUOTAS.resource, QuotaStatus(store))
        store.add_admission(LIMITRANGES.resource, LimitRangeObject())
        # Last for their kinds, kube's validating plugins in its order: LimitRanger, then ResourceQuota, so a pod or
        # claim is charged (its defaults included) only once everything else has accepted it.
        for rtype in (PODS, PVCS):
            store.add_admission(rtype.resource, LimitRangerBounds(store))
        for evaluator in (POD_EVALUATOR, CLAIM_EVALUATOR):
            store.add_admission(evaluator.rtype.resource, QuotaAdmission(store, evaluator))

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[_simulator_header], client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.api.handle)
        return app

    async def start(self) -> None:
        for controller in self.controllers:
            controller.start()
        await self.listener.open()
        log.info("fedstate simulator: cluster %s serving the Kubernetes API at %s", self.name, self.api_url)

    async def fail(self) -> None:
        """Connection refused from now on; its mongod members go down."""
        if self.down:
            return
        self.members.set_down(True)
        self.store.close_watchers()
        await self.listener.close(reserve=True)
        log.warning("fedstate simulator: cluster %s FAILED (API %s refuses connections)", self.name, self.api_url)

    async def recover(self) -> None:
        if not self.down:
            return
        await self.listener.open()
        self.members.set_down(False)
        log.warning("fedstate simulator: cluster %s recovered (API back at %s)", self.name, self.api_url)

    def kill_pod(self, namespace: str, pod: str) -> None:
        self.store.delete(PODS, namespace, pod, grace_seconds=0)  # a crash: no SIGTERM, no grace period

    async def close(self) -> None:
        self.store.close_watchers()
        await self.listener.close(reserve=False)
        for controller in self.controllers:
            await controller.stop()
        try:
            await self.members.stop_all()
        except Exception:
            log.exception("fedstate simulator: stopping members of %s failed", self.name)
