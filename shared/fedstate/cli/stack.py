"""``fedstate up``: NATS, the simulator, per-cluster collector and agent, scheduler, federation, gateway.

Every start is recorded in ``.fedstate/state.json`` at once, so a failure half-way (or a
later ``fedstate down``) stops exactly what was started.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fedstate.bus.access import BusAccess, seed_path
from fedstate.bus.connection import bootstrap_layout, connect
from fedstate.bus.credentials import write_leaf_node_config, write_leaf_node_users, write_server_config
from fedstate.bus.identities import Component, Identity, every_identity
from fedstate.bus.names import DEFAULT_TENANT, LeaseHolder, lease_key
from fedstate.models.cluster import ClusterHealth
from fedstate.natsserver import (
    ClusterPeer,
    Hub,
    NatsServer,
    cluster_peers,
    free_port,
    start_leaf_node,
    start_nats_server,
    wait_for_jetstream,
)
from fedstate.sealing import ensure_key_file, write_public_keys

from .client import Gateway, stack_gateway
from .errors import CliError
from .memberaccess import grant_member_access, install_crds
from .processes import Launch, exited, log_tail, spawn, stop
from .prometheus import is_ready, prometheus_launch
from .records import ClusterRecord, NatsPeerRecord, ProcessRecord, StackState, load_state, save_state
from .simulator import SimOptions, SimReady, launch, read_ready
from .state import DEFAULT_API_PORT, StackPaths, Tier, forget_state, start_ticks

API_HOST = "127.0.0.1"


@dataclass(frozen=True)
class UpOptions:
    sim: SimOptions = field(default_factory=SimOptions)
    api_port: int = DEFAULT_API_PORT
    ready_timeout: float = 120.0
    # Simulated clusters whose collectors (and agents) share one process: a process per cluster costs about
    # 100 MB and a second of CPU to start, which 50 or 100 simulated clusters on one machine cannot afford.
    clusters_per_process: int = 1
    # Also run Prometheus against the stack, with the shipped alert rules (``fedstate.cli.prometheus``).
    with_prometheus: bool = False
    # Processes of each central service (scheduler, federation, gateway): one leads, the others stand by (0013).
    replicas: int = 1
    # NATS servers: 1, or a cluster on loopback whose buckets and streams have ``stream_replicas`` copies.
    nats_servers: int = 1
    # A NATS leaf node per member cluster, which its collector and agent connect to (decision 0022).
    leaf_nodes: bool = False


def refuse_if_running(paths: StackPaths) -> None:
    state = load_state(paths)
    if state is not None and state.running():
        raise CliError(
            f"a fedstate stack from ./{paths.root.name} is already running (gateway {state.api_url}) — "
            "run `fedstate down` first"
        )


def check_port_free(port: int, host: str = API_HOST) -> None:
    with socket.socket() as sock:
        # As uvicorn binds: SO_REUSEADDR, so a port in TIME_WAIT from an earlier stack counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise CliError(f"port {port} on {host} is already in use — choose another with --api-port") from None


@dataclass(frozen=True)
class ServiceSpec:
    """One fedstate service process: its name, its module, and its place in the stop order."""

    name: str
    module: str
    tier: Tier


SCHEDULER = ServiceSpec("scheduler", "fedstate_scheduler", Tier.SCHEDULER)
FEDERATION = ServiceSpec("federation", "fedstate_federation", Tier.FEDERATION)
CONTROL_PLANE = (SCHEDULER, FEDERATION)
GATEWAY = ServiceSpec("gateway", "fedstate_gateway", Tier.GATEWAY)
# Asks the federation's intake, as the gateway does: stopped with it, before the federation.
CRD_BRIDGE = ServiceSpec("crd-bridge", "fedstate_crdbridge", Tier.GATEWAY)
CONTROL_PLANE_CONTEXT = "control-plane"
BRIDGE_MANIFEST = Path("deploy/k8s/crd-bridge.yaml")


def replica_of(service: ServiceSpec, index: int) -> ServiceSpec:
    """The ``index``-th process of a central service: ``scheduler``, then ``scheduler-2`` ... (one bus user)."""
    return service if index == 0 else ServiceSpec(f"{service.name}-{index + 1}", service.module, service.tier)


def member_services(clusters: list[str]) -> tuple[ServiceSpec, ...]:
    """The collector and the agent of these clusters: ``agent-member-1``, or ``agent-member-1..member-10`` for
    a process that serves several."""
    served = clusters[0] if len(clusters) == 1 else f"{clusters[0]}..{clusters[-1]}"
    return (
        ServiceSpec(f"collector-{served}", "fedstate_collector", Tier.COLLECTOR),
        ServiceSpec(f"agent-{served}", "fedstate_agent", Tier.AGENT),
    )


def pick_port(taken: set[int]) -> int:
    """A free loopback port that is none of ``taken`` (the stack's other ports); it joins ``taken``."""
    while (port := free_port(API_HOST)) in taken:
        pass
    taken.add(port)
    return port


def service_launch(
    nats_url: str, paths: StackPaths, service: ServiceSpec, taken: set[int], metrics: str | None = None, **extra: str
) -> Launch:
    """A fedstate service, with /metrics on a port of its own unless it serves them already at ``metrics``.

    The address is recorded, so ``up`` prints it and Prometheus finds it in ``.fedstate/``.
    """
    env = {
        "FEDSTATE_NATS_URL": nats_url,
        "FEDSTATE_NATS_CREDENTIALS": str(paths.nats_credentials),
        "FEDSTATE_SPANS_FILE": str(paths.spans / f"{service.name}.jsonl"),
        "FEDSTATE_REPLICA_NAME": service.name,
        **sealing_env(paths, service),
        **extra,
    }
    if metrics is None:
        port = pick_port(taken)
        env["FEDSTATE_METRICS_PORT"] = str(port)
        metrics = f"http://{API_HOST}:{port}/metrics"
    return Launch.module(service.name, service.module, env=env, tier=service.tier, metrics_url=metrics)


def sealing_env(paths: StackPaths, service: ServiceSpec) -> dict[str, str]:
    """Where a service keeps its sealing key ring (only the federation reads its own, only agents theirs), and every other
    service finds the federation's public keys."""
    if service.module == FEDERATION.module:  # every replica of it
        return {"FEDSTATE_FEDERATION_KEY_FILE": str(paths.federation_key)}
    # Agents trust the federation's public keys; the gateway and the crd-bridge seal intake requests' secrets to them.
    public_keys = {"FEDSTATE_FEDERATION_PUBLIC_KEY_FILE": str(paths.federation_public_keys)}
    if service.tier == Tier.AGENT:
        return {"FEDSTATE_SEALING_KEY_DIR": str(paths.cluster_keys), **public_keys}
    return public_keys


NATS_SERVER = "nats-server"
MAX_REPLICAS = 3
# The hub's JetStream domain with --leaf-nodes, as deploy/k8s/nats.yaml names it.
LEAF_DOMAIN = "hub"


def stream_replicas(servers: int) -> int:
    """R3 on a cluster of three or more servers (deploy/k8s/nats.yaml's production layout: any one server may be
    lost); on a smaller one every server holds a copy, since JetStream refuses more replicas than servers."""
    return min(MAX_REPLICAS, servers)


def launch_nats(paths: StackPaths, port: int, peer: ClusterPeer | None = None) -> tuple[NatsServer, ProcessRecord]:
    """The stack's nats-server on ``port``, with its store and users (its configuration written already); with
    ``peer``, one server of the stack's NATS cluster, with a store of its own."""
    name = NATS_SERVER if peer is None else peer.name
    store = paths.nats_store if peer is None else paths.nats_store / peer.name
    log = paths.log(name)
    server = start_nats_server(store, port, log, new_session=True, config=paths.nats_config, peer=peer)
    pid = server.process.pid
    return server, ProcessRecord(name=name, pid=pid, tier=Tier.BUS, start_ticks=start_ticks(pid), log=str(log))


def recorded_peers(state: StackState) -> dict[str, tuple[ClusterPeer, int]]:
    """The NATS cluster's servers as ``state.json`` records them: each one's peer and client port, by name."""
    routes = tuple(p.cluster_port for p in state.nats_peers)
    return {p.name: (ClusterPeer(p.name, p.cluster_port, routes, p.monitor_port), p.port) for p in state.nats_peers}


class Stack:
    """The processes of one local stack, as they are started."""

    def __init__(self, paths: StackPaths, api_port: int) -> None:
        self.paths = paths
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: set[int] = {api_port}
        self.state = StackState(
            api_url=f"http://{API_HOST}:{api_port}",
            nats_url="",
            kubeconfig=str(paths.kubeconfig),
            log_dir=str(paths.logs),
        )

    def _record(self, process: subprocess.Popen[bytes], record: ProcessRecord) -> None:
        self.processes[record.name] = process
        self.state.processes.append(record)
        save_state(self.paths, self.state)

    def start(self, launch: Launch) -> None:
        self._record(*spawn(launch, self.paths.log(launch.name)))

    def start_service(self, service: ServiceSpec, metrics: str | None = None, **extra: str) -> None:
        self.start(service_launch(self.state.nats_url, self.paths, service, self.ports, metrics, **extra))

    def start_nats(self, clusters: list[str], servers: int = 1, leaf_nodes: bool = False) -> None:
        """NATS (one server, or a cluster of ``servers``) with a user per service and per member cluster's service
        (docs/security.md); then the admin creates the buckets and streams, which the services only use. With
        ``leaf_nodes``, the one server is a hub whose JetStream has a domain, and each cluster gets a leaf node."""
        # With a platform user for the default tenant: a platform may submit on its intake with that seed.
        identities = every_identity(clusters, platform_tenants=(DEFAULT_TENANT,))
        if leaf_nodes:
            # The hub's configuration, kept in the stack's, so that a restart brings back the same hub.
            write_server_config(self.paths.nats_users, self.paths.nats_credentials, identities, domain=LEAF_DOMAIN)
            hub = Hub(LEAF_DOMAIN, pick_port(self.ports))
            self.paths.nats_config.write_text(hub.config(self.paths.nats_users, self.paths.root))
        else:
            write_server_config(self.paths.nats_config, self.paths.nats_credentials, identities)
        peers: list[ClusterPeer] = []
        if servers == 1:
            server, record = launch_nats(self.paths, pick_port(self.ports))
            self.state.nats_url = server.url
            self._record(server.process, record)
        else:
            peers = self._start_nats_cluster(servers)
        access = BusAccess(self.paths.nats_credentials)
        asyncio.run(bootstrap_layout(self.state.nats_url, access, stream_replicas(servers)))
        # Every server current in every new stream's group before the services create their watches: JetStream puts
        # a watch's consumer on any of a stream's three servers, and it reads that server's copy.
        wait_for_jetstream(peers)
        write_public_keys(ensure_key_file(self.paths.federation_key), self.paths.federation_key)
        if leaf_nodes:
            for cluster in clusters:
                self._start_leaf_node(cluster, hub)
            self.state.jetstream_domain = LEAF_DOMAIN

    def _start_leaf_node(self, cluster: str, hub: Hub) -> None:
        """``cluster``'s leaf node, linked to ``hub`` as ``leaf-<cluster>``, its agent and collector its users."""
        directory = self.paths.leaf_node(cluster)
        directory.mkdir(mode=0o700, parents=True)
        leaf, credentials = Identity(Component.LEAF, cluster), self.paths.nats_credentials
        write_leaf_node_users(directory / "users.conf", credentials, leaf, LEAF_DOMAIN)
        seed = seed_path(credentials, leaf)
        write_leaf_node_config(directory / "leaf.conf", directory / "users.conf", [hub.leaf_node_url], seed)
        log = self.paths.log(f"nats-{leaf.user}")
        server = start_leaf_node(directory / "leaf.conf", pick_port(self.ports), log, new_session=True)
        pid = server.process.pid
        record = ProcessRecord(
            name=f"nats-{leaf.user}", pid=pid, tier=Tier.BUS, start_ticks=start_ticks(pid), log=str(log)
        )
        self._record(server.process, record)
        self.state.leaf_node_urls[cluster] = server.url

    def _start_nats_cluster(self, servers: int) -> list[ClusterPeer]:
        peers = cluster_peers(servers, lambda: pick_port(self.ports))
        urls = []
        for peer in peers:
            port = pick_port(self.ports)
            self.state.nats_peers.append(
                NatsPeerRecord(
                    name=peer.name, port=port, cluster_port=peer.cluster_port, monitor_port=peer.monitor_port
                )
            )
            server, record = launch_nats(self.paths, port, peer)
            urls.append(server.url)
            self._record(server.process, record)
        self.state.nats_url = ",".join(urls)
        wait_for_jetstream(peers)
        return peers

    def check_alive(self) -> None:
        """``CliError`` naming the first process that exited, with the end of its log."""
        for name, code in exited(self.processes):
            log = self.paths.log(name)
            raise CliError(f"{name} exited with code {code} during start-up; the end of {log}:\n{log_tail(log)}")

    def stop(self, timeout: float = 10.0) -> tuple[list[str], list[str]]:
        return stop(self.state.processes, timeout)


def _wait(what: str, ready: Callable[[], bool], stack: Stack, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        stack.check_alive()
        if time.monotonic() > deadline:
            raise CliError(f"timed out after {timeout:g}s waiting for {what}; logs are in {stack.paths.logs}")
        time.sleep(0.2)


def _start_simulator(stack: Stack, options: SimOptions, timeout: float) -> SimReady:
    stack.paths.sim_ready.unlink(missing_ok=True)
    stack.start(launch(options, stack.paths))
    _wait("the simulator's ready file", stack.paths.sim_ready.exists, stack, timeout)
    ready = read_ready(stack.paths.sim_ready)
    stack.state.sim_control_url = ready.control_url
    stack.state.clusters = ready.clusters
    return ready


def member_env(paths: StackPaths, clusters: list[str], state: StackState | None = None) -> dict[str, str]:
    """The settings of member-cluster services in the local stack: each cluster's kube context is its name, with
    the token of the ServiceAccount deploy/k8s/member-cluster.yaml defines (``grant_member_access``); with leaf
    nodes in ``state``, the cluster's leaf node and the hub's JetStream domain."""
    env = {
        "FEDSTATE_CLUSTER": clusters[0],
        "FEDSTATE_KUBECONFIG": str(paths.member_kubeconfig),
        "FEDSTATE_KUBE_CONTEXT": clusters[0],
    }
    if len(clusters) > 1:
        env["FEDSTATE_HOSTED_CLUSTERS"] = json.dumps(clusters[1:])
    if state is not None and state.jetstream_domain is not None:
        env["FEDSTATE_NATS_URL"] = state.leaf_node_urls[clusters[0]]
        env["FEDSTATE_NATS_JETSTREAM_DOMAIN"] = state.jetstream_domain
    return env


def bridge_env(paths: StackPaths) -> dict[str, str]:
    """The crd-bridge's settings in the local stack: the control-plane cluster's context, with the token of the
    ServiceAccount deploy/k8s/crd-bridge.yaml defines."""
    return {"FEDSTATE_KUBECONFIG": str(paths.bridge_kubeconfig), "FEDSTATE_KUBE_CONTEXT": CONTROL_PLANE_CONTEXT}


def _prepare_control_plane(paths: StackPaths) -> None:
    """The CRDs and the crd-bridge's RBAC in the simulated control-plane cluster."""
    install_crds(paths.kubeconfig, CONTROL_PLANE_CONTEXT)
    grant_member_access(paths.kubeconfig, [CONTROL_PLANE_CONTEXT], paths.bridge_kubeconfig, BRIDGE_MANIFEST)


def _start_member_services(stack: Stack, clusters: list[ClusterRecord], per_process: int) -> None:
    names = [c.name for c in clusters]
    for group in (names[i : i + per_process] for i in range(0, len(names), per_process)):
        for service in member_services(group):
            stack.start_service(service, **member_env(stack.paths, group, stack.state))


def gateway_env(paths: StackPaths, port: int) -> dict[str, str]:
    """A gateway's settings in the stack: its API on loopback ``port``, the stack's API tokens."""
    return {
        "FEDSTATE_API_HOST": API_HOST,
        "FEDSTATE_API_PORT": str(port),
        "FEDSTATE_TOKENS_FILE": str(paths.api_tokens),
    }


def _start_control_plane(stack: Stack, api_port: int, replicas: int = 1) -> None:
    """Each central service, ``replicas`` times; the first gateway answers on ``api_port``, the others on ports
    of their own (any of them serves the same API)."""
    for index in range(replicas):
        for service in CONTROL_PLANE:
            stack.start_service(replica_of(service, index))
    for index in range(replicas):
        port = api_port if index == 0 else pick_port(stack.ports)
        metrics = f"http://{API_HOST}:{port}/metrics"
        stack.start_service(replica_of(GATEWAY, index), metrics=metrics, **gateway_env(stack.paths, port))
    if (stack.paths.bridge_kubeconfig).exists():
        stack.start_service(CRD_BRIDGE, **bridge_env(stack.paths))


def _all_clusters_ready(client: Gateway, names: set[str]) -> bool:
    if not client.healthy():
        return False
    try:
        ready = {c.name for c in client.clusters().items if c.health == ClusterHealth.READY}
    except CliError:
        return False
    return names <= ready


def _all_agents_heard(nats_url: str, access: BusAccess, names: set[str]) -> bool:
    """Has every cluster's agent renewed its lease, with the key the federation seals its credentials to?

    A cluster is Ready once its collector reports it; its agent, a separate process with more to load, may come
    later. Until its lease names a key, the orchestrator writes no spec for that cluster, and a create applied
    the moment ``fedstate up`` returned reached its clusters in two passes."""

    async def heard() -> bool:
        admin = Identity(Component.ADMIN) if access.credentials is not None else None
        bus = await connect(nats_url, name="fedstate-up", identity=admin, access=access, create_layout=False)
        try:
            leases = await asyncio.gather(*(bus.leases.get(lease_key(LeaseHolder.AGENT, name)) for name in names))
        finally:
            await bus.close()
        return all(lease is not None and lease.value.public_key for lease in leases)

    return asyncio.run(heard())


def _fresh_directory(paths: StackPaths) -> None:
    """A new stack starts from empty buckets: the simulated clusters it will meet are new too."""
    shutil.rmtree(paths.nats_store, ignore_errors=True)
    shutil.rmtree(paths.nats_credentials, ignore_errors=True)  # new keys for every new stack
    shutil.rmtree(paths.federation_key.parent, ignore_errors=True)
    shutil.rmtree(paths.spans, ignore_errors=True)
    paths.bridge_kubeconfig.unlink(missing_ok=True)
    for log in paths.logs.glob("*.log"):
        log.unlink()
    paths.logs.mkdir(parents=True, exist_ok=True)


def issue_local_admin_token(paths: StackPaths) -> None:
    """An admin token for the local user, kept in ``.fedstate/token`` (mode 0600), which the CLI sends."""
    from fedstate.tokens import Role, issue

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = "user"
    _, token = issue(paths.api_tokens, DEFAULT_TENANT, Role.ADMIN, f"{user}@local")
    descriptor = os.open(paths.token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(f"{token}\n")


def bring_up(paths: StackPaths, options: UpOptions, progress: Callable[[str], None] = lambda _: None) -> Stack:
    """Start everything and wait until the gateway answers, every simulated cluster is Ready and its agent has
    published its key."""
    refuse_if_running(paths)
    check_port_free(options.api_port)
    if options.leaf_nodes and (options.nats_servers != 1 or options.clusters_per_process != 1):
        # A process serving several clusters has one bus connection per cluster, each to its own leaf: not here.
        raise CliError("--leaf-nodes runs with one nats-server and one cluster per process only")
    _fresh_directory(paths)
    issue_local_admin_token(paths)
    stack = Stack(paths, options.api_port)
    try:
        progress("starting the simulator")
        ready = _start_simulator(stack, options.sim, options.ready_timeout)
        servers = "nats-server" if options.nats_servers == 1 else f"a cluster of {options.nats_servers} nats-servers"
        progress(f"starting {servers}, with a user per service and per member cluster; creating the buckets")
        stack.start_nats([c.name for c in ready.clusters], options.nats_servers, options.leaf_nodes)
        progress("applying the member clusters' RBAC (deploy/k8s/member-cluster.yaml)")
        grant_member_access(paths.kubeconfig, [c.name for c in ready.clusters], paths.member_kubeconfig)
        if CONTROL_PLANE_CONTEXT in ready.control_planes:
            progress("installing the CRDs and the crd-bridge's RBAC in the control-plane cluster")
            _prepare_control_plane(paths)
        progress(f"starting collector and agent for {len(ready.clusters)} clusters, scheduler, federation, gateway")
        _start_member_services(stack, ready.clusters, options.clusters_per_process)
        _start_control_plane(stack, options.api_port, options.replicas)
        client, names = stack_gateway(paths, stack.state.api_url, timeout=5), {c.name for c in ready.clusters}
        progress("waiting for the gateway, for every cluster to be Ready and for its agent's key")
        _wait("every cluster to be Ready", lambda: _all_clusters_ready(client, names), stack, options.ready_timeout)
        _wait(
            "every cluster's agent",
            lambda: _all_agents_heard(stack.state.nats_url, BusAccess(paths.nats_credentials), names),
            stack,
            options.ready_timeout,
        )
        if options.with_prometheus:
            progress("starting Prometheus with the alert rules of deploy/prometheus/")
            _start_prometheus(stack, options.ready_timeout)
    except BaseException:
        stack.stop()
        forget_state(paths)
        raise
    _fill_vips(stack, client)
    stack.state.started_at = datetime.now(UTC)
    save_state(paths, stack.state)
    return stack


def _start_prometheus(stack: Stack, timeout: float) -> None:
    port = pick_port(stack.ports)
    stack.start(prometheus_launch(stack.paths, port, API_HOST))
    stack.state.prometheus_url = f"http://{API_HOST}:{port}"
    _wait("Prometheus to be ready", lambda: is_ready(stack.state.prometheus_url), stack, timeout)


def _fill_vips(stack: Stack, client: Gateway) -> None:
    vips = {c.name: c.vip for c in client.clusters().items}
    for cluster in stack.state.clusters:
        cluster.vip = cluster.vip or vips.get(cluster.name, "")


def bring_down(paths: StackPaths, timeout: float = 10.0) -> tuple[list[str], list[str]] | None:
    """Stop every process ``up`` recorded; None when there was no stack."""
    state = load_state(paths)
    if state is None:
        return None
    stopped = stop(state.processes, timeout)
    forget_state(paths)
    return stopped
